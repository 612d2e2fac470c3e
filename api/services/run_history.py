"""What happened in a run, read through a principal: steps, events, checkpoints; and the
labels callers put on a run (tags, annotations).

Everything is read through the caller's tenant: another tenant's run is missing
(``RunNotFoundError``, 404). Steps and events are the rows ``run_events.RecordingSink``
wrote; checkpoints are LangGraph's, read through the checkpointer (thread id = run id).

Following a run's events (``follow_events``) reads the stream from the database, and waits
on the ``RunEventHub`` between reads. It reads the run's status *before* the events: a run's
events are all written before its status changes, so once a status that produces no more
events (``FOLLOW_ENDS``) was read, the events read after it are all there are, and the
stream can end.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from tortoise.transactions import in_transaction

from api.services.audit import record_audit
from api.services.keys import Principal
from api.services.run_events import RunEventHub
from api.services.run_records import RunNotFoundError, run_spec
from api.services.runs import get_run
from shared.database.models import Role, RunEventRecord, RunStatus, RunStep, RunTag, WorkflowRun
from shared.errors import PlaitError
from workflow_compiler.lowering import CheckpointNotFoundError, compile_workflow
from workflow_compiler.lowering.state import INPUTS, OUTPUT_PREFIX
from workflow_compiler.spec import WorkflowSpec

__all__ = [
    "FOLLOW_ENDS",
    "MAX_ANNOTATIONS",
    "MAX_CHECKPOINT_PAGE",
    "MAX_EVENT_PAGE",
    "MAX_STEP_PAGE",
    "AnnotationsInvalidError",
    "CheckpointInfo",
    "CheckpointPage",
    "CheckpointState",
    "EventPage",
    "StepPage",
    "checkpoint_state",
    "follow_events",
    "list_checkpoints",
    "list_events",
    "list_steps",
    "set_tags",
    "update_annotations",
]

MAX_STEP_PAGE = 500
MAX_EVENT_PAGE = 1000
MAX_CHECKPOINT_PAGE = 100
MAX_ANNOTATIONS = 50
"""The most annotations a run may hold."""

FOLLOW_ENDS = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.WAITING_HUMAN}
)
"""Statuses in which a run produces no more events until someone acts on it."""

_FOLLOW_PAGE = 200
"""Events read per query while following a run."""


class AnnotationsInvalidError(PlaitError):
    """An annotations change would leave the run with more than ``MAX_ANNOTATIONS`` (422)."""

    code = "annotations_invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPage:
    """Steps in execution order (the order in which each first started)."""

    steps: list[RunStep]
    next_cursor: int | None
    """Pass as ``cursor`` for the next page; None on the last page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage:
    """Events in ``seq`` order."""

    events: list[RunEventRecord]
    next_after: int
    """The ``seq`` of the last event of the page (``after`` when it is empty): pass it as
    ``after`` for the events that follow, including ones not written yet."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointInfo:
    """One checkpoint of a run's top-level graph."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    created_at: datetime
    step: int | None
    """LangGraph's superstep: -1 for the input checkpoint, then 0, 1, …"""
    source: str | None
    """``input``, ``loop``, ``update`` or ``fork``."""
    nodes: list[str]
    """The spec nodes whose outputs this checkpoint stored (they finished in its step)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointPage:
    """Checkpoints newest first."""

    checkpoints: list[CheckpointInfo]
    next_cursor: str | None
    """Pass as ``before`` for the next (older) page; None on the last page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointState:
    """The run's state as a checkpoint stored it."""

    checkpoint: CheckpointInfo
    inputs: Any
    """The run inputs."""
    nodes: dict[str, Any]
    """Outputs of the top-level nodes that had run (for_each bodies keep their own)."""
    next: list[str]
    """Spec nodes due to execute next from this checkpoint; empty once the run is over."""


async def list_steps(
    principal: Principal, run_id: str, *, limit: int, cursor: int | None = None
) -> StepPage:
    """A page of the run's steps, one per attempt of a node in a scope.

    Raises:
        RunNotFoundError: no such run in the principal's tenant.
        ValueError: ``limit`` is out of range (the caller validates requests before).
    """
    _check_limit(limit, MAX_STEP_PAGE)
    run = await get_run(principal, run_id)
    query = RunStep.filter(run_id=run.id)
    if cursor is not None:
        query = query.filter(id__gt=cursor)
    rows = await query.order_by("id").limit(limit + 1)
    steps = list(rows[:limit])
    return StepPage(steps=steps, next_cursor=steps[-1].id if len(rows) > limit else None)


