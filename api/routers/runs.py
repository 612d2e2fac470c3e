"""Runs: ``POST /v1/workflows/{id}/runs`` starts one, ``/v1/runs`` reads the history.

Starting a run needs an operator, reading runs any role. Another tenant's run answers 404 like
a missing one. Only ``mode=sync`` exists so far: the run executes within the request and the
response holds its outcome. Each handler parses the request, calls one service of
``api.services.runs`` and converts its result.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi import status as http_status
from pydantic import BeforeValidator

from api.deps import CurrentPrincipal, ProvidersDep, ToolsDep, require_role
from api.problems import Problem
from api.schemas.runs import DEFAULT_RUN_PAGE, RunCreate, RunMode, RunPage, RunPublic
from api.services import Principal
from api.services import runs as service
from shared.database.models import Role, RunSource, RunStatus
from workflow_compiler.context import RuntimeServices
from workflow_compiler.secrets import MappingSecrets

__all__ = ["router"]

router = APIRouter(tags=["runs"])

Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
WorkflowId = Annotated[str, Path(max_length=64)]
RunId = Annotated[str, Path(max_length=64)]


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "No valid API key.",
        403: "The key's role does not allow this.",
        404: "No such workflow, version or run in the caller's tenant.",
        409: "The workflow has no published version.",
        422: "The request or the run inputs are invalid; `errors` lists every problem.",
    }
    return {code: {"model": Problem, "description": descriptions[code]} for code in codes}


def _now() -> datetime:
    return datetime.now(UTC)


async def _http(request: Request) -> AsyncIterator[httpx.AsyncClient]:
    """The app's shared HTTP client (``app.state.http``) if it has one, else a client for this
    request, closed after it."""
    shared: httpx.AsyncClient | None = getattr(request.app.state, "http", None)
    if shared is not None:
        yield shared
        return
    async with httpx.AsyncClient() as client:
        yield client


async def _runtime_services(
    tools: ToolsDep,
    providers: ProvidersDep,
    http: Annotated[httpx.AsyncClient, Depends(_http)],
) -> RuntimeServices:
    """What the nodes of a run executed in this request use.

    Secrets are an empty ``MappingSecrets`` for now: a spec reading ``secrets.NAME`` fails
    with ``config_error``. The tenant's stored secrets (the secrets issue) replace it.
    """
    return RuntimeServices(tools=tools, models=providers, secrets=MappingSecrets({}), http=http)


Services = Annotated[RuntimeServices, Depends(_runtime_services)]


def _split_commas(value: Any) -> Any:
    """``status=a,b&status=c`` → ``[a, b, c]``: DESIGN §6 multi-value filters are comma lists."""
    if not isinstance(value, list):
        return value
    return [part.strip() for item in value for part in str(item).split(",") if part.strip()]


Statuses = Annotated[list[RunStatus], BeforeValidator(_split_commas)]


@router.post(
    "/workflows/{workflow_id}/runs",
    status_code=http_status.HTTP_201_CREATED,
    responses={
        200: {"model": RunPublic, "description": "The run of this Idempotency-Key, as it is."},
        **_problems(401, 403, 404, 409, 422),
    },
)
async def start_run(
    workflow_id: WorkflowId,
    body: RunCreate,
    principal: Operator,
    services: Services,
    response: Response,
    mode: Annotated[RunMode | None, Query()] = None,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> RunPublic:
    """Start a run of the workflow and execute it within the request (``mode=sync``).

    201 with the run's outcome; 200 with the existing run when ``Idempotency-Key`` was
    already used in this tenant (nothing executes again).
    """
    run, created = await service.start_run(
        principal,
        workflow_id,
        inputs=body.inputs,
        version_number=None if body.version == "published" else body.version,
        tags=body.tags,
        idempotency_key=idempotency_key,
        services=services,
        at=_now(),
    )
    if not created:
        response.status_code = http_status.HTTP_200_OK
    return RunPublic.model_validate(run, from_attributes=True)


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
) -> RunPage:
    """The tenant's runs, newest first, a page at a time, narrowed by the filters given."""
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
    )
    return RunPage(
        items=[RunPublic.model_validate(r, from_attributes=True) for r in page.runs],
        next_cursor=page.next_cursor,
    )


@router.get("/runs/{run_id}", responses=_problems(401, 404))
async def get_run(run_id: RunId, principal: CurrentPrincipal) -> RunPublic:
    """One run, with its outcome so far."""
    run = await service.get_run(principal, run_id)
    return RunPublic.model_validate(run, from_attributes=True)
