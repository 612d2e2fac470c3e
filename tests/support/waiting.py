"""Waiting for a condition another task or process brings about, with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(
    condition: Callable[[], Awaitable[bool]], *, what: str, timeout_s: float = 10.0
) -> None:
    """Check ``condition`` every 20 ms until it holds; fail the test, naming ``what``, when
    it still does not after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await condition():
        if loop.time() >= deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.02)
