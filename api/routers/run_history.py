"""A run's history: ``/v1/runs/{id}/steps``, ``/events`` (JSON or SSE), ``/checkpoints``,
and the labels callers put on it (``/tags``, ``/annotations``).

Reading needs any role, changing tags or annotations an operator. Another tenant's run
answers 404 like a missing one. Each handler parses the request, calls one service of
``api.services.run_history`` and converts its result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import (
    CurrentPrincipal,
    Operator,
    RedactorDep,
    RunEventHubDep,
    SseHeartbeatDep,
)
from api.problems import problem_responses
from api.routers.sse import SSE_MEDIA_TYPE, run_event_stream, wants_event_stream
from api.schemas.run_history import (
    DEFAULT_CHECKPOINT_PAGE,
    DEFAULT_EVENT_PAGE,
    DEFAULT_STEP_PAGE,
    AnnotationsPatch,
    CheckpointPage,
    CheckpointPublic,
    CheckpointStatePublic,
    RunEventPage,
    RunEventPublic,
    RunLabelsPublic,
    RunStepPage,
    RunStepPublic,
    TagsUpdate,
)
from api.services import run_history as service
from shared.database.checkpointer import TortoiseSaver

__all__ = ["router"]

router = APIRouter(tags=["run history"])

RunId = Annotated[str, Path(max_length=64)]
CheckpointId = Annotated[str, Path(max_length=64)]

_CHECKPOINTS = TortoiseSaver()
"""The saver holds no connection, so one serves every request."""

_PROBLEMS = {
    401: "No valid API key.",
    403: "The key's role does not allow this.",
    404: "No such run (or checkpoint) in the caller's tenant.",
    422: "The request is invalid; `errors` (or `detail`) names the field.",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(_PROBLEMS, *codes)


@router.get("/runs/{run_id}/steps", responses=_problems(401, 404, 422))
async def list_steps(
    run_id: RunId,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=service.MAX_STEP_PAGE)] = DEFAULT_STEP_PAGE,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> RunStepPage:
    """The run's steps, one per attempt of a node (per body pass), in execution order:
    timings, input and output (secrets masked), error and token usage."""
    page = await service.list_steps(principal, run_id, limit=limit, cursor=cursor)
    return RunStepPage(
        items=[RunStepPublic.model_validate(step) for step in page.steps],
        next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
    )


@router.get(
    "/runs/{run_id}/events",
    response_model=RunEventPage,
    responses={
        200: {
            "description": "A page of events as JSON; or, when `Accept` includes "
            "`text/event-stream`, the events as Server-Sent Events (`id` = seq, `event` = "
            "kind, `data` = the event as JSON) until the run stops producing them.",
            "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **_problems(401, 404, 422),
    },
)
async def list_events(
    run_id: RunId,
    request: Request,
    principal: CurrentPrincipal,
    hub: RunEventHubDep,
    heartbeat_s: SseHeartbeatDep,
    after: Annotated[int, Query(ge=0, description="Only events with a higher seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_EVENT_PAGE)] = DEFAULT_EVENT_PAGE,
    last_event_id: Annotated[
        int | None, Header(ge=0, description="SSE resumption: the last seq received.")
    ] = None,
) -> RunEventPage | StreamingResponse:
    """The run's event stream, from ``after`` (or ``Last-Event-ID``) on.

    As JSON, one page (``limit``) and ``next_after`` to ask for the rest; as SSE, every event
    as it is written, with keep-alive comments while the run is quiet.
    """
    start = last_event_id if last_event_id is not None else after
    if wants_event_stream(request):
        return await run_event_stream(
            principal, run_id, after_seq=start, hub=hub, heartbeat_s=heartbeat_s
        )
    page = await service.list_events(principal, run_id, after=start, limit=limit)
    return RunEventPage(
        items=[RunEventPublic.model_validate(event) for event in page.events],
        next_after=page.next_after,
    )


@router.get("/runs/{run_id}/checkpoints", responses=_problems(401, 404, 422))
async def list_checkpoints(
    run_id: RunId,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=service.MAX_CHECKPOINT_PAGE)] = DEFAULT_CHECKPOINT_PAGE,
    before: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> CheckpointPage:
    """The run's checkpoints, newest first: when each was stored, in which step, and which
    nodes' outputs it holds. Replay a run from one of them."""
    page = await service.list_checkpoints(
        principal, run_id, checkpointer=_CHECKPOINTS, limit=limit, before=before
    )
    return CheckpointPage(
        items=[CheckpointPublic.model_validate(c, from_attributes=True) for c in page.checkpoints],
        next_cursor=page.next_cursor,
    )


@router.get("/runs/{run_id}/checkpoints/{checkpoint_id}/state", responses=_problems(401, 404))
async def checkpoint_state(
    run_id: RunId, checkpoint_id: CheckpointId, principal: CurrentPrincipal, redactor: RedactorDep
) -> CheckpointStatePublic:
    """The run's state at a checkpoint: the inputs, the outputs of the nodes that had run,
    and the nodes due next. Shown redacted like events and steps (values under sensitive
    key names hidden); the stored state keeps them, as later nodes read them."""
    state = await service.checkpoint_state(
        principal, run_id, checkpoint_id, checkpointer=_CHECKPOINTS
    )
    public = CheckpointStatePublic.model_validate(state, from_attributes=True)
    tenant = redactor.for_tenant(principal.tenant_id)
    return public.model_copy(
        update={"inputs": tenant.value(public.inputs), "nodes": tenant.value(public.nodes)}
    )


@router.put("/runs/{run_id}/tags", responses=_problems(401, 403, 404, 422))
async def set_tags(run_id: RunId, body: TagsUpdate, principal: Operator) -> RunLabelsPublic:
    """Replace the run's tags (the run list filters by them); duplicates are dropped."""
    run = await service.set_tags(principal, run_id, body.tags, at=datetime.now(UTC))
    return RunLabelsPublic.model_validate(run, from_attributes=True)


@router.patch("/runs/{run_id}/annotations", responses=_problems(401, 403, 404, 422))
async def update_annotations(
    run_id: RunId, body: AnnotationsPatch, principal: Operator
) -> RunLabelsPublic:
    """Set (a string) or remove (null) some of the run's annotations; others are kept."""
    run = await service.update_annotations(principal, run_id, body.root, at=datetime.now(UTC))
    return RunLabelsPublic.model_validate(run, from_attributes=True)
