"""The worker's task: take up the run a message names.

A message carries only a run id; the row says what to do (``runs.take_up_action``): start a
run that never started, continue one from its last checkpoint. Messages may come twice (a
sweeper re-enqueued a run whose first message was only slow; Redis redelivered the message
of a worker that died), so whatever is not for this worker any more is dropped quietly: a run
that ended or waits for people, a run another process holds under a live lease (and which
``mark_running`` would refuse anyway).
"""

from __future__ import annotations

import asyncio
import logging

from taskiq import AsyncBroker

from api.services.run_executor import RunExecutor
from api.services.run_records import held_elsewhere
from api.services.runs import compiled_run, take_up_action
from shared.database.models import RunStatus, WorkflowRun
from worker.broker import TAKE_UP_TASK
from workflow_compiler.errors import SpecInvalidError

__all__ = ["register_tasks", "take_up_run"]

logger = logging.getLogger(__name__)

_TAKEN_UP = (RunStatus.QUEUED, RunStatus.RUNNING)


def register_tasks(broker: AsyncBroker, executor: RunExecutor) -> None:
    """Register ``TAKE_UP_TASK`` on ``broker``, executing its runs with ``executor``."""

    async def take_up(run_id: str) -> None:
        await take_up_run(run_id, executor)

    broker.register_task(take_up, task_name=TAKE_UP_TASK)


async def take_up_run(run_id: str, executor: RunExecutor) -> None:
    """Execute the run here until it stops (the message is acknowledged afterwards).

    A run whose spec no longer passes the checks (a tool it names was uninstalled) cannot be
    taken up; it is recorded as failed, to be retried once the tool is back. A run someone
    asked to cancel while nobody held it (its worker died) is recorded as canceled. A run
    still executing here is waited for first: the message may be the reaper's, for a run this
    worker hung on and lost (it stops at its next look at the row), and the row is read again
    once it has.
    """
    await executor.wait_for(run_id)
    run = await WorkflowRun.get_or_none(id=run_id)
    now = executor.services.clock.now()
    if run is None or run.status not in _TAKEN_UP or executor.is_executing(run_id):
        return
    if held_elsewhere(run, at=now):
        return
    if run.cancel_requested_at is not None:
        await executor.record_canceled(run, at=now)
        return
    try:
        compiled = await compiled_run(run, executor.services.tools)
    except SpecInvalidError as exc:
        logger.warning("run %s cannot be taken up: its spec fails its checks", run.id)
        await executor.record_failure(run, exc)
        return
    if executor.closed:
        return  # the worker is stopping: the run stays queued, for the sweeper
    # Waited for, not awaited: the run's task is stopped by the executor's ``aclose`` (its
    # lease given up for the reaper), not by whatever cancels this wait.
    await asyncio.wait({executor.submit(run, compiled, take_up_action(run))})
