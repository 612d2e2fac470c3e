"""``plait migrate [--database-url URL]``: bring the database's schema up to date.

Applies the migrations the database has not had and prints the name of each one applied, so
that an operator can run it before starting new processes (with ``PLAIT_MIGRATE_ON_START``
off) and see what changed. A database that cannot be reached is one line on stderr and exit
status 1.
"""

from __future__ import annotations

import argparse
import asyncio

from api.cli.errors import EXIT_OK
from api.cli.settings import load_settings
from shared.database import migrate


def command(args: argparse.Namespace) -> int:
    """Apply pending migrations to ``--database-url``, or to the configured database."""
    url = args.database_url or load_settings().database_url
    applied = asyncio.run(migrate(url))
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print("no migrations to apply: the database is up to date")
    return EXIT_OK
