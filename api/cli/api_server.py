"""``plait api [--host HOST] [--port PORT]``: serve the HTTP API with uvicorn.

Only the API: no worker and no trigger engine (``plait serve`` runs everything in one
process). The settings come from ``PLAIT_*`` and ``.env`` as everywhere else; the database is
opened, and migrated when ``PLAIT_MIGRATE_ON_START`` is on, by the app's lifespan.
"""

from __future__ import annotations

import argparse

import uvicorn

from api.app import create_app
from api.cli.errors import EXIT_OK
from api.cli.settings import load_settings


def command(args: argparse.Namespace) -> int:
    """Serve the API on ``args.host``:``args.port`` until interrupted."""
    app = create_app(load_settings())
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return EXIT_OK
