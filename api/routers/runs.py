"""Runs: starting them (``POST /v1/workflows/{id}/runs``, ``/v1/runs/adhoc``), reading the
history (``/v1/runs``), and acting on a run (resume, retry, rerun, replay, cancel).

Starting or acting on a run needs an operator, reading runs any role. Another tenant's run
answers 404 like a missing one. ``mode=sync`` (the default) answers with the outcome;
``mode=async`` answers 202 with the row at once (``Location`` names it); ``stream=true``
answers with the run's events as Server-Sent Events while it executes in the background.
Each handler parses the request, calls one service of ``api.services.runs``/``run_control``
and converts its result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi import status as http_status
from pydantic import BeforeValidator, StringConstraints

from api.deps import CurrentPrincipal, Operator, RunEventHubDep, SseHeartbeatDep
from api.problems import problem_responses
from api.routers.sse import SSE_MEDIA_TYPE, run_event_stream
from api.schemas.runs import (
    DEFAULT_RUN_PAGE,
    AdhocRunCreate,
    ControlRequest,
    PendingQuestion,
    ReplayRequest,
    ResumeRequest,
    RunCreate,
    RunDetail,
    RunPage,
    RunPublic,
)
from api.services import run_control as control
from api.services import runs as service
from api.services._paging import Order
from api.services.run_executor import RunExecutor
from shared.database.models import RunSource, RunStatus, WorkflowRun

__all__ = ["router"]

router = APIRouter(tags=["runs"])

WorkflowId = Annotated[str, Path(max_length=64)]
RunId = Annotated[str, Path(max_length=64)]
ModeQuery = Annotated[
    service.ExecutionMode | None, Query(description="`sync` (default) or `async`.")
]
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=255)]


async def _executor(request: Request) -> RunExecutor:
    """The app's run executor, made by its lifespan."""
    executor: RunExecutor = request.app.state.runs
    return executor


Executor = Annotated[RunExecutor, Depends(_executor)]

