"""Bodies of the run routes: starting a run, and runs as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.workflows import StoredSpec
from shared.database.models import RunSource, RunStatus, WorkflowRun

__all__ = [
    "DEFAULT_RUN_PAGE",
    "RunCreate",
    "RunErrorPublic",
    "RunMode",
    "RunPage",
    "RunPublic",
]

DEFAULT_RUN_PAGE = 50
"""How many runs a page holds when the request does not say."""

RunMode = Literal["sync"]
"""How a run is executed: ``sync`` runs it within the request. ``async`` and ``stream`` come
later; until then any other value is refused (422)."""

_Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RunCreate(BaseModel):
    """A run of a workflow's version."""

    model_config = ConfigDict(extra="forbid")

    inputs: StoredSpec = Field(default_factory=dict)
    """The run inputs, checked against the version's input schema."""
    version: Literal["published"] | Annotated[int, Field(ge=1)] = "published"
    """The version number to run, or ``published`` (the default) for the published one."""
    tags: list[_Tag] = Field(default_factory=list, max_length=50)
    mode: RunMode | None = None
    """``sync`` (the default); may also be given as the ``mode`` query parameter."""


class RunErrorPublic(BaseModel):
    """Why a run failed."""

    kind: str
    """The failed node's error kind (``tool_error``, ``timeout``, …)."""
    message: str


class RunPublic(BaseModel):
    """A run as the API shows it."""

    id: str
    workflow_id: str | None
    """Null for ad-hoc runs (not started through the API)."""
    version_number: int | None
    """The version executed; null for ad-hoc runs."""
    status: RunStatus
    source: RunSource
    inputs: dict[str, Any]
    """The validated inputs, defaults applied."""
    outputs: Any
    """The spec's ``output`` once completed; null otherwise."""
    error: RunErrorPublic | None
    tags: list[str]
    attempt: int
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        """A ``WorkflowRun`` (its ``version`` loaded) as the fields above."""
        if not isinstance(value, WorkflowRun):
            return value
        version = value.version
        error = (
            {"kind": value.error_code, "message": value.error_message or ""}
            if value.error_code is not None
            else None
        )
        return {
            "id": value.id,
            "workflow_id": value.workflow_id,
            "version_number": version.version_number if version is not None else None,
            "status": value.status,
            "source": value.source,
            "inputs": value.inputs,
            "outputs": value.outputs,
            "error": error,
            "tags": value.tags,
            "attempt": value.attempt,
            "created_at": value.created_at,
            "started_at": value.started_at,
            "ended_at": value.ended_at,
            "updated_at": value.updated_at,
        }


class RunPage(BaseModel):
    """One page of runs, newest first."""

    items: list[RunPublic]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; null on the last page."""
