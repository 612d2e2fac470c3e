"""Run rows: written before a run executes, kept up to date with where it got to, found again.

The ``WorkflowRun`` row is the source of truth for a run's status; LangGraph's checkpoints
(thread id = run id) hold its state. Whoever executes a run writes the row *first*, so that a
process that dies mid-run leaves a row saying ``running`` that can be resumed from its last
checkpoint, then records each outcome on it:

    create_run ──► running ──record_outcome──► completed | failed | waiting_human
                      ▲                                   │            │
                      └────────── mark_running ───────────┴────────────┘
                                (resume, retry after a crash or a failure)

Every function takes the tenant (or a row already read through one), so a run of another
tenant reads as missing. Runs started from this machine's command line belong to the
``local_tenant``, created on first use.

Fencing: each execution takes the run with ``mark_running``, which increments the row's
``fencing_token``, and every later write of that execution is a compare-and-set on the token
it took as well as on the status. A process that lost the run — its lease expired and another
worker took it, or someone else resumed it — can therefore never overwrite what the newer
execution recorded: its write matches no row. An execution holding a lease (``LeaseTerms``:
a worker, or the API process for sync runs) also writes its owner and expiry, which its
``RunExecutor`` renews; a run whose lease is live cannot be taken by anyone else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from shared.database.models import (
    RunSource,
    RunStatus,
    Tenant,
    WorkflowRun,
    WorkflowVersion,
    json_value,
)
from shared.errors import ConflictError, NotFoundError, PlaitError
from shared.ids import ID_BODY_LENGTH, IdPrefix
from shared.redaction import Redactor
from workflow_compiler.inputs import validate_inputs
from workflow_compiler.lowering import RunOutcome
from workflow_compiler.spec import WorkflowSpec

__all__ = [
    "CANCELABLE",
    "LOCAL_TENANT_ID",
    "LeaseTerms",
    "RunEndedError",
    "RunExistsError",
    "RunNotFoundError",
    "RunTakenError",
    "create_run",
    "fork_prepared",
    "held_elsewhere",
    "load_run",
    "local_tenant",
    "mark_running",
    "record_canceled",
    "record_internal_failure",
    "record_outcome",
    "run_spec",
]

LOCAL_TENANT_ID = f"{IdPrefix.TENANT}_{'0' * ID_BODY_LENGTH}"
"""The tenant of runs started from the command line: a fixed, valid id (time 0, random part
0), so every process on every machine finds the same row without a lookup by name."""

LOCAL_TENANT_NAME = "local"

_FINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED})
"""Outcomes that end a run (``ended_at`` is set); a run waiting for people has not ended."""

INTERNAL_ERROR = "internal_error"
"""``error_code`` of a run stopped by a failure outside the workflow (a bug, the database)."""

_RESTARTABLE = (
    RunStatus.QUEUED,
    RunStatus.RUNNING,
    RunStatus.WAITING_HUMAN,
    RunStatus.FAILED,
)
"""Statuses from which a run may execute again; canceled and completed runs never do."""

CANCELABLE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING_HUMAN)
"""Statuses a cancel applies to: the run has not ended."""


class RunNotFoundError(NotFoundError):
    """No run has this id in the caller's tenant (a ``not_found`` problem, 404)."""


class RunEndedError(ConflictError):
    """The run was canceled or completed (by another request) before it could execute again
    (409)."""


