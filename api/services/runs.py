"""Runs of saved workflows started through the API, and the run history, read through a principal.

Starting a run (``start_run``) picks the version (the published one unless a number is
given), validates the inputs, writes the run row with its tags, then executes the run here, in
the caller's task, with ``RecordedRun``: the row says ``running`` before the graph executes and
holds the outcome after. Only this synchronous mode exists so far; enqueued (async) runs,
streaming, resume, retry, replay and cancel come later.

``Idempotency-Key``: a run created with a key is unique per tenant (a constraint on the
table). Starting again with the same key returns the first run, as it is now, and executes
nothing; when two requests with one key race, the loser's insert fails on the constraint and
it returns the winner's row. The key does not compare the requests' bodies.

Every query filters on the principal's tenant, so another tenant's run reads as missing
(``RunNotFoundError``, 404).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from api.services._paging import newest_first
from api.services.audit import record_audit
from api.services.execution import RecordedRun
from api.services.keys import Principal
from api.services.run_records import RunNotFoundError
from api.services.workflows import get_version, get_workflow
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import Role, RunSource, RunStatus, RunTag, WorkflowRun
from shared.errors import ConflictError
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.inputs import validate_inputs
from workflow_compiler.lowering import compile_workflow

__all__ = [
    "MAX_RUN_PAGE",
    "NoPublishedVersionError",
    "RunPage",
    "get_run",
    "list_runs",
    "start_run",
]

MAX_RUN_PAGE = 200
"""The most runs one page may hold."""


class NoPublishedVersionError(ConflictError):
    """A run of the published version was asked for, and the workflow has none (409)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPage:
    """One page of runs, newest first; each run's ``version`` is loaded."""

    runs: list[WorkflowRun]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next (older) page; None when this page is the last."""


async def start_run(
    principal: Principal,
    workflow_id: str,
    *,
    inputs: Mapping[str, Any],
    version_number: int | None = None,
    tags: Sequence[str] = (),
    idempotency_key: str | None = None,
    services: RuntimeServices,
    checkpointer: BaseCheckpointSaver | None = None,
    at: datetime,
) -> tuple[WorkflowRun, bool]:
    """Start a run of a version of the workflow and execute it until it stops.

    The run ends ``completed``, ``failed`` (a node failed; the error is on the row) or
    ``waiting_human``. Only failures outside the workflow (a bug, the database going away,
    cancellation) raise; the row then still says ``running``.

    Args:
        principal: Who starts it; at least an operator.
        workflow_id: The tenant's workflow.
        inputs: The run inputs as given; validated against the version's spec.
        version_number: The version to run; None for the published one.
        tags: Labels to filter the run list by; duplicates are dropped.
        idempotency_key: The request's ``Idempotency-Key``: a run already created with it
            is returned instead of starting another.
        services: Tools, providers, secrets and HTTP client the nodes use.
        checkpointer: Where the run's checkpoints go; a ``TortoiseSaver`` when None.
        at: Now (``started_at``, the audit event).

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
    if idempotency_key is not None:
        existing = await _by_idempotency_key(principal, idempotency_key)
        if existing is not None:
            return existing, False
    if version_number is None:
        workflow = await get_workflow(principal, workflow_id)
        if workflow.published_version_number is None:
            raise NoPublishedVersionError(
                f"workflow {workflow_id!r} has no published version: publish one, or name "
                "the version to run"
            )
        version_number = workflow.published_version_number
    version = await get_version(principal, workflow_id, version_number)
    spec = parse_spec(version.spec, tools=services.tools)
    compiled = compile_workflow(spec)
    values = validate_inputs(spec, inputs)
    unique_tags = list(dict.fromkeys(tags))
    try:
        async with in_transaction():
            run = await WorkflowRun.create(
                tenant_id=principal.tenant_id,
                workflow_id=workflow_id,
                version=version,
                spec_hash=version.spec_hash,
                inputs=values,
                status=RunStatus.RUNNING,
                source=RunSource.API,
                tags=unique_tags,
                idempotency_key=idempotency_key,
                started_at=at,
                attempt=1,
            )
            await RunTag.bulk_create(
                [RunTag(tenant_id=principal.tenant_id, run=run, tag=tag) for tag in unique_tags]
            )
            await record_audit(
                principal,
                "run.start",
                run.id,
                at=at,
                detail={"workflow_id": workflow_id, "version_number": version_number},
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        existing = await _by_idempotency_key(principal, idempotency_key)
        if existing is None:
            raise
        return existing, False  # a concurrent request with the same key won
    recorded = RecordedRun(
        record=run, compiled=compiled, checkpointer=checkpointer or TortoiseSaver()
    )
    await recorded.start(services)
    return run, True


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
) -> RunPage:
    """A page of the tenant's runs, newest first, narrowed by the filters given.

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
    runs, next_cursor = await newest_first(
        query.select_related("version"), limit=limit, max_limit=MAX_RUN_PAGE, cursor=cursor
    )
    return RunPage(runs=runs, next_cursor=next_cursor)


async def _by_idempotency_key(principal: Principal, key: str) -> WorkflowRun | None:
    return (
        await WorkflowRun.filter(tenant_id=principal.tenant_id, idempotency_key=key)
        .select_related("version")
        .first()
    )