_PROBLEMS = {
    401: "No valid API key.",
    403: "The key's role does not allow this.",
    404: "No such workflow, version, run or checkpoint in the caller's tenant.",
    409: "The run's status does not allow this, or the workflow has no published version.",
    422: "The request, the inputs or the answers are invalid; `errors` lists every problem.",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(_PROBLEMS, *codes)


def _accepted(*, created: bool) -> dict[int | str, dict[str, Any]]:
    ok = 201 if created else 200
    return {
        ok: {"model": RunDetail, "description": "`mode=sync`: the run, stopped."},
        202: {"model": RunDetail, "description": "`mode=async`: the run, queued."},
    }


_STREAMED_OR_EXISTING: dict[str, Any] = {
    "model": RunDetail,
    "description": "`stream=true`: the run's events as Server-Sent Events (`id` = seq, "
    "`event` = kind, `data` = the event as `GET /v1/runs/{id}/events` lists it) until it "
    "stops. Otherwise: the run of this Idempotency-Key, as it is.",
    "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}},
}

StreamQuery = Annotated[
    bool, Query(description="Answer with the run's events as Server-Sent Events.")
]


def _now() -> datetime:
    return datetime.now(UTC)


def _mode(query: service.ExecutionMode | None, body: ControlRequest) -> service.ExecutionMode:
    return query or body.mode or service.ExecutionMode.SYNC


async def _detail(run: WorkflowRun, executor: RunExecutor) -> RunDetail:
    """The run with the questions it waits on."""
    pending = await service.pending_questions(run, executor)
    detail = RunDetail.model_validate(run, from_attributes=True)
    detail.pending = [PendingQuestion.model_validate(p, from_attributes=True) for p in pending]
    return detail


async def _executed(
    run: WorkflowRun, executor: RunExecutor, response: Response, mode: service.ExecutionMode
) -> RunDetail:
    """The answer to a request that executed the run (sync) or queued it (async: 202, with
    ``Location`` naming the run)."""
    if mode is service.ExecutionMode.ASYNC:
        response.status_code = http_status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"/v1/runs/{run.id}"
    return await _detail(run, executor)


@router.post(
    "/workflows/{workflow_id}/runs",
    status_code=http_status.HTTP_201_CREATED,
    response_model=RunDetail,
    responses={
        **_accepted(created=True),
        200: _STREAMED_OR_EXISTING,
        **_problems(401, 403, 404, 409, 422),
    },
)
async def start_run(
    workflow_id: WorkflowId,
    body: RunCreate,
    principal: Operator,
    executor: Executor,
    response: Response,
    hub: RunEventHubDep,
    heartbeat_s: SseHeartbeatDep,
    mode: ModeQuery = None,
    stream: StreamQuery = False,
    idempotency_key: IdempotencyKey = None,
) -> Response | RunDetail:
    """Start a run of the workflow's published version (or of ``version``).

    201 with the outcome (sync), 202 with the queued run (async), 200 with its events as
    Server-Sent Events (stream); 200 with the existing run when ``Idempotency-Key`` was
    already used in this tenant (nothing executes again).
    """
    streamed = stream or body.stream
    run_mode = service.ExecutionMode.ASYNC if streamed else _mode(mode, body)
    run, created = await service.start_run(
        principal,
        workflow_id,
        inputs=body.inputs,
        version_number=None if body.version == "published" else body.version,
        tags=body.tags,
        idempotency_key=idempotency_key,
        mode=run_mode,
        executor=executor,
        at=_now(),
    )
    if streamed:
        return await run_event_stream(
            principal, run.id, after_seq=0, hub=hub, heartbeat_s=heartbeat_s
        )
    detail = await _executed(run, executor, response, run_mode)
    if not created:
        response.status_code = http_status.HTTP_200_OK
    return detail


@router.post(
    "/runs/adhoc",
    status_code=http_status.HTTP_201_CREATED,
    response_model=RunDetail,
    responses={
        **_accepted(created=True),
        200: _STREAMED_OR_EXISTING,
        **_problems(401, 403, 422),
    },
)
async def start_adhoc_run(
    body: AdhocRunCreate,
    principal: Operator,
    executor: Executor,
    response: Response,
    hub: RunEventHubDep,
    heartbeat_s: SseHeartbeatDep,
    mode: ModeQuery = None,
    stream: StreamQuery = False,
    idempotency_key: IdempotencyKey = None,
) -> Response | RunDetail:
    """Run a spec that is not saved as a workflow; the run keeps a copy of it. Answers as
    ``POST /v1/workflows/{id}/runs`` does."""
    streamed = stream or body.stream
    run_mode = service.ExecutionMode.ASYNC if streamed else _mode(mode, body)
    run, created = await service.start_adhoc_run(
        principal,
        body.spec,
        inputs=body.inputs,
        tags=body.tags,
        idempotency_key=idempotency_key,
        mode=run_mode,
        executor=executor,
        at=_now(),
    )
    if streamed:
        return await run_event_stream(
            principal, run.id, after_seq=0, hub=hub, heartbeat_s=heartbeat_s
        )
    detail = await _executed(run, executor, response, run_mode)
    if not created:
        response.status_code = http_status.HTTP_200_OK
    return detail


@router.post(
    "/runs/{run_id}/resume",
    responses={**_accepted(created=False), **_problems(401, 403, 404, 409, 422)},
)
async def resume_run(
    run_id: RunId,
    body: ResumeRequest,
    principal: Operator,
    executor: Executor,
    response: Response,
    mode: ModeQuery = None,
) -> RunDetail:
    """Answer the questions of a run waiting for people (``pending``); it goes on."""
    run_mode = _mode(mode, body)
    run = await control.resume_run(
        principal, run_id, body.answers, mode=run_mode, executor=executor, at=_now()
    )
    return await _executed(run, executor, response, run_mode)


@router.post(
    "/runs/{run_id}/retry",
    responses={**_accepted(created=False), **_problems(401, 403, 404, 409, 422)},
)
async def retry_run(
    run_id: RunId,
    principal: Operator,
    executor: Executor,
    response: Response,
    mode: ModeQuery = None,
    body: ControlRequest | None = None,
) -> RunDetail:
    """Take a failed run up again from the failed node; finished nodes do not execute again."""
    run_mode = _mode(mode, body or ControlRequest())
    run = await control.retry_run(principal, run_id, mode=run_mode, executor=executor, at=_now())
    return await _executed(run, executor, response, run_mode)


@router.post(
    "/runs/{run_id}/rerun",
    status_code=http_status.HTTP_201_CREATED,
    responses={**_accepted(created=True), **_problems(401, 403, 404, 422)},
)
async def rerun(
    run_id: RunId,
    principal: Operator,
    executor: Executor,
    response: Response,
    mode: ModeQuery = None,
    body: ControlRequest | None = None,
) -> RunDetail:
    """Start a new run of the same version with the same inputs (``parent_run_id`` = this)."""
    run_mode = _mode(mode, body or ControlRequest())
    run = await control.rerun(principal, run_id, mode=run_mode, executor=executor, at=_now())
    return await _executed(run, executor, response, run_mode)


@router.post(
    "/runs/{run_id}/replay",
    status_code=http_status.HTTP_201_CREATED,
    responses={**_accepted(created=True), **_problems(401, 403, 404, 422)},
)
async def replay_run(
    run_id: RunId,
    body: ReplayRequest,
    principal: Operator,
    executor: Executor,
    response: Response,
    mode: ModeQuery = None,
) -> RunDetail:
    """Start a new run from one of this run's checkpoints, its state patched as asked."""
    run_mode = _mode(mode, body)
    run = await control.replay_run(
        principal,
        run_id,
        body.checkpoint_id,
        nodes=body.state_patch.nodes,
        inputs=body.state_patch.inputs,
        mode=run_mode,
        executor=executor,
        at=_now(),
    )
    return await _executed(run, executor, response, run_mode)


@router.post("/runs/{run_id}/cancel", responses=_problems(401, 403, 404, 409))
async def cancel_run(run_id: RunId, principal: Operator, executor: Executor) -> RunDetail:
    """Cancel a run that has not ended: queued or waiting at once, executing at its node in
    flight. Answers the run as it is after (``canceled``, or the end it reached first)."""
    run = await control.cancel_run(principal, run_id, executor=executor, at=_now())
    return await _detail(run, executor)


def _split_commas(value: Any) -> Any:
    """``status=a,b&status=c`` → ``[a, b, c]``: DESIGN §6 multi-value filters are comma lists."""
    if not isinstance(value, list):
        return value
    return [part.strip() for item in value for part in str(item).split(",") if part.strip()]


Statuses = Annotated[list[RunStatus], BeforeValidator(_split_commas)]
ErrorKinds = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    BeforeValidator(_split_commas),
]


