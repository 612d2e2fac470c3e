"""Bodies of the audit-log route."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["AuditEventPage", "AuditEventPublic"]


class AuditEventPublic(BaseModel):
    """One change made in the tenant: who, what, when."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    actor: str
    """The id of the API key that made the change."""
    action: str
    """``<noun>.<verb>``: ``workflow.create``, ``run.cancel``, …"""
    target_id: str | None
    """The public id of what was changed, if anything has one."""
    data: dict[str, Any]
    """Details of the change (never secret values)."""
    created_at: datetime


class AuditEventPage(BaseModel):
    """One page of the audit log, newest first."""

    items: list[AuditEventPublic]
    next_cursor: int | None
    """Pass as ``cursor`` for the next (older) page; null on the last page."""
