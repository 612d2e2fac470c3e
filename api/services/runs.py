"""Starting runs through the API, and reading the run history, through a principal.

A run is started on a saved workflow's version (the published one unless a number is given)
or on an ad-hoc spec (``start_adhoc_run``). Either way the inputs are validated, the row is
written with its tags, then the run is handed to the ``RunExecutor``: ``sync`` waits for the
outcome (completed, failed or waiting_human) and returns the row holding it, ``async``
returns the row at once, ``queued``, while the run executes in the background.

``Idempotency-Key``: a run created with a key is unique per tenant (a constraint on the
table). Starting again with the same key returns the first run, as it is now, and executes
nothing; when two requests with one key race, the loser's insert fails on the constraint and
it returns the winner's row. The key does not compare the requests' bodies.

Every query filters on the principal's tenant, so another tenant's run reads as missing
(``RunNotFoundError``, 404). What happens to a run after it started (resume, retry, rerun,
replay, cancel) is in ``run_control``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from api.services._paging import Order, page_by_id
from api.services.audit import record_audit
from api.services.checked_specs import checked_run_workflow, checked_workflow
from api.services.execution import RecordedRun
from api.services.keys import Principal
from api.services.run_executor import RunAction, RunExecutor
from api.services.run_records import RunNotFoundError, run_spec
from api.services.workflows import get_version, get_workflow
from shared.database.models import (
    Role,
    RunSource,
    RunStatus,
    RunTag,
    WorkflowRun,
    WorkflowVersion,
)
from shared.errors import ConflictError
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import (
    CompiledWorkflow,
    PendingInput,
    RunOutcome,
    compile_workflow,
)
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import WorkflowSpec

__all__ = [
    "MAX_RUN_PAGE",
    "ExecutionMode",
    "NewRun",
    "NoPublishedVersionError",
    "RunPage",
    "compiled_run",
    "continue_action",
    "create_api_run",
    "execute",
    "get_run",
    "list_runs",
    "pending_questions",
    "start_action",
    "start_adhoc_run",
    "start_run",
    "take_up",
    "take_up_action",
]

MAX_RUN_PAGE = 200
"""The most runs one page may hold."""


class ExecutionMode(StrEnum):
    """Whether the caller waits for a run's outcome."""

    SYNC = "sync"
    """Execute now and return the outcome: completed, failed or waiting_human."""
    ASYNC = "async"
    """Return the ``queued`` row at once; the run executes in the background."""


class NoPublishedVersionError(ConflictError):
    """A run of the published version was asked for, and the workflow has none (409)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPage:
    """One page of runs, newest first; each run's ``version`` is loaded."""

    runs: list[WorkflowRun]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next (older) page; None when this page is the last."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRun:
    """What the row of a run about to be created holds, besides its tenant and status."""

    compiled: CompiledWorkflow
    """The checked spec to execute (the version's, or the ad-hoc one), compiled."""
    inputs: Mapping[str, Any]
    """Validated inputs, defaults applied."""
    version: WorkflowVersion | None = None
    """The saved version executed; None for an ad-hoc run, whose spec the row keeps."""
    source: RunSource = RunSource.API
    tags: Sequence[str] = ()
    idempotency_key: str | None = None
    parent_run_id: str | None = None
    """Lineage: the run this one reruns or replays."""
    forked_from_checkpoint_id: str | None = None
    patch: Mapping[str, Any] | None = None
    """A replay's state patch (channel → value), carried out by the run's first execution."""


