"""``plait serve [--host HOST] [--port PORT]``: all of Plait in one process, on this machine.

The embedded default (DESIGN §5): the database is the SQLite file in ``PLAIT_DATA_DIR`` unless
``PLAIT_DATABASE_URL`` names another, migrated at start. The first start on a fresh database
creates the ``default`` tenant, an admin API key, and a published workflow for each spec of
the repository's ``examples/`` (``api.services.bootstrap``); the key is printed on stdout that
once and nowhere else. Every start then prints the URL it serves on, once it listens.

The API, an in-process worker and the scheduler share one event loop: sync runs execute in
their requests, async ones through taskiq's in-process broker (``worker.broker``), and the
scheduler's reaper and sweeper take up what a previous start left behind — runs it was
executing once their leases expire, queued runs once they are ``PLAIT_SWEEP_AFTER_S`` old.
With ``PLAIT_REDIS_URL`` set, async runs go to Redis instead, for ``plait worker`` processes
(docs/operations.md). The trigger engine will be one more task of this loop.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from api.app import create_app
from api.cli.database import open_database
from api.cli.errors import EXIT_FAILURE, EXIT_OK
from api.cli.settings import load_settings
from api.services.bootstrap import Bootstrap, SkippedExample, bootstrap, read_examples
from shared.config import Settings
from shared.crypto import open_secret_box
from workflow_compiler.registries.builtin import default_tool_registry

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
"""The repository's example specs. They are not packaged: an installed Plait has none and
loads none."""


def command(args: argparse.Namespace) -> int:
    """Set the database up if it is fresh, then serve until interrupted."""
    settings = load_settings()
    try:
        return asyncio.run(_serve(settings, host=args.host, port=args.port))
    except SystemExit:
        # uvicorn exits when its startup fails (port taken, database unusable), after
        # logging why on stderr.
        return EXIT_FAILURE


async def _serve(settings: Settings, *, host: str, port: int) -> int:
    tools = default_tool_registry()
    examples, skipped = (
        read_examples(EXAMPLES_DIR, tools=tools) if EXAMPLES_DIR.is_dir() else ([], [])
    )
    async with open_database(settings):
        await open_secret_box(settings)  # a wrong or missing key stops here, clearly
        setup = await bootstrap(examples=examples, tools=tools, at=datetime.now(UTC))
    _report(setup, skipped)
    app = create_app(settings, scheduler=True)
    app.state.tools = tools
    server = _AnnouncingServer(uvicorn.Config(app, host=host, port=port, log_level="info"))
    await server.serve()
    return EXIT_OK if server.started else EXIT_FAILURE


def _report(setup: Bootstrap, skipped: Sequence[SkippedExample]) -> None:
    """Show the new key (the only place it ever appears) and the examples, or how to make a
    key."""
    if setup.api_key is None:
        tenant = setup.tenant.name if setup.tenant is not None else "TENANT"
        print(f"Make an API key with: plait keys create --tenant {tenant} --role admin\n")
        return
    assert setup.tenant is not None
    print(
        f"Created tenant '{setup.tenant.name}' ({setup.tenant.id}) and its admin API key. "
        "It is shown only this once; store it now:\n"
        f"\n    {setup.api_key}\n"
    )
    if not EXAMPLES_DIR.is_dir():
        print(f"No examples directory at {EXAMPLES_DIR}: no example workflows loaded.")
    for example in skipped:
        print(f"Example {example.name} not loaded: {example.reason}")
    names = ", ".join(workflow.name for workflow in setup.workflows) or "none"
    print(f"Loaded {len(setup.workflows)} published example workflows: {names}\n")


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, printing the URL it serves on once it listens (port 0 included)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        print(f"Plait is serving on {_url(self.servers)} (Ctrl-C stops it)", flush=True)


def _url(servers: Sequence[asyncio.base_events.Server]) -> str:
    """``http://host:port`` of the first listening socket, IPv6 addresses in brackets."""
    host, port = servers[0].sockets[0].getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
