"""Live per-node progress of ``plait run``, one line per event on stderr.

stdout carries only the run's output JSON, so ``plait run spec.json | jq`` works while a
person still watches the nodes go by on the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from workflow_compiler.errors import NodeError
from workflow_compiler.events import RunEvent


class ProgressSink:
    """An ``EventSink`` that prints each node event as one line.

    Writes go to ``stream`` or, when none is given, to whatever ``sys.stderr`` is at the time
    of the event. Like every sink it never raises: a closed stderr must not fail a node.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._failures: dict[str, Any] = {}

    async def emit(self, event: RunEvent) -> None:
        if event.kind == "node_failed" and event.node_id is not None:
            self._failures.pop(event.node_id, None)
            self._failures[event.node_id] = event.data.get("error")
        line = format_event(event)
        if line is None:
            return
        stream = self._stream or sys.stderr
        try:
            print(line, file=stream, flush=True)
        except (OSError, ValueError):
            return

    def failed_node(self, error: NodeError) -> str | None:
        """The node whose final failure was ``error``, if a node's was.

        A run can also fail outside any node (its ``output`` does not render, a step bound is
        hit), and a node under ``on_error: continue`` fails without failing the run; so the
        culprit is the most recent node that failed with this very error.
        """
        failure = error.to_dict()
        for node_id in reversed(self._failures):
            if self._failures[node_id] == failure:
                return node_id
        return None


def format_event(event: RunEvent) -> str | None:
    """The progress line of an event, or None for events the CLI reports otherwise."""
    data = event.data
    match event.kind:
        case "run_started":
            return f"run {event.run_id} started"
        case "node_started":
            retry = f" (attempt {event.attempt})" if (event.attempt or 1) > 1 else ""
            return f"[{event.node_id}] started{retry}"
        case "node_completed":
            return f"[{event.node_id}] completed in {_duration(event.duration_ms)}{_usage(data)}"
        case "node_retrying":
            return (
                f"[{event.node_id}] attempt {event.attempt} failed: {_error(data)}; "
                f"retrying in {_seconds(data.get('delay_s'))}"
            )
        case "node_failed":
            attempts = f" after {event.attempt} attempts" if (event.attempt or 1) > 1 else ""
            return f"[{event.node_id}] failed{attempts}: {_error(data)}"
        case "interrupted":
            return f"[{event.node_id}] waiting for human input"
        case _:
            return None


def _duration(duration_ms: float | None) -> str:
    if duration_ms is None:
        return "?"
    if duration_ms < 1000:
        return f"{duration_ms:.0f} ms"
    return f"{duration_ms / 1000:.2f} s"


def _seconds(value: Any) -> str:
    return f"{value:.2f} s" if isinstance(value, int | float) else "?"


def _usage(data: Mapping[str, Any]) -> str:
    usage = data.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, Mapping) else None
    return f" ({total} tokens)" if total else ""


def _error(data: Mapping[str, Any]) -> str:
    error = data.get("error")
    if not isinstance(error, Mapping):
        return "unknown error"
    return f"{error.get('kind', 'error')}: {_one_line(str(error.get('message', '')))}"


def _one_line(text: str) -> str:
    """Messages from providers may span lines; a progress line must not."""
    return " ".join(text.split())