async def start_run(
    principal: Principal,
    workflow_id: str,
    *,
    inputs: Mapping[str, Any],
    version_number: int | None = None,
    tags: Sequence[str] = (),
    idempotency_key: str | None = None,
    mode: ExecutionMode = ExecutionMode.SYNC,
    executor: RunExecutor,
    at: datetime,
) -> tuple[WorkflowRun, bool]:
    """Start a run of a version of the workflow.

    Args:
        principal: Who starts it; at least an operator.
        workflow_id: The tenant's workflow.
        inputs: The run inputs as given; validated against the version's spec.
        version_number: The version to run; None for the published one.
        tags: Labels to filter the run list by; duplicates are dropped.
        idempotency_key: The request's ``Idempotency-Key``: a run already created with it
            is returned instead of starting another.
        mode: Wait for the outcome (sync) or not (async).
        executor: Executes the run.
        at: Now (``created``/``started_at``, the audit event).

    Returns:
        The run's row (its ``version`` loaded), and whether it was started now (False: the
        existing run of ``idempotency_key``).

    Raises:
        PermissionDeniedError: the principal is a viewer.
        WorkflowNotFoundError: no such workflow in the principal's tenant.
        NoPublishedVersionError: no version given, and none is published.
        VersionNotFoundError: the workflow has no version ``version_number``.
        SpecInvalidError: the version no longer passes the checks (a tool it names is gone).
        InputsInvalidError: ``inputs`` fail the spec's input schema (nothing is written).
    """
    principal.require(Role.OPERATOR)

    async def new_run() -> NewRun:
        number = version_number
        if number is None:
            workflow = await get_workflow(principal, workflow_id)
            if workflow.published_version_number is None:
                raise NoPublishedVersionError(
                    f"workflow {workflow_id!r} has no published version: publish one, or "
                    "name the version to run"
                )
            number = workflow.published_version_number
        version = await get_version(principal, workflow_id, number)
        compiled = checked_workflow(version.spec, version.spec_hash, tools=executor.services.tools)
        return NewRun(
            compiled=compiled,
            inputs=compiled.validate_inputs(inputs),
            version=version,
            tags=tags,
            idempotency_key=idempotency_key,
        )

    return await _start(principal, idempotency_key, new_run, mode=mode, executor=executor, at=at)


async def start_adhoc_run(
    principal: Principal,
    spec: object,
    *,
    inputs: Mapping[str, Any],
    tags: Sequence[str] = (),
    idempotency_key: str | None = None,
    mode: ExecutionMode = ExecutionMode.SYNC,
    executor: RunExecutor,
    at: datetime,
) -> tuple[WorkflowRun, bool]:
    """Start a run of a spec that is not saved as a workflow; the row keeps the spec.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        SpecInvalidError: the spec fails the static checks (nothing is written).
        InputsInvalidError: ``inputs`` fail the spec's input schema (nothing is written).
    """
    principal.require(Role.OPERATOR)

    async def new_run() -> NewRun:
        compiled = compile_workflow(parse_spec(spec, tools=executor.services.tools))
        return NewRun(
            compiled=compiled,
            inputs=compiled.validate_inputs(inputs),
            tags=tags,
            idempotency_key=idempotency_key,
        )

    return await _start(principal, idempotency_key, new_run, mode=mode, executor=executor, at=at)


async def _start(
    principal: Principal,
    idempotency_key: str | None,
    new_run: Callable[[], Awaitable[NewRun]],
    *,
    mode: ExecutionMode,
    executor: RunExecutor,
    at: datetime,
) -> tuple[WorkflowRun, bool]:
    """The run of ``idempotency_key`` if there is one; else create the run ``new_run``
    describes (it raises what makes the request invalid) and execute it."""
    if idempotency_key is not None:
        existing = await _by_idempotency_key(principal, idempotency_key)
        if existing is not None:
            return existing, False
    new = await new_run()
    try:
        run = await create_api_run(principal, new, at=at)
    except IntegrityError:
        if idempotency_key is None:
            raise
        existing = await _by_idempotency_key(principal, idempotency_key)
        if existing is None:
            raise
        return existing, False  # a concurrent request with the same key won
    await take_up(run, new.compiled, mode=mode, executor=executor)
    return run, True


