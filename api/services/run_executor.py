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

- Leases (with ``lease``): each execution takes its run under the process's lease
  (``run_records.mark_running``), and a keeper task renews the leases of the runs executing
  here. Every ``check_s`` it also reads their rows: a run someone asked to cancel (from any
  process: ``cancel_requested_at``) is cancelled here like a local cancel, and a run another
  process took over (its lease expired, the reaper handed it on) is stopped without recording
  anything, because the newer execution owns its row now. So are the runs whose leases
  lapsed because no renewal succeeded for a whole lease (the database out of reach).
- Queue (with ``queue``): ``enqueue`` hands an async run to the workers by id; without one,
  or when putting it on the queue fails (Redis away), the run stays ``queued`` for the
  sweeper, or executes here in the background when there is no queue at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver

from api.services.child_runs import TenantChildRuns
from api.services.execution import RecordedRun
from api.services.run_leases import HeldRun, held_runs, release_leases, renew_leases
from api.services.run_records import (
    LeaseTerms,
    RunEndedError,
    RunTakenError,
    record_canceled,
    record_internal_failure,
)
from shared.database.models import WorkflowRun
from shared.redaction import Redactor
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import EventSink, RunEvent
from workflow_compiler.lowering import CompiledWorkflow, RunOutcome

__all__ = ["LeaseKeeping", "RunAction", "RunExecutor", "RunQueue", "TenantServices"]

logger = logging.getLogger(__name__)

RunAction = Callable[[RecordedRun, RuntimeServices], Awaitable[RunOutcome]]
"""What to do with a run: e.g. ``lambda run, services: run.start(services)``."""

TenantServices = Callable[[str, RuntimeServices, frozenset[str]], Awaitable[RuntimeServices]]
"""Given a tenant id, the process's services and the names of the secrets a run reads, the
services of that tenant's run. The values of those secrets are to be masked from the start:
an execution continuing a run another process began may meet a value read there (echoed by
a tool, say) before any node here has read it."""

_CANCEL_WAIT_S = 30.0
"""How long ``cancel`` waits for a canceled run's task to record its end."""

_RELEASE_WAIT_S = 5.0
"""How long ``aclose`` tries to give the leases up; a database that does not answer must not
hold the shutdown (the leases then expire on their own)."""


