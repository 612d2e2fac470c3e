"""The reaper and the sweeper: runs nobody executes are handed to a worker again.

``plait scheduler`` runs them (``plait serve`` too, in its one process). Several schedulers
may run at once: each hand-over is a compare-and-set (``api.services.run_leases``), so a run
is re-enqueued once per pass whoever finds it first. A pass that cannot reach the database or
the queue logs it and the next pass tries again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from api.services.run_executor import RunQueue
from api.services.run_leases import expired_runs, requeue_expired, stale_queued, touch_queued
from shared.config import Settings
from workflow_compiler.clock import Clock, SystemClock

__all__ = ["Scheduler", "SchedulerTimings"]

logger = logging.getLogger(__name__)

_BATCH = 500
"""The most runs one pass hands on; the next pass takes the rest."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerTimings:
    """How often the scheduler looks, and how long a queued run may wait for a worker."""

    interval_s: float = 5.0
    """Between passes."""
    sweep_after_s: float = 30.0
    """A run ``queued`` for longer, without a worker taking it, is enqueued again: its
    message never reached the queue, or the queue lost it."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulerTimings:
        """The timings ``PLAIT_SCHEDULER_INTERVAL_S`` and ``PLAIT_SWEEP_AFTER_S`` set."""
        return cls(interval_s=settings.scheduler_interval_s, sweep_after_s=settings.sweep_after_s)


class Scheduler:
    """Reaps expired leases and sweeps stale queued runs, on ``queue``."""

    def __init__(
        self, queue: RunQueue, timings: SchedulerTimings, *, clock: Clock | None = None
    ) -> None:
        self._queue = queue
        self._timings = timings
        self._clock = clock or SystemClock()

    async def run(self) -> None:
        """Pass after pass until cancelled."""
        while True:
            try:
                await self.reap()
                await self.sweep()
            except Exception as exc:
                logger.warning("scheduler pass stopped: %s", type(exc).__name__)
            await asyncio.sleep(self._timings.interval_s)

    async def reap(self) -> list[str]:
        """Re-enqueue the ``running`` runs whose lease expired (their process died or hung),
        or that hold none and were not written for ``sweep_after_s``; their ids."""
        now = self._clock.now()
        after_s = self._timings.sweep_after_s
        expired = await expired_runs(at=now, unleased_after_s=after_s, limit=_BATCH)
        reaped = [
            run for run in expired if await requeue_expired(run, at=now, unleased_after_s=after_s)
        ]
        if reaped:
            logger.info("%d run(s) lost their worker: enqueued again", len(reaped))
        return await self._put([run.id for run in reaped])

    async def sweep(self) -> list[str]:
        """Re-enqueue the runs ``queued`` for longer than ``sweep_after_s``; their ids.

        Not while the queue holds messages no worker has read yet: then the runs queued for
        long are most likely a backlog still in the stream, and sending each again on every
        pass would multiply the backlog. The runs whose message was really lost are sent once
        the workers have caught up.
        """
        waiting = await self._queue.undelivered()
        if waiting:
            logger.debug("sweep skipped: %d message(s) not read by a worker yet", waiting)
            return []
        now = self._clock.now()
        stale = await stale_queued(at=now, after_s=self._timings.sweep_after_s, limit=_BATCH)
        swept = [run for run in stale if await touch_queued(run, at=now)]
        if swept:
            logger.info("%d queued run(s) had not reached a worker: enqueued again", len(swept))
        return await self._put([run.id for run in swept])

    async def _put(self, run_ids: list[str]) -> list[str]:
        """Enqueue each run; stop at the first failure (the queue is away: the rows stay
        ``queued``, and the sweeper finds them again). The ids enqueued."""
        for done, run_id in enumerate(run_ids):
            try:
                await self._queue.put(run_id)
            except Exception as exc:
                logger.warning(
                    "the queue cannot be reached (%s): %d run(s) stay queued for the next sweep",
                    type(exc).__name__,
                    len(run_ids) - done,
                )
                return run_ids[:done]
        return run_ids
