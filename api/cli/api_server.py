"""``plait api [--host HOST] [--port PORT]``: serve the HTTP API with uvicorn.

With ``PLAIT_REDIS_URL``, only the API: async runs go to ``plait worker`` processes and
``plait scheduler`` recovers lost ones. Without Redis the process executes its async runs
itself (the in-process broker), so it also runs the scheduler: otherwise the runs it was
executing when it stopped would never be taken up again. The settings come from ``PLAIT_*``
and ``.env`` as everywhere else; the database is opened, and migrated when
``PLAIT_MIGRATE_ON_START`` is on, by the app's lifespan.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.cli.database import open_database
from api.cli.errors import EXIT_OK
from api.cli.settings import load_settings
from shared.config import Settings
from shared.crypto import open_secret_box


def command(args: argparse.Namespace) -> int:
    """Serve the API on ``args.host``:``args.port`` until interrupted.

    The encryption keys are checked first, so a wrong or missing key is one clear line
    rather than a failed server start.
    """
    settings = load_settings()
    asyncio.run(_check_keys(settings))
    uvicorn.run(api_app(settings), host=args.host, port=args.port, log_level="info")
    return EXIT_OK


def api_app(settings: Settings) -> FastAPI:
    """The app ``plait api`` serves: with the scheduler when it is its own queue's worker."""
    return create_app(settings, scheduler=settings.redis_url is None)


async def _check_keys(settings: Settings) -> None:
    async with open_database(settings):
        await open_secret_box(settings)