class RunQueue(Protocol):
    """Where async runs wait for a worker (``worker.broker``): a message is a run id."""

    async def put(self, run_id: str) -> None:
        """Enqueue the run; raises when the queue cannot be reached."""

    async def undelivered(self) -> int:
        """How many messages no worker has read yet; 0 where the queue cannot tell. Raises
        when the queue cannot be reached."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseKeeping:
    """The lease of a process's executions and how often it is looked after."""

    terms: LeaseTerms
    check_s: float = 1.0
    """How often the rows of the runs executing here are read for cancel requests and lost
    leases: the delay of a cancel sent to another process."""
    renew_s: float | None = None
    """How often the leases are renewed; None: a third of their time to live, so two
    renewals can fail before one expires."""


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
        lease: How executions here hold their runs; None: they hold no lease (tests, a
            process that is its database's only executor and cannot be cancelled from
            elsewhere).
        queue: Where ``enqueue`` puts async runs; None: they execute here.
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
        lease: LeaseKeeping | None = None,
        queue: RunQueue | None = None,
    ) -> None:
        self.services = services
        self.checkpointer = checkpointer
        self._events_for = events_for
        self._on_change = on_change
        self._tenant_services = tenant_services
        self._redactor = redactor
        self._lease = lease
        self._queue = queue
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._canceling: set[str] = set()
        self._lost: set[str] = set()
        self._records: dict[str, WorkflowRun] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._leased = False
        """Whether an execution here ever took a lease (so ``aclose`` has leases to give up)."""
        self.closed = False
        """Set by ``aclose``: nothing more may be submitted."""

    @property
    def lease_terms(self) -> LeaseTerms | None:
        """The lease executions here take, if they take one."""
        return self._lease.terms if self._lease is not None else None

    def submit(
        self, run: WorkflowRun, compiled: CompiledWorkflow, action: RunAction
    ) -> asyncio.Task[None]:
        """Start ``action`` on ``run`` in a task of its own and return the task.

        To wait for the outcome (sync mode), await it through ``asyncio.shield``, so that the
        caller being cancelled leaves the run going. The row (``run``) is updated in place.

        Raises:
            RuntimeError: the run is already executing in this process (callers check the
                row's status first; this guards against a bug, not a user error), or the
                executor is closed (the process is stopping).
        """
        if self.closed:
            raise RuntimeError("the executor is closed: the process is stopping")
        if run.id in self._tasks:
            raise RuntimeError(f"run {run.id!r} is already executing in this process")
        recorded = RecordedRun(
            record=run,
            compiled=compiled,
            checkpointer=self.checkpointer,
            redactor=self._tenant_redactor(run),
            lease=self.lease_terms,
        )
        task = asyncio.create_task(self._execute(recorded, action), name=run.id)
        self._tasks[run.id] = task
        self._records[run.id] = run
        task.add_done_callback(lambda _: self._forget(run.id))
        if self._lease is not None:
            self._leased = True
            if self._keeper is None:
                self._keeper = asyncio.create_task(self._keep_leases(self._lease), name="leases")
        return task

    def _forget(self, run_id: str) -> None:
        self._tasks.pop(run_id, None)
        self._records.pop(run_id, None)
        self._canceling.discard(run_id)
        self._lost.discard(run_id)

    async def enqueue(self, run: WorkflowRun, compiled: CompiledWorkflow) -> None:
        """Hand a ``queued`` run to the workers; without a queue, take it up here in the
        background (``runs.take_up_action``).

        A queue that cannot be reached is logged, not raised: the row says ``queued`` and the
        sweeper enqueues it again once the queue is back, so the caller's answer stands.
        """
        if self._queue is None:
            from api.services.runs import take_up_action  # runs imports this module

            self.submit(run, compiled, take_up_action(run))
            return
        try:
            await self._queue.put(run.id)
        except Exception as exc:
            logger.warning(
                "run %s stays queued: the queue cannot be reached (%s); the sweeper enqueues "
                "it again",
                run.id,
                type(exc).__name__,
            )

    async def record_failure(self, run: WorkflowRun, exc: Exception) -> None:
        """Record a run that cannot execute as failed (``internal_error``, retryable), end
        its event stream, and tell its followers."""
        await _failed(run, exc, self._events_for(run), at=self.services.clock.now())
        self._on_change(run.id)

    def notify(self, run_id: str) -> None:
        """Tell the run's followers that its status changed outside an execution."""
        self._on_change(run_id)

    async def record_canceled(self, run: WorkflowRun, *, at: datetime) -> bool:
        """Record a run that does not execute here as canceled, end its event stream, and
        tell its followers; whether it was recorded (not when the run ended, or an execution
        took it, since ``run`` was read)."""
        recorded = await _canceled(run, self._events_for(run), at=at)
        self._on_change(run.id)
        return recorded

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
        are continued from their last checkpoint later. Their leases are given up, so the
        reaper hands them to another worker at once rather than when they would expire.
        """
        self.closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        if self._lease is not None and self._leased:
            try:
                async with asyncio.timeout(_RELEASE_WAIT_S):
                    await release_leases(self._lease.terms.owner, at=self.services.clock.now())
            except Exception as exc:
                logger.warning("could not give up this process's leases: %s", type(exc).__name__)

    async def _keep_leases(self, lease: LeaseKeeping) -> None:
        """Renew the leases of the runs executing here, and stop those canceled elsewhere or
        taken over (see the module docstring). Ends when nothing executes here.

        Each round is bounded by the renewal interval: a database that hangs must not hold
        the keeper. When no renewal has succeeded for a whole lease, the leases have expired
        and the reaper may have handed the runs on: they are stopped here as lost.
        """
        ttl_s = lease.terms.ttl_s
        renew_s = lease.renew_s if lease.renew_s is not None else ttl_s / 3
        clock = self.services.clock
        renewed_at = clock.now()
        try:
            while self._tasks:
                await asyncio.sleep(lease.check_s)
                running = list(self._tasks)
                if not running:
                    break
                now = clock.now()
                try:
                    async with asyncio.timeout(renew_s):
                        if (now - renewed_at).total_seconds() >= renew_s:
                            await renew_leases(lease.terms, running, at=now)
                            renewed_at = now
                        for held in await held_runs(running):
                            self._look_after(held, owner=lease.terms.owner)
                except Exception as exc:
                    logger.warning("leases not renewed this time: %s", type(exc).__name__)
                    if (now - renewed_at).total_seconds() >= ttl_s:
                        self._give_up(running)
        finally:
            self._keeper = None

    def _give_up(self, run_ids: list[str]) -> None:
        """Stop the runs whose leases lapsed, recording nothing: whoever takes them over
        records what happens to them."""
        for run_id in run_ids:
            task = self._tasks.get(run_id)
            if task is None or task.done() or run_id in self._lost:
                continue
            self._lose(run_id, task, "its lease lapsed")

    def _lose(self, run_id: str, task: asyncio.Task[None], why: str) -> None:
        """Stop the run's task as lost: it records nothing (``_execute``), since whoever
        holds the run now records what happens to it."""
        logger.warning("run %s stops here: %s", run_id, why)
        self._lost.add(run_id)
        task.cancel()

    def _look_after(self, held: HeldRun, *, owner: str) -> None:
        """Stop the run's task if another execution took the run (a newer token that is not
        this process's: ours is written before the task learns it), or if it was asked to
        cancel."""
        task = self._tasks.get(held.id)
        record = self._records.get(held.id)
        if task is None or record is None or task.done():
            return
        if held.id in self._canceling or held.id in self._lost:
            return
        if held.fencing_token != record.fencing_token and held.lease_owner != owner:
            self._lose(held.id, task, "it was taken over by another process")
        elif held.cancel_requested:
            self._canceling.add(held.id)
            task.cancel()

    async def _services_for(self, run: WorkflowRun, compiled: CompiledWorkflow) -> RuntimeServices:
        """The services of one execution of ``run``: its tenant's secrets and providers, its
        own event stream, and child runs in its tenant (which execute with the same
        tenant services)."""
        tenant = self.services
        if self._tenant_services is not None:
            tenant = await self._tenant_services(
                run.tenant_id, self.services, compiled.secret_names
            )
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
            services = await self._services_for(run, recorded.compiled)
            await action(recorded, services)
        except asyncio.CancelledError:
            if run.id in self._lost:
                return  # the newer execution records what happens to the run
            if run.id not in self._canceling:
                raise
            await _canceled(run, services.events, at=services.clock.now())
        except RunEndedError:
            logger.info("run %s ended before it could execute again", run.id)
        except RunTakenError:
            logger.info("run %s is executing elsewhere: not executed here", run.id)
        except Exception as exc:
            logger.exception("run %s stopped on an unexpected error", run.id)
            await _failed(run, exc, services.events, at=services.clock.now())
        finally:
            self._on_change(run.id)


async def _canceled(run: WorkflowRun, events: EventSink, *, at: datetime) -> bool:
    if not await record_canceled(run, at=at):
        return False
    await events.emit(RunEvent(kind="run_canceled", run_id=run.id, at=at))
    return True


async def _failed(run: WorkflowRun, exc: Exception, events: EventSink, *, at: datetime) -> None:
    try:
        if await record_internal_failure(run, exc, at=at):
            error = {"kind": run.error_code, "message": run.error_message}
            await events.emit(
                RunEvent(kind="run_failed", run_id=run.id, at=at, data={"error": error})
            )
    except Exception:
        logger.exception("run %s: its failure could not be recorded", run.id)
