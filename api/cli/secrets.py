"""``plait secrets new-key`` and ``plait secrets rotate [--db URL]``: the encryption keys of
stored secrets.

Rotating keys (docs/security.md): put a new key first in ``PLAIT_SECRET_KEYS`` and keep the
old one after it, run ``rotate`` to re-encrypt every secret under the new key, then remove the
old key. ``rotate`` opens the keys as a server starts (``open_secret_box``), so keys that
cannot decrypt every secret stop it before anything is written, but it never makes a key file:
with no key configured there is nothing to rotate to, and a key made by a command meant to
re-encrypt would only hide a wrong ``--db`` or data directory.
"""

from __future__ import annotations

import argparse
import asyncio

from api.cli.database import open_database
from api.cli.errors import EXIT_OK
from api.cli.settings import load_settings
from api.services.secrets import RotationReport, rotate_secrets
from shared.crypto import new_key, open_secret_box


def command(args: argparse.Namespace) -> int:
    """Carry out the ``secrets`` subcommand named by ``args.secrets_command``."""
    return _SUBCOMMANDS[args.secrets_command](args)


def _new_key(_args: argparse.Namespace) -> int:
    """Print a new key, alone on stdout so that it can be piped into a secret store."""
    print(new_key())
    return EXIT_OK


def _rotate(args: argparse.Namespace) -> int:
    """Re-encrypt every secret under the first key and say how many, and whether to run again
    because some changed meanwhile.

    Raises:
        SecretKeysError: the keys are malformed, missing (no key file is made), or miss a key
            some secret needs.
        DatabaseError: the database cannot be used.
    """
    report = asyncio.run(_rotate_all(args))
    print(
        f"re-encrypted {report.rotated} secret(s) under the first key; "
        f"{report.current} already were"
    )
    if report.changed_meanwhile:
        print(
            f"{report.changed_meanwhile} secret(s) changed while rotating and were left as "
            "written: run 'plait secrets rotate' again"
        )
    return EXIT_OK


async def _rotate_all(args: argparse.Namespace) -> RotationReport:
    settings = load_settings(args.db)
    async with open_database(settings):
        return await rotate_secrets(await open_secret_box(settings, create=False))


_SUBCOMMANDS = {"new-key": _new_key, "rotate": _rotate}
