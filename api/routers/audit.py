"""``GET /v1/audit-events``: the tenant's audit log, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Admin
from api.problems import Problem
from api.schemas.audit import AuditEventPage, AuditEventPublic
from api.services import MAX_AUDIT_PAGE, list_audit_events

__all__ = ["router"]

router = APIRouter(tags=["audit"])


DEFAULT_AUDIT_PAGE = 50


@router.get(
    "/audit-events",
    responses={
        401: {"model": Problem, "description": "No valid API key."},
        403: {"model": Problem, "description": "Only admins read the audit log."},
        422: {"model": Problem, "description": "An invalid `limit` or `cursor`."},
    },
)
async def list_events(
    principal: Admin,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = DEFAULT_AUDIT_PAGE,
    cursor: Annotated[int | None, Query(ge=1)] = None,
) -> AuditEventPage:
    """Every change made in the tenant (who, what, when), newest first, a page at a time."""
    page = await list_audit_events(principal, limit=limit, cursor=cursor)
    return AuditEventPage(
        items=[AuditEventPublic.model_validate(event) for event in page.events],
        next_cursor=page.next_cursor,
    )
