"""Taking up the runs a single-process Plait left behind when it stopped.

``plait serve`` is the only executor of its database: when it stops (Ctrl-C, a crash), the
runs it was executing keep saying ``running`` and its async runs not yet started say
``queued``. On its next start it takes each of them up from its last checkpoint (finished
nodes are not executed again) or, with no checkpoint yet, from the beginning.

Not for several processes on one database: each would take up the same runs. There, the
worker issue's leases and reaper decide who continues what. Runs of the command line's
tenant are left alone (a ``plait run --db`` may be executing them right now), and so are
child runs, which their parent's ``workflow`` node continues when the parent is continued.
"""

from __future__ import annotations

import logging

from api.services.child_runs import CHILD_KEY_PREFIX
from api.services.run_executor import RunExecutor
from api.services.run_records import LOCAL_TENANT_ID
from api.services.runs import compiled_run, continue_action
from shared.database.models import RunStatus, WorkflowRun
from workflow_compiler.errors import SpecInvalidError

__all__ = ["recover_runs"]

logger = logging.getLogger(__name__)


async def recover_runs(executor: RunExecutor) -> list[str]:
    """Submit every left-behind run to ``executor``, to continue in the background.

    A run whose spec no longer passes the checks (a tool it names was uninstalled) cannot
    continue; it is recorded as failed so that it can be retried once the tool is back.

    Returns:
        The ids of the runs taken up.
    """
    left = await WorkflowRun.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exclude(
        tenant_id=LOCAL_TENANT_ID
    )
    taken: list[str] = []
    for run in left:
        if (run.idempotency_key or "").startswith(CHILD_KEY_PREFIX) or executor.is_executing(
            run.id
        ):
            continue
        try:
            compiled = await compiled_run(run, executor.services.tools)
        except SpecInvalidError as exc:
            logger.warning("run %s cannot be taken up: its spec fails its checks", run.id)
            await executor.record_failure(run, exc)
            continue
        executor.submit(run, compiled, continue_action)
        taken.append(run.id)
    if taken:
        logger.info("took up %d run(s) left by the previous start", len(taken))
    return taken
