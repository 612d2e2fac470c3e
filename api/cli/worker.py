"""``plait worker [--concurrency N]``: execute the async runs queued in Redis.

A worker is a ``worker.runtime`` process that listens: taskiq's receiver reads the Redis
stream (``worker.broker``) and runs ``worker.tasks.take_up_run`` for each message, at most
``--concurrency`` at once; a message is acknowledged once its run stopped executing here.
SIGTERM and Ctrl-C stop it cleanly: the runs in flight are cancelled where they are, their
leases given up, and the scheduler's reaper hands them to another worker, which continues them
from their last checkpoint. Without ``PLAIT_REDIS_URL`` there is nothing to listen to: the
API process (``plait serve``, ``plait api``) executes its async runs itself.
"""

from __future__ import annotations

import argparse
import logging
import os

from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task

from api.cli.database import open_database
from api.cli.errors import EXIT_OK
from api.cli.process import redis_settings, run_until_stopped
from shared.config import Settings
from shared.redaction import LogRedaction, redactor_for
from worker.runtime import hub_for, open_runtime
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.models import StaticModelProviders

logger = logging.getLogger(__name__)


def command(args: argparse.Namespace) -> int:
    """Execute queued runs until stopped.

    Raises:
        UsageError: ``PLAIT_REDIS_URL`` is not set.
    """
    settings = redis_settings(
        "worker", instead="the API process executes its async runs itself (plait serve)"
    )
    run_until_stopped(_work(settings, concurrency=args.concurrency))
    return EXIT_OK


async def _work(settings: Settings, *, concurrency: int) -> None:
    redactor = redactor_for(settings)
    stop_log_redaction = LogRedaction(redactor).install()
    try:
        async with (
            open_database(settings),
            open_runtime(
                settings,
                tools=default_tool_registry(),
                models=StaticModelProviders.from_env(os.environ),
                redactor=redactor,
                hub=hub_for(settings, followers=False),
                env_secrets=lambda: settings.env_secrets,
                worker=True,
                read_batch=concurrency,
            ) as runtime,
        ):
            logger.info("worker %d executing up to %d runs at once", os.getpid(), concurrency)
            await run_receiver_task(
                runtime.broker,
                max_async_tasks=concurrency,
                ack_time=AcknowledgeType.WHEN_EXECUTED,
                run_startup=False,
            )
    finally:
        stop_log_redaction()
