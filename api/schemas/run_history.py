"""Bodies of the run history routes: steps, events, checkpoints, tags and annotations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator

from api.services.run_events import EVENT_DURATION_KEY, EVENT_SCOPE_KEY
from shared.database.models import RunEventRecord, RunStep, StepStatus

__all__ = [
    "DEFAULT_CHECKPOINT_PAGE",
    "DEFAULT_EVENT_PAGE",
    "DEFAULT_STEP_PAGE",
    "AnnotationsPatch",
    "CheckpointPage",
    "CheckpointPublic",
    "CheckpointStatePublic",
    "RunEventPage",
    "RunEventPublic",
    "RunLabelsPublic",
    "RunStepPage",
    "RunStepPublic",
    "StepErrorPublic",
    "StepUsagePublic",
    "TagsUpdate",
]

DEFAULT_STEP_PAGE = 100
DEFAULT_EVENT_PAGE = 100
DEFAULT_CHECKPOINT_PAGE = 20

_Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]
_AnnotationKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
_AnnotationValue = Annotated[str, StringConstraints(max_length=1000)]


class StepErrorPublic(BaseModel):
    """Why an attempt failed."""

    kind: str
    """The node error's kind (``timeout``, ``tool_error``, …)."""
    message: str


class StepUsagePublic(BaseModel):
    """Token usage of the model calls an attempt made."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None


class RunStepPublic(BaseModel):
    """One attempt of one node, in one scope."""

    node_id: str
    scope: str
    """Empty at the top level; the body pass otherwise (``each[3]``, ``again#2``, joined
    with ``/`` when nested)."""
    attempt: int
    status: StepStatus
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    input: Any
    """What the node was given (rendered args, model request, prompt), secrets masked."""
    output: Any
    """What it produced, secrets masked; null unless completed."""
    error: StepErrorPublic | None
    usage: StepUsagePublic | None
    """Null for a node that made no model call."""

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if not isinstance(value, RunStep):
            return value
        error = (
            {"kind": value.error_code, "message": value.error_message or ""}
            if value.error_code is not None
            else None
        )
        counts = (value.prompt_tokens, value.completion_tokens, value.total_tokens)
        usage = (
            dict(zip(("prompt_tokens", "completion_tokens", "total_tokens"), counts, strict=True))
            if any(count is not None for count in counts)
            else None
        )
        return {
            "node_id": value.node_id,
            "scope": value.scope,
            "attempt": value.attempt,
            "status": value.status,
            "started_at": value.started_at,
            "ended_at": value.ended_at,
            "duration_ms": value.duration_ms,
            "input": value.input,
            "output": value.output,
            "error": error,
            "usage": usage,
        }


class RunStepPage(BaseModel):
    """Steps in execution order."""

    items: list[RunStepPublic]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last page."""


class RunEventPublic(BaseModel):
    """One event of a run's stream."""

    run_id: str
    """The run it belongs to (a streamed start learns its run's id from the first event)."""
    seq: int
    """1, 2, 3, … per run, without gaps; resume a stream after the last one seen."""
    kind: str
    """``run_started``, ``node_started``, ``node_completed``, ``node_retrying``,
    ``node_failed``, ``interrupted``, ``run_completed``, ``run_failed``, …"""
    at: datetime
    node_id: str | None
    scope: str
    attempt: int | None
    duration_ms: float | None
    data: dict[str, Any]
    """Kind-specific details (``output``, ``error``, ``usage``, ``input``, …), secrets masked."""

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        if not isinstance(value, RunEventRecord):
            return value
        data = dict(value.data)
        return {
            "run_id": value.run_id,
            "seq": value.seq,
            "kind": value.kind,
            "at": value.at,
            "node_id": value.node_id,
            "scope": data.pop(EVENT_SCOPE_KEY, ""),
            "attempt": value.attempt,
            "duration_ms": data.pop(EVENT_DURATION_KEY, None),
            "data": data,
        }


class RunEventPage(BaseModel):
    """Events in ``seq`` order."""

    items: list[RunEventPublic]
    next_after: int
    """Pass as ``after`` to get the events that follow (including ones not written yet)."""


class CheckpointPublic(BaseModel):
    """One checkpoint of a run's top-level graph."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    created_at: datetime
    step: int | None
    """LangGraph's superstep: -1 for the input checkpoint, then 0, 1, …"""
    source: str | None
    """``input``, ``loop``, ``update`` or ``fork``."""
    nodes: list[str]
    """The nodes whose outputs this checkpoint stored."""


class CheckpointPage(BaseModel):
    """Checkpoints newest first."""

    items: list[CheckpointPublic]
    next_cursor: str | None
    """Pass as ``before`` for the next (older) page; null on the last page."""


class CheckpointStatePublic(BaseModel):
    """The run's state at a checkpoint."""

    checkpoint: CheckpointPublic
    inputs: Any
    nodes: dict[str, Any]
    """Outputs of the top-level nodes that had run, by node id."""
    next: list[str]
    """Nodes due to execute next from this checkpoint."""


class TagsUpdate(BaseModel):
    """The run's new tags, replacing the old ones."""

    model_config = ConfigDict(extra="forbid")

    tags: list[_Tag] = Field(max_length=50)


class AnnotationsPatch(RootModel[dict[_AnnotationKey, _AnnotationValue | None]]):
    """Keys to set (a string) or remove (null); keys not named are kept."""

    root: dict[_AnnotationKey, _AnnotationValue | None] = Field(max_length=50)


class RunLabelsPublic(BaseModel):
    """A run's tags and annotations, after a change."""

    id: str
    tags: list[str]
    annotations: dict[str, str]
