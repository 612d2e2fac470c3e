"""Run events: what the runtime reports while a run executes.

The runtime calls an ``EventSink``; the CLI prints events, the API persists them as
``RunEvent`` rows and streams them. A sink must not raise: a failing sink would otherwise
fail nodes that succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

EventKind = Literal[
    "run_started",
    "node_started",
    "node_completed",
    "node_failed",
    "node_retrying",
    "interrupted",
    "run_completed",
    "run_failed",
    "run_canceled",
]
"""``node_retrying`` comes after a failed attempt that will be retried, with the delay;
``interrupted`` when a ``human`` node waits for an answer; ``run_canceled`` is emitted by
whoever cancels the run (the runtime never does)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEvent:
    """One thing that happened in a run."""

    kind: EventKind
    run_id: str
    at: datetime
    """Wall-clock time of the event, from the runtime's clock."""
    node_id: str | None = None
    scope: str = ""
    """Where in the run the node executed: empty at the top level, else the path of body
    passes joined with ``/``, e.g. ``each[3]`` (item 3 of for_each ``each``) or
    ``each[3]/retry#2`` (pass 2 of loop ``retry`` in that item). A node inside a body runs
    once per pass with the same id and attempts, so ``(scope, node_id, attempt)`` names one
    attempt of one execution."""
    attempt: int | None = None
    """1-based attempt of the node this event is about."""
    duration_ms: float | None = None
    """For ``node_completed``/``node_failed``: time the attempt took."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Kind-specific detail: ``output``, ``error`` ({kind, message}), ``usage``, ``delay_s``,
    ``interrupts`` (the prompt and schema shown to a person), and ``input`` (what the attempt
    sent on: rendered tool args, the model request, the prompt; on the events that end an
    attempt, when the node reports one). Secret values are masked in all of it."""


class EventSink(Protocol):
    """Receives run events in the order they happen within a node."""

    async def emit(self, event: RunEvent) -> None:
        """Record or forward one event. Must not raise."""
        ...


class NullSink:
    """Discards events; the default when nobody listens."""

    async def emit(self, event: RunEvent) -> None:
        return None


class CollectingSink:
    """Keeps every event in memory, in order; for tests and the CLI's summary."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    async def emit(self, event: RunEvent) -> None:
        self.events.append(event)

    def kinds(self, node_id: str | None = None) -> list[str]:
        """Event kinds in order, optionally only those of one node."""
        return [e.kind for e in self.events if node_id is None or e.node_id == node_id]
