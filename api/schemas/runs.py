"""Bodies of the run routes: starting a run, and runs as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas.workflows import StoredSpec
from api.services.runs import ExecutionMode
from shared.database.models import RunSource, RunStatus, WorkflowRun

__all__ = [
    "DEFAULT_RUN_PAGE",
    "AdhocRunCreate",
    "ControlRequest",
    "PendingQuestion",
    "ReplayRequest",
    "ResumeRequest",
    "RunCreate",
    "RunDetail",
    "RunErrorPublic",
    "RunPage",
    "RunPublic",
    "StatePatch",
]

DEFAULT_RUN_PAGE = 50
"""How many runs a page holds when the request does not say."""

_Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ControlRequest(BaseModel):
    """How to execute what a request starts (retry, rerun, cancel take nothing else)."""

    model_config = ConfigDict(extra="forbid")

    mode: ExecutionMode | None = None
    """``sync`` (the default): answer with the outcome. ``async``: answer 202 at once with
    the run ``queued``, and follow it at ``GET /v1/runs/{id}`` or its events. May also be
    given as the ``mode`` query parameter."""


class RunCreate(ControlRequest):
    """A run of a workflow's version."""

    inputs: StoredSpec = Field(default_factory=dict)
    """The run inputs, checked against the version's input schema."""
    version: Literal["published"] | Annotated[int, Field(ge=1)] = "published"
    """The version number to run, or ``published`` (the default) for the published one."""
    tags: list[_Tag] = Field(default_factory=list, max_length=50)
    stream: bool = False
    """Answer with the run's events as Server-Sent Events until it stops (the run executes
    in the background; ``mode`` is ignored). May also be given as the ``stream`` query
    parameter."""


class AdhocRunCreate(RunCreate):
    """A run of a spec that is not saved as a workflow (the agent's test runs, scripts)."""

    spec: StoredSpec
    """The spec to run; it must pass the static checks (422 lists every error)."""
    version: Literal["published"] = "published"
    """Not used by ad-hoc runs."""


class ResumeRequest(ControlRequest):
    """Answers to a waiting run's questions."""

    answers: dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Any] = Field(
        min_length=1, max_length=100
    )
    """Question id (``pending[].id``) → answer; a ``human`` node's id works too when only one
    of its questions is open. Each answer must satisfy its question's schema."""


class StatePatch(BaseModel):
    """What a replay changes in the state at its checkpoint."""

    model_config = ConfigDict(extra="forbid")

    nodes: dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], Any] = Field(
        default_factory=dict, max_length=500
    )
    """Top-level node id → the output it should have had."""
    inputs: StoredSpec | None = None
    """Inputs merged over the run's inputs, checked against the input schema."""


class ReplayRequest(ControlRequest):
    """Where a replay starts, and what it changes."""

    checkpoint_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    """One of the run's checkpoints (``GET /v1/runs/{id}/checkpoints``)."""
    state_patch: StatePatch = Field(default_factory=StatePatch)


class PendingQuestion(BaseModel):
    """A question a ``human`` node waits on."""

    id: str
    """Answer it under this key in ``POST /v1/runs/{id}/resume``."""
    node_id: str
    prompt: str
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")
    """JSON Schema the answer must satisfy."""
    error: str | None = None
    """Why the previous answer was refused, when this question is asked again."""

    model_config = ConfigDict(populate_by_name=True, from_attributes=True)


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
    annotations: dict[str, str]
    parent_run_id: str | None
    """The run this one reruns or replays."""
    forked_from_checkpoint_id: str | None
    """For a replay: the parent's checkpoint it started from."""
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
            "annotations": value.annotations,
            "parent_run_id": value.parent_run_id,
            "forked_from_checkpoint_id": value.forked_from_checkpoint_id,
            "attempt": value.attempt,
            "created_at": value.created_at,
            "started_at": value.started_at,
            "ended_at": value.ended_at,
            "updated_at": value.updated_at,
        }


class RunDetail(RunPublic):
    """A run with the questions it waits on."""

    pending: list[PendingQuestion] = Field(default_factory=list)
    """Open questions while ``waiting_human``; empty otherwise."""


class RunPage(BaseModel):
    """One page of runs, newest first."""

    items: list[RunPublic]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; null on the last page."""
