"""Progress lines: one per node event, errors and delays included, never raising."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from api.cli.progress import ProgressSink, format_event
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import EventKind, RunEvent

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _event(kind: EventKind, **fields: Any) -> RunEvent:
    return RunEvent(kind=kind, run_id="run_1", at=AT, **fields)


class TestFormatEvent:
    def test_started_shows_the_attempt_only_on_retries(self) -> None:
        assert format_event(_event("node_started", node_id="a", attempt=1)) == "[a] started"
        assert format_event(_event("node_started", node_id="a", attempt=2)) == (
            "[a] started (attempt 2)"
        )

    def test_completed_shows_duration_and_tokens(self) -> None:
        fast = _event("node_completed", node_id="a", attempt=1, duration_ms=12.4)
        slow = _event(
            "node_completed",
            node_id="b",
            attempt=1,
            duration_ms=2345.0,
            data={"usage": {"total_tokens": 321}},
        )
        assert format_event(fast) == "[a] completed in 12 ms"
        assert format_event(slow) == "[b] completed in 2.35 s (321 tokens)"

    def test_retrying_shows_the_error_and_the_delay(self) -> None:
        event = _event(
            "node_retrying",
            node_id="llm",
            attempt=1,
            data={"error": {"kind": "rate_limited", "message": "slow\ndown"}, "delay_s": 0.5},
        )
        assert format_event(event) == (
            "[llm] attempt 1 failed: rate_limited: slow down; retrying in 0.50 s"
        )

    def test_failed_shows_kind_message_and_attempts(self) -> None:
        once = _event(
            "node_failed", node_id="a", attempt=1, data={"error": {"kind": "x", "message": "m"}}
        )
        thrice = _event(
            "node_failed", node_id="a", attempt=3, data={"error": {"kind": "x", "message": "m"}}
        )
        assert format_event(once) == "[a] failed: x: m"
        assert format_event(thrice) == "[a] failed after 3 attempts: x: m"

    def test_interrupted_says_who_waits(self) -> None:
        assert format_event(_event("interrupted", node_id="approve")) == (
            "[approve] waiting for human input"
        )

    def test_run_end_events_are_left_to_the_command(self) -> None:
        assert format_event(_event("run_completed")) is None
        assert format_event(_event("run_failed")) is None


class TestProgressSink:
    async def test_prints_one_line_per_event(self) -> None:
        stream = io.StringIO()
        sink = ProgressSink(stream)
        await sink.emit(_event("node_started", node_id="a", attempt=1))
        await sink.emit(_event("run_completed"))
        await sink.emit(_event("node_completed", node_id="a", attempt=1, duration_ms=3))
        assert stream.getvalue() == "[a] started\n[a] completed in 3 ms\n"

    async def test_a_closed_stream_does_not_raise(self) -> None:
        stream = io.StringIO()
        stream.close()
        await ProgressSink(stream).emit(_event("node_started", node_id="a", attempt=1))


class TestFailedNode:
    async def test_the_latest_node_that_failed_with_the_error(self) -> None:
        sink = ProgressSink(io.StringIO())
        timeout = {"kind": "timeout", "message": "slow"}
        for node_id, error in (
            ("a", {"kind": "x", "message": "m"}),
            ("b", timeout),
            ("a", timeout),
        ):
            await sink.emit(
                _event("node_failed", node_id=node_id, attempt=1, data={"error": error})
            )
        assert sink.failed_node(NodeError(ErrorKind.TIMEOUT, "slow")) == "a"
        assert sink.failed_node(NodeError(ErrorKind.TIMEOUT, "other")) is None
