"""Running a long-lived command (``plait worker``, ``plait scheduler``) until it is stopped.

SIGTERM (what process managers send) and SIGINT (Ctrl-C) both cancel the command's main
coroutine, so its ``finally`` blocks run: runs in flight are stopped and their leases given up,
connections closed. Either way the command then exits 0: being stopped is how it ends.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

from api.cli.errors import UsageError
from api.cli.settings import load_settings
from shared.config import Settings


def redis_settings(command: str, *, instead: str) -> Settings:
    """The settings of a command that has nothing to do without Redis (its queue).

    Raises:
        UsageError: ``PLAIT_REDIS_URL`` is not set; the message says what does ``command``'s
            work ``instead`` in a single process.
    """
    settings = load_settings()
    if settings.redis_url is None:
        raise UsageError(f"plait {command} needs PLAIT_REDIS_URL: without Redis, {instead}")
    return settings


def run_until_stopped(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` until it returns or a SIGTERM/SIGINT stops it."""
    asyncio.run(_stoppable(main))


async def _stoppable(main: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
