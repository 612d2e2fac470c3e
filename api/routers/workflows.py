"""``/v1/workflows``: workflows, their draft, their versions, and spec validation.

Reading needs any role, writing needs an operator, deleting a workflow needs an admin. Another
tenant's workflow answers 404 like a missing one. Each handler parses the request, calls one
service of ``api.services.workflows`` and converts its result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import Admin, CurrentPrincipal, Operator, ToolsDep
from api.problems import problem_responses
from api.schemas.workflows import (
    DEFAULT_WORKFLOW_PAGE,
    DraftPublic,
    DraftUpdate,
    GraphPublic,
    SpecIssuePublic,
    SpecValidate,
    ValidationPublic,
    VersionPublic,
    WorkflowCreate,
    WorkflowPage,
    WorkflowPublic,
    WorkflowUpdate,
)
from api.services import workflows as service

__all__ = ["router"]

router = APIRouter(prefix="/workflows", tags=["workflows"])


WorkflowId = Annotated[str, Path(max_length=64)]
VersionNumber = Annotated[int, Path(ge=1)]


_PROBLEMS = {
    401: "No valid API key.",
    403: "The key's role does not allow this.",
    404: "No such workflow (or version) in the caller's tenant.",
    409: "The request contradicts the current state.",
    422: "The request (or the spec) is invalid; `errors` lists every problem.",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(_PROBLEMS, *codes)


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_problems(401, 403, 422))
async def create_workflow(body: WorkflowCreate, principal: Operator) -> WorkflowPublic:
    """Create a workflow and its draft (revision 1)."""
    workflow = await service.create_workflow(
        principal,
        name=body.name,
        description=body.description,
        tags=body.tags,
        spec=body.spec,
        at=_now(),
    )
    return WorkflowPublic.model_validate(workflow, from_attributes=True)


@router.get("", responses=_problems(401, 422))
async def list_workflows(
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=service.MAX_WORKFLOW_PAGE)] = DEFAULT_WORKFLOW_PAGE,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> WorkflowPage:
    """The tenant's workflows, newest first, a page at a time."""
    page = await service.list_workflows(principal, limit=limit, cursor=cursor)
    return WorkflowPage(
        items=[WorkflowPublic.model_validate(w, from_attributes=True) for w in page.workflows],
        next_cursor=page.next_cursor,
    )


@router.post("/validate", responses=_problems(401, 422))
async def validate_spec(
    body: SpecValidate, principal: CurrentPrincipal, tools: ToolsDep
) -> ValidationPublic:
    """Run the static checks on any spec; the answer lists every error and warning."""
    report = service.validate_spec(body.spec, tools=tools)
    return ValidationPublic(
        ok=report.ok,
        errors=[SpecIssuePublic(path=i.path, message=i.message) for i in report.errors],
        warnings=[SpecIssuePublic(path=i.path, message=i.message) for i in report.warnings],
    )


@router.get("/{workflow_id}", responses=_problems(401, 404))
async def get_workflow(workflow_id: WorkflowId, principal: CurrentPrincipal) -> WorkflowPublic:
    """One workflow."""
    workflow = await service.get_workflow(principal, workflow_id)
    return WorkflowPublic.model_validate(workflow, from_attributes=True)


@router.patch("/{workflow_id}", responses=_problems(401, 403, 404, 422))
async def update_workflow(
    workflow_id: WorkflowId, body: WorkflowUpdate, principal: Operator
) -> WorkflowPublic:
    """Change a workflow's name, description or tags; absent fields are kept."""
    workflow = await service.update_workflow(
        principal,
        workflow_id,
        name=body.name,
        description=body.description,
        tags=body.tags,
        at=_now(),
    )
    return WorkflowPublic.model_validate(workflow, from_attributes=True)


@router.delete(
    "/{workflow_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_problems(401, 403, 404),
)
async def delete_workflow(workflow_id: WorkflowId, principal: Admin) -> Response:
    """Delete a workflow with its draft, versions and runs."""
    await service.delete_workflow(principal, workflow_id, at=_now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{workflow_id}/draft", responses=_problems(401, 404))
async def get_draft(workflow_id: WorkflowId, principal: CurrentPrincipal) -> DraftPublic:
    """The workflow's editable spec and its revision."""
    draft = await service.get_draft(principal, workflow_id)
    return DraftPublic.model_validate(draft, from_attributes=True)


@router.patch("/{workflow_id}/draft", responses=_problems(401, 403, 404, 409, 422))
async def update_draft(
    workflow_id: WorkflowId, body: DraftUpdate, principal: Operator
) -> DraftPublic:
    """Replace the draft's spec; 409 when the draft is no longer at ``base_revision``."""
    draft = await service.update_draft(
        principal, workflow_id, base_revision=body.base_revision, spec=body.spec, at=_now()
    )
    return DraftPublic.model_validate(draft, from_attributes=True)


@router.post(
    "/{workflow_id}/versions",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": VersionPublic, "description": "The draft's spec is already a version."},
        **_problems(401, 403, 404, 409, 422),
    },
)
async def create_version(
    workflow_id: WorkflowId, principal: Operator, tools: ToolsDep, response: Response
) -> VersionPublic:
    """Freeze the draft as a new version (201), or return the version holding its spec (200)."""
    version, created = await service.create_version(principal, workflow_id, tools=tools, at=_now())
    if not created:
        response.status_code = status.HTTP_200_OK
    return VersionPublic.model_validate(version, from_attributes=True)


@router.get("/{workflow_id}/versions", responses=_problems(401, 404))
async def list_versions(
    workflow_id: WorkflowId, principal: CurrentPrincipal
) -> list[VersionPublic]:
    """Every version of the workflow, oldest first."""
    versions = await service.list_versions(principal, workflow_id)
    return [VersionPublic.model_validate(v, from_attributes=True) for v in versions]


@router.get("/{workflow_id}/versions/{number}", responses=_problems(401, 404, 422))
async def get_version(
    workflow_id: WorkflowId, number: VersionNumber, principal: CurrentPrincipal
) -> VersionPublic:
    """One version of the workflow, by its number."""
    version = await service.get_version(principal, workflow_id, number)
    return VersionPublic.model_validate(version, from_attributes=True)


@router.post(
    "/{workflow_id}/versions/{number}/publish", responses=_problems(401, 403, 404, 409, 422)
)
async def publish_version(
    workflow_id: WorkflowId, number: VersionNumber, principal: Operator
) -> VersionPublic:
    """Make this version the one the workflow runs; the previous one goes back to draft."""
    version = await service.publish_version(principal, workflow_id, number, at=_now())
    return VersionPublic.model_validate(version, from_attributes=True)


@router.post(
    "/{workflow_id}/versions/{number}/archive", responses=_problems(401, 403, 404, 409, 422)
)
async def archive_version(
    workflow_id: WorkflowId, number: VersionNumber, principal: Operator
) -> VersionPublic:
    """Retire this version; 409 while it is the published one."""
    version = await service.archive_version(principal, workflow_id, number, at=_now())
    return VersionPublic.model_validate(version, from_attributes=True)


@router.get("/{workflow_id}/versions/{number}/graph", responses=_problems(401, 404, 422))
async def get_version_graph(
    workflow_id: WorkflowId, number: VersionNumber, principal: CurrentPrincipal, tools: ToolsDep
) -> GraphPublic:
    """The version's compiled graph as a Mermaid diagram."""
    mermaid = await service.version_graph(principal, workflow_id, number, tools=tools)
    return GraphPublic(mermaid=mermaid)