async def list_events(
    principal: Principal, run_id: str, *, after: int = 0, limit: int
) -> EventPage:
    """The run's events with ``seq`` above ``after``, at most ``limit`` of them.

    Raises:
        RunNotFoundError: no such run in the principal's tenant.
        ValueError: ``limit`` is out of range.
    """
    _check_limit(limit, MAX_EVENT_PAGE)
    run = await get_run(principal, run_id)
    events = await _events_after(run.id, after, limit)
    return EventPage(events=events, next_after=events[-1].seq if events else after)


async def follow_events(
    principal: Principal,
    run_id: str,
    *,
    after: int = 0,
    hub: RunEventHub,
    heartbeat_s: float,
) -> AsyncGenerator[RunEventRecord | None, None]:
    """Follow the run's events from ``seq`` above ``after`` until the run stops producing
    them (its status is in ``FOLLOW_ENDS`` and every event up to then was yielded).

    The run is looked up before this returns, so a missing run raises here rather than
    inside the iteration.

    Returns:
        A generator of events (close it when done), with None whenever ``heartbeat_s``
        passed without any (for the caller to keep its connection alive).

    Raises:
        RunNotFoundError: no such run in the principal's tenant.
    """
    run = await get_run(principal, run_id)
    return _follow(run.id, after, hub, heartbeat_s)


async def _follow(
    run_id: str, after: int, hub: RunEventHub, heartbeat_s: float
) -> AsyncGenerator[RunEventRecord | None, None]:
    with hub.subscribe(run_id) as subscription:
        while True:
            status = await WorkflowRun.filter(id=run_id).first().values_list("status", flat=True)
            while True:
                events = await _events_after(run_id, after, _FOLLOW_PAGE)
                for event in events:
                    yield event
                    after = event.seq
                if len(events) < _FOLLOW_PAGE:
                    break
            if status is None or RunStatus(status) in FOLLOW_ENDS:
                return
            if not await subscription.wait(heartbeat_s):
                yield None


async def list_checkpoints(
    principal: Principal,
    run_id: str,
    *,
    checkpointer: BaseCheckpointSaver,
    limit: int,
    before: str | None = None,
) -> CheckpointPage:
    """A page of the run's checkpoints, newest first.

    Raises:
        RunNotFoundError: no such run in the principal's tenant.
        ValueError: ``limit`` is out of range.
    """
    _check_limit(limit, MAX_CHECKPOINT_PAGE)
    run = await get_run(principal, run_id)
    older = _thread(run.id, before) if before is not None else None
    found = [
        _info(saved)
        async for saved in checkpointer.alist(_thread(run.id), before=older, limit=limit + 1)
    ]
    page = found[:limit]
    return CheckpointPage(
        checkpoints=page, next_cursor=page[-1].checkpoint_id if len(found) > limit else None
    )


async def checkpoint_state(
    principal: Principal, run_id: str, checkpoint_id: str, *, checkpointer: BaseCheckpointSaver
) -> CheckpointState:
    """The state of the run at one of its checkpoints, and what was due next.

    Raises:
        RunNotFoundError: no such run in the principal's tenant.
        CheckpointNotFoundError: the run has no such checkpoint.
    """
    run = await get_run(principal, run_id)
    config = _thread(run.id, checkpoint_id)
    saved = await checkpointer.aget_tuple(config)
    if saved is None:
        raise CheckpointNotFoundError(f"run {run_id!r} has no checkpoint {checkpoint_id!r}")
    compiled = compile_workflow(WorkflowSpec.model_validate(await run_spec(run)))
    graph = compiled.graph.copy({"checkpointer": checkpointer, "auto_validate": False})
    snapshot = await graph.aget_state(config)
    values: Mapping[str, Any] = snapshot.values
    return CheckpointState(
        checkpoint=_info(saved),
        inputs=values.get(INPUTS),
        nodes={
            key.removeprefix(OUTPUT_PREFIX): value
            for key, value in values.items()
            if key.startswith(OUTPUT_PREFIX)
        },
        next=_spec_ids(snapshot.next),
    )


