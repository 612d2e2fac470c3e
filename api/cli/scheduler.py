"""``plait scheduler``: the reaper and the sweeper (``worker.scheduler``), on Redis.

It executes no run: it finds the runs nobody executes — those whose worker's lease expired,
those queued for too long — and enqueues them again for ``plait worker``. Several may run at
once. ``plait serve`` runs the same loops in its own process.
"""

from __future__ import annotations

import argparse

from api.cli.database import open_database
from api.cli.errors import EXIT_OK
from api.cli.process import redis_settings, run_until_stopped
from shared.config import Settings
from worker.broker import TaskiqRunQueue, make_broker
from worker.scheduler import Scheduler, SchedulerTimings


def command(_args: argparse.Namespace) -> int:
    """Hand lost and stuck runs on until stopped.

    Raises:
        UsageError: ``PLAIT_REDIS_URL`` is not set.
    """
    settings = redis_settings(
        "scheduler", instead="plait serve runs the scheduler in its own process"
    )
    run_until_stopped(_schedule(settings))
    return EXIT_OK


async def _schedule(settings: Settings) -> None:
    broker = make_broker(settings)
    timings = SchedulerTimings.from_settings(settings)
    async with open_database(settings):
        await broker.startup()
        try:
            await Scheduler(TaskiqRunQueue(broker), timings).run()
        finally:
            await broker.shutdown()
