"""The audit log: who changed what, written by the services that make changes, read by admins.

Events are append-only and read newest first, a page at a time. The cursor is the id of the
last event of the previous page: ids grow with every insert, so a page never repeats or skips
an event when new ones arrive between requests (an offset would shift).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.services._paging import page_by_id
from api.services.keys import Principal
from shared.database.models import AuditEvent, Role

__all__ = ["MAX_AUDIT_PAGE", "AuditPage", "list_audit_events", "record_audit"]

MAX_AUDIT_PAGE = 500
"""The most events one page may hold."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditPage:
    """One page of audit events, newest first."""

    events: list[AuditEvent]
    next_cursor: int | None
    """Pass as ``cursor`` to get the next (older) page; None when this page is the last."""


async def record_audit(
    principal: Principal,
    action: str,
    target_id: str | None,
    *,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append what ``principal`` did to the log of its tenant.

    There is no separate target type: ``action`` is ``<noun>.<verb>`` (``secret.delete``) and
    the noun says what ``target_id`` names.

    Args:
        principal: Who acted; the key's id is recorded as the actor.
        action: What was done, ``<noun>.<verb>``.
        target_id: The public id of the row acted on, if any.
        at: When it was done.
        detail: Details of the change; never secret values.

    Returns:
        The stored event.
    """
    return await AuditEvent.create(
        tenant_id=principal.tenant_id,
        actor=principal.key_id,
        action=action,
        target_id=target_id,
        data=detail or {},
        created_at=at,
    )


async def list_audit_events(
    principal: Principal, *, limit: int, cursor: int | None = None
) -> AuditPage:
    """A page of the audit log of the principal's tenant, newest first.

    Args:
        principal: Who asks; must be an admin.
        limit: The most events to return, 1 to ``MAX_AUDIT_PAGE``.
        cursor: ``next_cursor`` of the previous page; None for the newest events.

    Returns:
        The events and the cursor of the next page.

    Raises:
        PermissionDeniedError: the principal is not an admin.
        ValueError: ``limit`` is out of range (the caller validates requests before).
    """
    principal.require(Role.ADMIN)
    events, next_cursor = await page_by_id(
        AuditEvent.filter(tenant_id=principal.tenant_id),
        limit=limit,
        max_limit=MAX_AUDIT_PAGE,
        cursor=cursor,
    )
    return AuditPage(events=events, next_cursor=next_cursor)
