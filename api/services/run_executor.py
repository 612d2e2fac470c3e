"""Runs executed by this process: each in a task of its own, awaited (sync) or not (async).

Every execution of a run — its start, a resume with answers, a retry, a replay — goes through
``RunExecutor.submit``, which wraps it in a task the executor knows by run id. That gives one
place for what must hold whatever the mode:

- Cancel: ``cancel`` cancels the run's task; the node in flight sees ``CancelledError``, and
  the row is recorded ``canceled`` with a ``run_canceled`` event. A request executing a sync
  run awaits the task through ``asyncio.shield``, so a client that disconnects does not
  cancel the run: it goes on and its outcome is recorded.
- Every status write is a compare-and-set (``run_records``): a run canceled by another
  request while its task starts or executes stays canceled, and executes nothing more.
- A failure outside the workflow (a bug, the database going away mid-run) is recorded as
  ``failed`` with the code ``internal_error`` and the exception's type only (its message may
  quote data), with a ``run_failed`` event, and logged; the run can be retried.
- Whoever follows the run's events (SSE) is told about each new status (``on_change``).

Issue 5 (workers) moves async runs to taskiq workers holding leases; the in-process executor
stays the embedded default.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from langgraph.checkpoint.base import BaseCheckpointSaver

from api.services.child_runs import TenantChildRuns
from api.services.execution import RecordedRun
from api.services.run_records import RunEndedError, record_canceled, record_internal_failure
from shared.database.models import WorkflowRun
from shared.redaction import Redactor
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import EventSink, RunEvent
from workflow_compiler.lowering import CompiledWorkflow, RunOutcome

__all__ = ["RunAction", "RunExecutor", "TenantServices"]

logger = logging.getLogger(__name__)

RunAction = Callable[[RecordedRun, RuntimeServices], Awaitable[RunOutcome]]
"""What to do with a run: e.g. ``lambda run, services: run.start(services)``."""

TenantServices = Callable[[str, RuntimeServices], Awaitable[RuntimeServices]]
"""Given a tenant id and the process's services, the services that tenant's runs use."""

_CANCEL_WAIT_S = 30.0
"""How long ``cancel`` waits for a canceled run's task to record its end."""


