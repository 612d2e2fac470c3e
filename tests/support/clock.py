"""A virtual clock: sleeps and timeouts advance virtual time instantly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Implements ``workflow_compiler.clock.Clock`` without real waiting.

    ``sleep`` advances virtual time; inside ``timeout(s)`` a sleep that crosses the deadline
    advances to the deadline and raises ``TimeoutError``, as the real bound would.
    """

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []
        self._deadlines: list[float] = []

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        target = self.t + seconds
        if self._deadlines and min(self._deadlines) < target:
            self.t = min(self._deadlines)
            raise TimeoutError
        self.t = target
        await asyncio.sleep(0)

    @asynccontextmanager
    async def timeout(self, seconds: float | None) -> AsyncIterator[None]:
        if seconds is None:
            yield
            return
        deadline = self.t + seconds
        self._deadlines.append(deadline)
        try:
            yield
        finally:
            self._deadlines.remove(deadline)
