"""``plait keys create --tenant T --role R [--name N] [--db URL]``: make an API key.

This is how the first key of a deployment comes to exist (there is no key yet to call the API
with). The tenant is named by id or by name and created when missing. The key is printed once,
alone on stdout so that it can be piped into a secret store; a warning on stderr says it will
not be shown again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from api.cli.database import open_database
from api.cli.errors import EXIT_OK, UsageError
from api.cli.settings import load_settings
from api.services import create_api_key, ensure_tenant
from shared.database.models import Role
from workflow_compiler.clock import SystemClock

DEFAULT_KEY_NAME = "created with plait keys create"


def command(args: argparse.Namespace) -> int:
    """Carry out the ``keys`` subcommand named by ``args.keys_command``."""
    return _SUBCOMMANDS[args.keys_command](args)


def _create(args: argparse.Namespace) -> int:
    """Create the key and print it.

    Raises:
        UsageError: the role is unknown or the tenant is empty.
        DatabaseError: the database cannot be used.
    """
    try:
        role = Role(args.role)
    except ValueError:
        roles = ", ".join(Role)
        raise UsageError(f"--role '{args.role}' is not a role; choose one of: {roles}") from None
    if not args.tenant.strip():
        raise UsageError("--tenant must not be empty")
    plaintext, tenant_id, created = asyncio.run(_create_key(args, role))
    print(plaintext)
    if created:
        print(f"created tenant '{args.tenant}' ({tenant_id})", file=sys.stderr)
    print(
        f"warning: this {role} key of tenant {tenant_id} is shown only once; store it now",
        file=sys.stderr,
    )
    return EXIT_OK


async def _create_key(args: argparse.Namespace, role: Role) -> tuple[str, str, bool]:
    """The key's plaintext, its tenant's id, and whether the tenant was created."""
    async with open_database(load_settings(args.db)):
        tenant, created = await ensure_tenant(args.tenant)
        _, plaintext = await create_api_key(
            tenant, role, name=args.name or DEFAULT_KEY_NAME, at=SystemClock().now()
        )
    return plaintext, tenant.id, created


_SUBCOMMANDS = {"create": _create}