class RunExecutor:
    """Executes runs in this process and keeps track of them until they stop.

    Args:
        services: The process's runtime services; each run gets a copy whose ``events``
            persist to its own stream and whose ``workflow`` nodes start child runs in the
            run's tenant.
        checkpointer: Where every run's checkpoints go (thread id = run id).
        events_for: The event sink of one run (its persisted event stream).
        on_change: Called with a run id after its status changed, to wake its followers.
        tenant_services: The services of one tenant's runs, given the process's: its
            secrets and model providers. None: every tenant uses ``services`` as they are.
        redactor: Masks secrets and sensitive keys in the outcomes recorded (None: the
            outcomes are recorded as they are).
    """

    def __init__(
        self,
        services: RuntimeServices,
        *,
        checkpointer: BaseCheckpointSaver,
        events_for: Callable[[WorkflowRun], EventSink],
        on_change: Callable[[str], None],
        tenant_services: TenantServices | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.services = services
        self.checkpointer = checkpointer
        self._events_for = events_for
        self._on_change = on_change
        self._tenant_services = tenant_services
        self._redactor = redactor
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._canceling: set[str] = set()

    def submit(
        self, run: WorkflowRun, compiled: CompiledWorkflow, action: RunAction
    ) -> asyncio.Task[None]:
        """Start ``action`` on ``run`` in a task of its own and return the task.

        To wait for the outcome (sync mode), await it through ``asyncio.shield``, so that the
        caller being cancelled leaves the run going. The row (``run``) is updated in place.

        Raises:
            RuntimeError: the run is already executing in this process (callers check the
                row's status first; this guards against a bug, not a user error).
        """
        if run.id in self._tasks:
            raise RuntimeError(f"run {run.id!r} is already executing in this process")
        recorded = RecordedRun(
            record=run,
            compiled=compiled,
            checkpointer=self.checkpointer,
            redactor=self._tenant_redactor(run),
        )
        task = asyncio.create_task(self._execute(recorded, action), name=run.id)
        self._tasks[run.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run.id, None))
        return task

    async def record_failure(self, run: WorkflowRun, exc: Exception) -> None:
        """Record a run that cannot execute as failed (``internal_error``, retryable), end
        its event stream, and tell its followers."""
        await _failed(run, exc, self._events_for(run), at=self.services.clock.now())
        self._on_change(run.id)

    def notify(self, run_id: str) -> None:
        """Tell the run's followers that its status changed outside an execution."""
        self._on_change(run_id)

    async def record_canceled(self, run: WorkflowRun, *, at: datetime) -> None:
        """Record a run that does not execute here as canceled (unless it ended already),
        end its event stream, and tell its followers."""
        await _canceled(run, self._events_for(run), at=at)
        self._on_change(run.id)

    async def wait_for(self, run_id: str) -> None:
        """Wait until the run stops executing here (at once when it is not executing)."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait({task})

    def is_executing(self, run_id: str) -> bool:
        """Whether the run's task is alive in this process."""
        return run_id in self._tasks

    async def cancel(self, run_id: str) -> bool:
        """Cancel the run's task, if it executes here, and wait until it stopped.

        The task records ``canceled`` as it stops; a task canceled before it began records
        nothing, so the caller still writes the status (a compare-and-set, which leaves a
        run that ended meanwhile as it ended).

        Returns:
            False when the run was not executing in this process (nothing was done).
        """
        task = self._tasks.get(run_id)
        if task is None or task.done():
            return False
        self._canceling.add(run_id)
        try:
            task.cancel()
            await asyncio.wait({task}, timeout=_CANCEL_WAIT_S)
        finally:
            self._canceling.discard(run_id)
        return True

    async def aclose(self) -> None:
        """Stop every run still executing (the process is shutting down).

        Their rows keep saying ``running``/``queued``: they were not canceled by anyone and
        are continued from their last checkpoint later (``plait runs resume``, the reaper).
        """
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _services_for(self, run: WorkflowRun) -> RuntimeServices:
        """The services of one execution of ``run``: its tenant's secrets and providers, its
        own event stream, and child runs in its tenant (which execute with the same
        tenant services)."""
        tenant = self.services
        if self._tenant_services is not None:
            tenant = await self._tenant_services(run.tenant_id, self.services)
        child_runs = TenantChildRuns(
            run.tenant_id,
            services=tenant,
            checkpointer=self.checkpointer,
            events_for=self._events_for,
            redactor=self._tenant_redactor(run),
        )
        return replace(tenant, events=self._events_for(run), child_runs=child_runs)

    def _tenant_redactor(self, run: WorkflowRun) -> Redactor | None:
        """What the run's outcomes are masked with: its tenant's secret values only."""
        return None if self._redactor is None else self._redactor.for_tenant(run.tenant_id)

    async def _execute(self, recorded: RecordedRun, action: RunAction) -> None:
        run = recorded.record
        services = replace(self.services, events=self._events_for(run))
        try:
            services = await self._services_for(run)
            await action(recorded, services)
        except asyncio.CancelledError:
            if run.id not in self._canceling:
                raise
            await _canceled(run, services.events, at=services.clock.now())
        except RunEndedError:
            logger.info("run %s ended before it could execute again", run.id)
        except Exception as exc:
            logger.exception("run %s stopped on an unexpected error", run.id)
            await _failed(run, exc, services.events, at=services.clock.now())
        finally:
            self._on_change(run.id)


async def _canceled(run: WorkflowRun, events: EventSink, *, at: datetime) -> None:
    if await record_canceled(run, at=at):
        await events.emit(RunEvent(kind="run_canceled", run_id=run.id, at=at))


async def _failed(run: WorkflowRun, exc: Exception, events: EventSink, *, at: datetime) -> None:
    try:
        if await record_internal_failure(run, exc, at=at):
            error = {"kind": run.error_code, "message": run.error_message}
            await events.emit(
                RunEvent(kind="run_failed", run_id=run.id, at=at, data={"error": error})
            )
    except Exception:
        logger.exception("run %s: its failure could not be recorded", run.id)