async def set_tags(
    principal: Principal, run_id: str, tags: Sequence[str], *, at: datetime
) -> WorkflowRun:
    """Replace the run's tags (duplicates dropped, order kept).

    ``WorkflowRun.tags`` and the ``RunTag`` rows that the run list filters by change in one
    transaction, so the two never disagree.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        RunNotFoundError: no such run in the principal's tenant.
    """
    principal.require(Role.OPERATOR)
    unique = list(dict.fromkeys(tags))
    async with in_transaction():
        run = await _locked_run(principal, run_id)
        run.tags = unique
        await run.save(update_fields=["tags", "updated_at"])
        await RunTag.filter(run_id=run.id).delete()
        await RunTag.bulk_create(
            [RunTag(tenant_id=principal.tenant_id, run_id=run.id, tag=tag) for tag in unique]
        )
        await record_audit(principal, "run.tag", run.id, at=at, detail={"tags": unique})
    return run


async def update_annotations(
    principal: Principal, run_id: str, changes: Mapping[str, str | None], *, at: datetime
) -> WorkflowRun:
    """Merge ``changes`` into the run's annotations: a string sets its key, None removes it.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        RunNotFoundError: no such run in the principal's tenant.
        AnnotationsInvalidError: the run would hold more than ``MAX_ANNOTATIONS``.
    """
    principal.require(Role.OPERATOR)
    async with in_transaction():
        run = await _locked_run(principal, run_id)
        merged = {key: value for key, value in run.annotations.items() if key not in changes}
        merged |= {key: value for key, value in changes.items() if value is not None}
        if len(merged) > MAX_ANNOTATIONS:
            raise AnnotationsInvalidError(
                f"body: a run holds at most {MAX_ANNOTATIONS} annotations; this change "
                f"would leave {len(merged)}"
            )
        run.annotations = merged
        await run.save(update_fields=["annotations", "updated_at"])
        await record_audit(
            principal, "run.annotate", run.id, at=at, detail={"keys": sorted(changes)}
        )
    return run


async def _locked_run(principal: Principal, run_id: str) -> WorkflowRun:
    """The run, locked for update within the caller's transaction (PostgreSQL; SQLite
    serializes writers anyway), so that concurrent changes of its labels do not lose one
    another's."""
    run = (
        await WorkflowRun.filter(id=run_id, tenant_id=principal.tenant_id)
        .select_for_update()
        .first()
    )
    if run is None:
        raise RunNotFoundError(f"no run {run_id!r}")
    return run


async def _events_after(run_id: str, after: int, limit: int) -> list[RunEventRecord]:
    return await RunEventRecord.filter(run_id=run_id, seq__gt=after).order_by("seq").limit(limit)


def _check_limit(limit: int, max_limit: int) -> None:
    if not 1 <= limit <= max_limit:
        raise ValueError(f"limit must be between 1 and {max_limit}, not {limit}")


def _thread(run_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    """The config naming the run's top-level graph (for_each bodies have namespaces of
    their own), or one of its checkpoints."""
    configurable: dict[str, Any] = {"thread_id": run_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _info(saved: CheckpointTuple) -> CheckpointInfo:
    checkpoint = saved.checkpoint
    metadata = saved.metadata or {}
    parent = saved.parent_config
    updated = checkpoint.get("updated_channels") or ()
    return CheckpointInfo(
        checkpoint_id=checkpoint["id"],
        parent_checkpoint_id=parent["configurable"].get("checkpoint_id") if parent else None,
        created_at=datetime.fromisoformat(checkpoint["ts"]),
        step=metadata.get("step"),
        source=metadata.get("source"),
        nodes=[c.removeprefix(OUTPUT_PREFIX) for c in updated if c.startswith(OUTPUT_PREFIX)],
    )


def _spec_ids(names: Sequence[str]) -> list[str]:
    """LangGraph node names as spec ids: a synthetic ``<id>.<role>`` node is its spec node's."""
    return list(dict.fromkeys(name.partition(".")[0] for name in names))