@router.get("/runs", responses=_problems(401, 422))
async def list_runs(
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=service.MAX_RUN_PAGE)] = DEFAULT_RUN_PAGE,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    workflow_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[Statuses | None, Query(description="Comma list of statuses.")] = None,
    source: Annotated[RunSource | None, Query()] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_before: Annotated[datetime | None, Query()] = None,
    version: Annotated[int | None, Query(ge=1, description="A version number.")] = None,
    error_kind: Annotated[
        ErrorKinds | None, Query(description="Comma list of error kinds of failed runs.")
    ] = None,
    order: Annotated[Order, Query(description="`newest` (default) or `oldest` first.")] = (
        "newest"
    ),
) -> RunPage:
    """The tenant's runs, newest (or oldest) first, a page at a time, narrowed by the
    filters given; they combine."""
    page = await service.list_runs(
        principal,
        limit=limit,
        cursor=cursor,
        workflow_id=workflow_id,
        statuses=status or (),
        source=source,
        tag=tag,
        created_after=created_after,
        created_before=created_before,
        version_number=version,
        error_kinds=error_kind or (),
        order=order,
    )
    return RunPage(
        items=[RunPublic.model_validate(r, from_attributes=True) for r in page.runs],
        next_cursor=page.next_cursor,
    )


@router.get("/runs/{run_id}", responses=_problems(401, 404))
async def get_run(run_id: RunId, principal: CurrentPrincipal, executor: Executor) -> RunDetail:
    """One run, with its outcome so far and the questions it waits on."""
    run = await service.get_run(principal, run_id)
    return await _detail(run, executor)