async def start_action(run: RecordedRun, services: RuntimeServices) -> RunOutcome:
    """Execute a new run from the beginning (a ``RunAction``)."""
    return await run.start(services)


async def continue_action(run: RecordedRun, services: RuntimeServices) -> RunOutcome:
    """Take a run up from its last checkpoint, in its next attempt (a ``RunAction``)."""
    return await run.continue_run(services)


def take_up_action(run: WorkflowRun) -> RunAction:
    """What executing the run from its row alone means: resume it with the answers a resume
    left on the row, fork a replay with the patch it left, start it if it never started,
    else continue it from its last checkpoint. A queue message carries only the run id, so
    this is what a worker does with one."""
    if run.pending_answers is not None:
        answers = dict(run.pending_answers)

        async def resume(recorded: RecordedRun, services: RuntimeServices) -> RunOutcome:
            return await recorded.resume(answers, services)

        return resume
    if run.pending_patch is not None:
        patch = dict(run.pending_patch)
        parent_id, checkpoint_id = run.parent_run_id, run.forked_from_checkpoint_id
        assert parent_id is not None, "a replay names its parent"
        assert checkpoint_id is not None, "a replay names its checkpoint"

        async def fork(recorded: RecordedRun, services: RuntimeServices) -> RunOutcome:
            return await recorded.fork(parent_id, checkpoint_id, patch, services)

        return fork
    return start_action if run.attempt == 0 else continue_action


async def create_api_run(principal: Principal, new: NewRun, *, at: datetime) -> WorkflowRun:
    """Write a run's row, its tag rows and the audit event, in one transaction.

    The run is ``queued`` until an execution takes it (``mark_running``): right away in the
    caller's request (sync), or in a worker (async).

    Raises:
        IntegrityError: ``new.idempotency_key`` is taken in the tenant.
    """
    unique_tags = list(dict.fromkeys(new.tags))
    version = new.version
    async with in_transaction():
        run = await WorkflowRun.create(
            tenant_id=principal.tenant_id,
            workflow_id=version.workflow_id if version is not None else None,
            version=version,
            spec=(
                None
                if version is not None
                else new.compiled.spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
            ),
            spec_hash=new.compiled.spec_hash,
            inputs=dict(new.inputs),
            status=RunStatus.QUEUED,
            source=new.source,
            tags=unique_tags,
            idempotency_key=new.idempotency_key,
            parent_run_id=new.parent_run_id,
            forked_from_checkpoint_id=new.forked_from_checkpoint_id,
            pending_patch=dict(new.patch) if new.patch is not None else None,
        )
        await RunTag.bulk_create(
            [RunTag(tenant_id=principal.tenant_id, run=run, tag=tag) for tag in unique_tags]
        )
        detail: dict[str, Any] = {"source": str(new.source)}
        if version is not None:
            detail |= {"workflow_id": version.workflow_id, "version_number": version.version_number}
        if new.parent_run_id is not None:
            detail["parent_run_id"] = new.parent_run_id
        await record_audit(principal, "run.start", run.id, at=at, detail=detail)
    return run


async def execute(
    run: WorkflowRun,
    compiled: CompiledWorkflow,
    action: RunAction,
    *,
    mode: ExecutionMode,
    executor: RunExecutor,
) -> None:
    """Hand ``action`` on ``run`` to the executor; in sync mode, wait until it stops.

    The row is updated in place with the outcome.
    """
    task = executor.submit(run, compiled, action)
    if mode is ExecutionMode.SYNC:
        await asyncio.shield(task)


async def take_up(
    run: WorkflowRun, compiled: CompiledWorkflow, *, mode: ExecutionMode, executor: RunExecutor
) -> None:
    """Execute the run from where its row says it is (``take_up_action``): here, waited for
    (sync), or through the executor's queue, on a worker (async).

    The row is updated in place with a sync outcome.
    """
    if mode is ExecutionMode.SYNC:
        await execute(run, compiled, take_up_action(run), mode=mode, executor=executor)
    else:
        await executor.enqueue(run, compiled)


