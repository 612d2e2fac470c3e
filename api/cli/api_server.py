"""``plait api [--host HOST] [--port PORT]``: serve the HTTP API with uvicorn.

Only the API: no worker and no trigger engine (``plait serve`` runs everything in one
process). The settings come from ``PLAIT_*`` and ``.env`` as everywhere else; the database is
opened, and migrated when ``PLAIT_MIGRATE_ON_START`` is on, by the app's lifespan.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

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
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return EXIT_OK


async def _check_keys(settings: Settings) -> None:
    async with open_database(settings):
        await open_secret_box(settings)
