"""Bodies of the workflow routes: workflows, their draft, their versions, spec validation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from shared.database.models import VersionStatus

__all__ = [
    "DEFAULT_WORKFLOW_PAGE",
    "MAX_SPEC_DEPTH",
    "DraftPublic",
    "DraftUpdate",
    "GraphPublic",
    "SpecIssuePublic",
    "SpecValidate",
    "ValidationPublic",
    "VersionPublic",
    "WorkflowCreate",
    "WorkflowPage",
    "WorkflowPublic",
    "WorkflowUpdate",
]

DEFAULT_WORKFLOW_PAGE = 50
"""How many workflows a page holds when the request does not say."""

MAX_SPEC_DEPTH = 64
"""How deeply arrays and objects may nest in a stored spec. Real specs stay far below; the JSON
encoder of the database layer refuses anything deeper than 255 levels, which would otherwise
fail the request after it was accepted."""

_Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _shallow(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` itself, if no array or object in it nests deeper than ``MAX_SPEC_DEPTH``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_SPEC_DEPTH:
            raise ValueError(f"the spec nests deeper than {MAX_SPEC_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return value


StoredSpec = Annotated[dict[str, Any], AfterValidator(_shallow)]
"""Any JSON object that the database can store."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkflowCreate(_Request):
    """A new workflow; its draft starts at revision 1 holding ``spec`` (``{}`` when absent)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    tags: list[_Tag] = Field(default_factory=list, max_length=50)
    spec: StoredSpec | None = None
    """The draft's first spec; it may fail the static checks (a draft is work in progress)."""


class WorkflowUpdate(_Request):
    """The fields to change; absent fields keep their value."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    tags: list[_Tag] | None = Field(default=None, max_length=50)


class WorkflowPublic(BaseModel):
    """A workflow as the API shows it."""

    id: str
    name: str
    description: str
    tags: list[str]
    published_version_number: int | None
    """The version runs use when none is named; null until one is published."""
    created_at: datetime
    updated_at: datetime


class WorkflowPage(BaseModel):
    """One page of workflows, newest first."""

    items: list[WorkflowPublic]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; null on the last page."""


class DraftUpdate(_Request):
    """A new spec for the draft, naming the revision it was based on."""

    base_revision: int = Field(ge=1)
    """The ``revision`` the client read; when the draft has moved on since, the write is 409."""
    spec: StoredSpec
    """Any JSON object; it is stored as is, even when it fails the static checks."""


class DraftPublic(BaseModel):
    """A workflow's editable spec."""

    workflow_id: str
    spec: dict[str, Any]
    revision: int
    updated_at: datetime


class VersionPublic(BaseModel):
    """A frozen spec of a workflow."""

    id: str
    workflow_id: str
    version_number: int
    spec: dict[str, Any]
    spec_hash: str
    status: VersionStatus
    created_from_draft_revision: int | None
    created_at: datetime


class GraphPublic(BaseModel):
    """The compiled graph of a version, as Mermaid text."""

    mermaid: str


class SpecValidate(_Request):
    """A spec to run the static checks on; any JSON value is judged."""

    spec: Any
    """Usually an object; anything else is reported as an error, never refused."""


class SpecIssuePublic(BaseModel):
    """One finding of the static checks, at its JSON path in the spec."""

    path: str
    message: str


class ValidationPublic(BaseModel):
    """What the static checks found."""

    ok: bool
    """Whether the spec can become a version (warnings do not count)."""
    errors: list[SpecIssuePublic]
    warnings: list[SpecIssuePublic]