class RunTakenError(ConflictError):
    """Another execution took the run first: it holds a live lease on it, or took it since
    this row was read (409)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseTerms:
    """How a process holds the runs it executes: who it is, and for how long a lease lasts
    without a renewal."""

    owner: str
    """Unique per process (``run_leases.process_owner``)."""
    ttl_s: float
    """A lease not renewed within this many seconds expires, and the reaper hands the run
    to another worker."""

    def lease_fields(self, at: datetime) -> dict[str, Any]:
        """The columns a write taking or renewing the lease at ``at`` sets."""
        return {"lease_owner": self.owner, "lease_expires_at": at + timedelta(seconds=self.ttl_s)}


_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
"""Written with every outcome: a run that stopped executing is held by nobody."""


class RunExistsError(PlaitError):
    """A run was to be created with an id that another run already has."""

    code = "run_exists"


async def local_tenant() -> Tenant:
    """The tenant of command-line runs, created the first time it is needed.

    Safe when several processes ask at once: the fixed id is the primary key, so only one
    insert can win and the others read its row.
    """
    tenant, _ = await Tenant.get_or_create(id=LOCAL_TENANT_ID, defaults={"name": LOCAL_TENANT_NAME})
    return tenant


async def create_run(
    tenant: Tenant,
    spec: WorkflowSpec,
    inputs: Mapping[str, Any],
    *,
    at: datetime,
    run_id: str | None = None,
    source: RunSource = RunSource.MANUAL,
) -> WorkflowRun:
    """Write the row of an ad-hoc run that the caller executes at once.

    The row keeps a snapshot of the spec (so the run can be resumed after the file changed or
    disappeared) and the validated inputs, and says ``running`` from the start: if the
    process dies before recording an outcome, the row tells that it has to be continued.

    Args:
        tenant: The owner of the run.
        spec: The checked spec to run.
        inputs: The run inputs as given; validated against the spec, defaults applied.
        at: When execution starts (``started_at``).
        run_id: The run's public id; a new ``run_…`` id when omitted.
        source: What started the run.

    Returns:
        The stored row.

    Raises:
        InputsInvalidError: ``inputs`` fail the spec's input schema (nothing is written).
        RunExistsError: ``run_id`` is taken.
    """
    values: dict[str, Any] = {
        "tenant": tenant,
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_unset=True),
        "spec_hash": spec.spec_hash(),
        "inputs": validate_inputs(spec, inputs),
        "status": RunStatus.RUNNING,
        "source": source,
        "started_at": at,
        "attempt": 1,
    }
    if run_id is not None:
        values["id"] = run_id
    try:
        return await WorkflowRun.create(**values)
    except IntegrityError as exc:
        if run_id is not None and await WorkflowRun.exists(id=run_id):
            raise RunExistsError(f"a run with id '{run_id}' already exists") from exc
        raise


async def load_run(tenant: Tenant, run_id: str) -> WorkflowRun:
    """The run with this id in ``tenant``.

    Raises:
        RunNotFoundError: there is none (or it belongs to another tenant).
    """
    run = await WorkflowRun.get_or_none(id=run_id, tenant_id=tenant.id)
    if run is None:
        raise RunNotFoundError(f"run '{run_id}' not found")
    return run


async def run_spec(run: WorkflowRun) -> dict[str, Any]:
    """The spec a run executes: its ad-hoc snapshot, or the spec of the version it names."""
    if run.spec is not None:
        return run.spec
    version = await WorkflowVersion.get(id=run.version_id)
    return version.spec


def held_elsewhere(run: WorkflowRun, *, at: datetime) -> bool:
    """Whether the row, as read, says an execution holds the run under a live lease."""
    expires = run.lease_expires_at
    return run.status is RunStatus.RUNNING and expires is not None and expires >= at


async def mark_running(
    run: WorkflowRun, *, at: datetime, new_attempt: bool = False, lease: LeaseTerms | None = None
) -> None:
    """Take the run for an execution, before starting, resuming or continuing it.

    The error and end time of an earlier failure are cleared: they described an attempt
    that is over. The fencing token is incremented (see the module docstring), and with
    ``lease`` the lease is taken. A run that was canceled or completed meanwhile is left
    alone and ``RunEndedError`` says so; a run another execution holds (a live lease, or a
    token newer than ``run``'s) is left alone and ``RunTakenError`` says so: it must not
    execute here.

    Args:
        run: The row to update (updated in place too).
        at: Now; becomes ``started_at`` if the run never started.
        new_attempt: The run is taken up afresh (continued after a failure or a crash, by a
            new process) rather than answered within the execution that paused it; counts
            in ``attempt``.
        lease: The executing process's lease, or None for an execution that holds none
            (the command line, a child run inside its parent's node).

    Raises:
        RunEndedError: the row is canceled or completed.
        RunTakenError: another execution holds the run.
    """
    values: dict[str, Any] = {
        "status": RunStatus.RUNNING,
        "error_code": None,
        "error_message": None,
        "ended_at": None,
        "updated_at": at,
        "fencing_token": run.fencing_token + 1,
        **(lease.lease_fields(at) if lease is not None else _NO_LEASE),
    }
    if run.started_at is None:
        values["started_at"] = at
    if new_attempt:
        values["attempt"] = run.attempt + 1
    lease_free = Q(lease_owner__isnull=True) | Q(lease_expires_at__lt=at)
    if await _write(run, _RESTARTABLE, values, lease_free):
        return
    if run.status in _RESTARTABLE:
        raise RunTakenError(f"run {run.id!r} is executing elsewhere")
    raise RunEndedError(f"run {run.id!r} is {run.status}: it does not execute again")


async def fork_prepared(run: WorkflowRun, *, at: datetime) -> None:
    """Clear a replay's state patch once its forked checkpoint is stored: from then on the
    run continues from there like any other.

    Raises:
        RunTakenError: another execution took the run (its token moved on).
    """
    if not await _write(run, [RunStatus.RUNNING], {"pending_patch": None, "updated_at": at}):
        raise RunTakenError(f"run {run.id!r} is executing elsewhere")


async def record_outcome(
    run: WorkflowRun, outcome: RunOutcome, *, at: datetime, redactor: Redactor | None = None
) -> bool:
    """Store where a run got to: its status, and its outputs or its error.

    Only a row that still says ``running`` under the token this execution took is written:
    a run canceled while it executed stays canceled, a run another worker took over keeps
    that worker's progress, and the outcome is dropped. The lease is released.

    Args:
        run: The row to update (updated in place too).
        outcome: What the last call on the compiled workflow returned.
        at: Now; becomes ``ended_at`` when the run completed or failed.
        redactor: Redacts the outputs (secret values and sensitive keys) and masks the error
            message before they are stored; None stores them as the run returned them.

    Returns:
        Whether the outcome was stored.
    """
    status = RunStatus(outcome.status)
    error = outcome.error
    outputs = outcome.output if status is RunStatus.COMPLETED else None
    message = error.message if error is not None else None
    if redactor is not None:
        outputs = redactor.value(outputs)
        message = redactor.text(message) if message is not None else None
    stored = await _write(
        run,
        (RunStatus.RUNNING,),
        {
            "status": status,
            "outputs": json_value(outputs),
            "error_code": error.kind.value if error is not None else None,
            "error_message": message,
            "ended_at": at if status in _FINAL else None,
            "updated_at": at,
            "pending_answers": None,
            **_NO_LEASE,
        },
    )
    if stored:
        run.outputs = outputs
    return stored


async def record_canceled(run: WorkflowRun, *, at: datetime) -> bool:
    """Store that the run was canceled on request: final, nothing more executes.

    Returns:
        False when the run had ended already (its end stands), or was taken by an execution
        since ``run`` was read (the token moved on: that execution records the cancel).
    """
    return await _write(
        run,
        CANCELABLE,
        {
            "status": RunStatus.CANCELED,
            "ended_at": at,
            "cancel_requested_at": run.cancel_requested_at or at,
            "updated_at": at,
            **_NO_LEASE,
        },
    )


async def record_internal_failure(
    run: WorkflowRun, exc: BaseException, *, at: datetime, code: str = INTERNAL_ERROR
) -> bool:
    """Store that the run stopped on an error outside the workflow; it can be retried.

    Only the exception's type is stored: its message may quote inputs or secret values, and
    the traceback goes to the server's log instead.

    Returns:
        False when the run had ended (or was canceled) already.
    """
    return await _write(
        run,
        (RunStatus.QUEUED, RunStatus.RUNNING),
        {
            "status": RunStatus.FAILED,
            "error_code": code,
            "error_message": f"the run stopped ({type(exc).__name__}) before it finished; retry it",
            "ended_at": at,
            "updated_at": at,
            **_NO_LEASE,
        },
    )


async def _write(
    run: WorkflowRun,
    expected: Collection[RunStatus],
    values: dict[str, Any],
    *conditions: Q,
) -> bool:
    """Update the row only while its status is one of ``expected`` and its fencing token is
    ``run``'s (a compare-and-set: a concurrent cancel, or a newer execution, is never
    overwritten), and ``run`` with it; else read its status and token."""
    updated = await WorkflowRun.filter(
        *conditions, id=run.id, status__in=list(expected), fencing_token=run.fencing_token
    ).update(**values)
    if updated:
        for name, value in values.items():
            setattr(run, name, value)
    else:
        current = await WorkflowRun.get(id=run.id).only("id", "status", "fencing_token")
        run.status = current.status
        run.fencing_token = current.fencing_token
    return bool(updated)