async def compiled_run(run: WorkflowRun, tools: ToolRegistry) -> CompiledWorkflow:
    """The compiled workflow a stored run executes (its version's spec, or its snapshot).

    Raises:
        SpecInvalidError: the spec no longer passes the checks (a tool it names is gone).
    """
    return await checked_run_workflow(run, tools=tools)


async def pending_questions(run: WorkflowRun, executor: RunExecutor) -> list[PendingInput]:
    """What a run waiting for people asks; empty for a run in any other status.

    The spec is compiled without its checks: showing a run must work even after a tool it
    names was uninstalled (resuming it then fails, with a clear problem).
    """
    if run.status is not RunStatus.WAITING_HUMAN:
        return []
    compiled = compile_workflow(WorkflowSpec.model_validate(await run_spec(run)))
    return await compiled.pending(run.id, executor.checkpointer)


async def get_run(principal: Principal, run_id: str) -> WorkflowRun:
    """The tenant's run ``run_id``, its ``version`` loaded.

    Raises:
        RunNotFoundError: no such run in the principal's tenant.
    """
    run = (
        await WorkflowRun.filter(id=run_id, tenant_id=principal.tenant_id)
        .select_related("version")
        .first()
    )
    if run is None:
        raise RunNotFoundError(f"no run {run_id!r}")
    return run


async def list_runs(
    principal: Principal,
    *,
    limit: int,
    cursor: str | None = None,
    workflow_id: str | None = None,
    statuses: Collection[RunStatus] = (),
    source: RunSource | None = None,
    tag: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    version_number: int | None = None,
    error_kinds: Collection[str] = (),
    order: Order = "newest",
) -> RunPage:
    """A page of the tenant's runs, newest (or oldest) first, narrowed by the filters given.

    Args:
        principal: Who asks; any role.
        limit: The most runs to return, 1 to ``MAX_RUN_PAGE``.
        cursor: ``next_cursor`` of the previous page; None for the newest runs.
        workflow_id: Only runs of this workflow.
        statuses: Only runs in one of these statuses; every status when empty.
        source: Only runs started this way.
        tag: Only runs carrying this tag.
        created_after: Only runs created at or after this time.
        created_before: Only runs created before this time.
        version_number: Only runs of this version number (of any workflow, unless
            ``workflow_id`` is given too).
        error_kinds: Only failed runs whose error is of one of these kinds.
        order: ``newest`` (the default) or ``oldest`` first.

    Raises:
        ValueError: ``limit`` is out of range (the caller validates requests before).
    """
    query = WorkflowRun.filter(tenant_id=principal.tenant_id)
    if workflow_id is not None:
        query = query.filter(workflow_id=workflow_id)
    if statuses:
        query = query.filter(status__in=list(statuses))
    if source is not None:
        query = query.filter(source=source)
    if tag is not None:
        tagged = RunTag.filter(tenant_id=principal.tenant_id, tag=tag).values_list(
            "run_id", flat=True
        )
        query = query.filter(id__in=Subquery(tagged))
    if created_after is not None:
        query = query.filter(created_at__gte=created_after)
    if created_before is not None:
        query = query.filter(created_at__lt=created_before)
    if version_number is not None:
        query = query.filter(version__version_number=version_number)
    if error_kinds:
        query = query.filter(error_code__in=list(error_kinds))
    runs, next_cursor = await page_by_id(
        query.select_related("version"),
        limit=limit,
        max_limit=MAX_RUN_PAGE,
        cursor=cursor,
        order=order,
    )
    return RunPage(runs=runs, next_cursor=next_cursor)


async def _by_idempotency_key(principal: Principal, key: str) -> WorkflowRun | None:
    return (
        await WorkflowRun.filter(tenant_id=principal.tenant_id, idempotency_key=key)
        .select_related("version")
        .first()
    )
