"""RecordingSink: events numbered without gaps across executions, one step row per attempt of
a node in a scope, secrets kept out; RunEventHub: notifications are never lost."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services import RecordedRun, RecordingSink, RunEventHub, create_run, local_tenant
from api.services.run_records import mark_running
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import RunEventRecord, RunStep, StepStatus, WorkflowRun
from shared.redaction import MASK, Redactor
from tests.support.runs import RUN_AT, recorded_run, recording
from tests.workflow_compiler.lowering.conftest import ProbeTool, probe_node, set_node, spec
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import RunEvent
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.registries.tools import ToolContext

AT = datetime(2026, 1, 1, tzinfo=UTC)


class FlakyTool:
    """Fails with a retryable timeout on its first call, then answers ``ok``."""

    name = "flaky"
    description = "Fails once."
    args_schema: dict[str, Any] = {"type": "object"}
    result_schema = None
    side_effecting = False

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise NodeError(ErrorKind.TIMEOUT, "too slow")
        return "ok"


async def seqs(run_id: str) -> list[int]:
    return await RunEventRecord.filter(run_id=run_id).order_by("seq").values_list("seq", flat=True)


async def steps(run_id: str) -> list[RunStep]:
    return await RunStep.filter(run_id=run_id).order_by("id")


async def bare_run() -> WorkflowRun:
    """A run row to emit events for by hand."""
    return await WorkflowRun.create(
        tenant=await local_tenant(), spec={}, spec_hash="h", source="manual"
    )


def event(kind: Any, run_id: str, **fields: Any) -> RunEvent:
    return RunEvent(kind=kind, run_id=run_id, at=AT, **fields)


class TestEvents:
    async def test_events_are_numbered_from_one_without_gaps_in_emit_order(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run, recorded = await recorded_run(
            spec(probe_node("a", 1), probe_node("b", 2)), await local_tenant(), services
        )

        await run.start(recorded)

        rows = await RunEventRecord.filter(run_id=run.run_id).order_by("seq")
        assert [(r.seq, r.kind, r.node_id) for r in rows] == [
            (1, "run_started", None),
            (2, "node_started", "a"),
            (3, "node_completed", "a"),
            (4, "node_started", "b"),
            (5, "node_completed", "b"),
            (6, "run_completed", None),
        ]
        assert rows[2].data["output"] == 1
        assert rows[2].data["duration_ms"] == 0
        assert rows[2].tenant_id == run.record.tenant_id

    async def test_a_continued_run_appends_after_its_last_event(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        probe.broken.add("b")
        run, recorded = await recorded_run(
            spec(probe_node("a"), probe_node("b")), await local_tenant(), services
        )
        await run.start(recorded)
        first = await seqs(run.run_id)
        probe.broken.clear()

        await run.continue_run(recording(run, services))

        kinds = await RunEventRecord.filter(run_id=run.run_id, seq__gt=len(first)).order_by("seq")
        assert first == [1, 2, 3, 4, 5, 6]
        assert await seqs(run.run_id) == list(range(1, len(first) + 4))
        assert [e.kind for e in kinds] == ["node_started", "node_completed", "run_completed"]

    async def test_concurrent_for_each_items_get_distinct_consecutive_numbers(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        keys = [f"k{i}" for i in range(6)]
        probe.gates = {key: asyncio.Event() for key in keys}
        body = [
            {"id": "work", "type": "tool", "tool": "probe", "args": {"key": "{{ item }}"}},
        ]
        raw = spec({"id": "each", "type": "for_each", "items": keys, "body": body})
        run, recorded = await recorded_run(raw, await local_tenant(), services)
        task = asyncio.create_task(run.start(recorded))
        started = {await probe.started.get() for _ in range(4)}  # concurrency 4
        for key in keys:
            probe.gates[key].set()
        await task

        assert len(started) == 4
        numbers = await seqs(run.run_id)
        assert numbers == list(range(1, len(numbers) + 1))
        assert len(numbers) == 2 + 2 + 2 * len(keys)

    async def test_a_number_taken_by_another_writer_is_skipped(self, database: str) -> None:
        record = await bare_run()
        first, second = RecordingSink(record), RecordingSink(record)

        await first.emit(event("run_started", record.id))
        await second.emit(event("node_started", record.id, node_id="a", attempt=1))
        await first.emit(event("run_completed", record.id))

        rows = await RunEventRecord.filter(run_id=record.id).order_by("seq")
        assert [(r.seq, r.kind) for r in rows] == [
            (1, "run_started"),
            (2, "node_started"),
            (3, "run_completed"),
        ]

    async def test_a_stale_execution_stores_nothing_once_another_took_the_run(
        self, database: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        record = await bare_run()
        stale = RecordingSink(record)
        await stale.emit(event("run_started", record.id))
        newer_row = await WorkflowRun.get(id=record.id)
        await mark_running(newer_row, at=AT)  # another execution takes the run
        newer = RecordingSink(newer_row)
        await newer.emit(event("run_started", record.id))

        await stale.emit(event("node_completed", record.id, node_id="a", attempt=1))
        await stale.emit(event("run_completed", record.id))
        await newer.emit(event("run_completed", record.id))

        rows = await RunEventRecord.filter(run_id=record.id).order_by("seq")
        assert [(r.seq, r.kind) for r in rows] == [
            (1, "run_started"),
            (2, "run_started"),
            (3, "run_completed"),
        ]
        assert await RunStep.filter(run_id=record.id).count() == 0
        assert "another execution took the run" in caplog.text

    async def test_events_of_a_deleted_run_are_dropped_without_raising(
        self, database: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        record = await bare_run()
        sink = RecordingSink(record)
        await record.delete()

        with caplog.at_level(logging.WARNING):
            await sink.emit(event("node_started", record.id, node_id="a", attempt=1))

        assert await RunEventRecord.filter(run_id=record.id).count() == 0
        assert await RunStep.filter(run_id=record.id).count() == 0
        assert "node_started not stored" in caplog.text

    async def test_a_failing_write_is_logged_without_data_and_takes_no_number(
        self, database: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        record = await bare_run()
        sink = RecordingSink(record)

        with caplog.at_level(logging.WARNING):
            await sink.emit(event("run_started", record.id, data={"bad": {"secret-ish"}}))
            await sink.emit(event("run_completed", record.id, data={"output": 1}))

        assert await seqs(record.id) == [1]
        assert "run_started" in caplog.text
        assert "secret-ish" not in caplog.text


class TestSteps:
    async def test_one_row_per_attempt_with_output_timings_and_input(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run, recorded = await recorded_run(
            spec(probe_node("a", {"x": 1}), set_node("b", "text")), await local_tenant(), services
        )

        await run.start(recorded)

        a, b = await steps(run.run_id)
        assert (a.node_id, a.scope, a.attempt, a.status) == ("a", "", 1, StepStatus.COMPLETED)
        assert (a.input, a.output) == ({"key": "a", "value": {"x": 1}}, {"x": 1})
        assert (a.started_at, a.ended_at, a.duration_ms) == (AT, AT, 0)
        assert (a.prompt_tokens, a.total_tokens) == (None, None)
        assert (b.node_id, b.input, b.output) == ("b", None, "text")

    async def test_a_retried_node_has_a_failed_and_a_completed_attempt(
        self, database: str, services: RuntimeServices
    ) -> None:
        services.tools.register(FlakyTool())
        node = {"id": "f", "type": "tool", "tool": "flaky", "args": {}}
        node["retry"] = {"max_attempts": 2, "initial_interval_s": 1, "jitter": False}
        run, recorded = await recorded_run(spec(node), await local_tenant(), services)

        await run.start(recorded)

        first, second = await steps(run.run_id)
        assert (first.attempt, first.status) == (1, StepStatus.FAILED)
        assert (first.error_code, first.error_message) == ("timeout", "too slow")
        assert first.ended_at is not None
        assert (second.attempt, second.status, second.output) == (2, StepStatus.COMPLETED, "ok")

    async def test_for_each_items_are_steps_in_their_own_scopes(
        self, database: str, services: RuntimeServices
    ) -> None:
        body = [set_node("double", "{{ item * 2 }}")]
        raw = spec({"id": "each", "type": "for_each", "items": [1, 2, 3], "body": body})
        run, recorded = await recorded_run(raw, await local_tenant(), services)

        await run.start(recorded)

        rows = await steps(run.run_id)
        assert sorted((s.scope, s.node_id, s.output) for s in rows) == [
            ("", "each", [1, 2, 3]),
            ("each[0]", "double", 2),
            ("each[1]", "double", 4),
            ("each[2]", "double", 6),
        ]

    async def test_a_human_step_waits_then_completes_in_the_same_row(
        self, database: str, services: RuntimeServices
    ) -> None:
        node = {"id": "ask", "type": "human", "prompt": "Ok?", "schema": {"type": "boolean"}}
        run, recorded = await recorded_run(spec(node), await local_tenant(), services)

        outcome = await run.start(recorded)
        [waiting] = await steps(run.run_id)
        await run.resume({outcome.pending[0].id: True}, recording(run, services))

        [done] = await steps(run.run_id)
        assert (waiting.status, waiting.input, waiting.ended_at) == (
            StepStatus.WAITING_HUMAN,
            {"prompt": "Ok?"},
            None,
        )
        assert (done.id, done.status, done.output) == (waiting.id, StepStatus.COMPLETED, True)

    async def test_a_retried_run_restarts_its_failed_step_in_place(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        probe.broken.add("a")
        run, recorded = await recorded_run(spec(probe_node("a", 5)), await local_tenant(), services)
        await run.start(recorded)
        probe.broken.clear()

        await run.continue_run(recording(run, services))

        [step] = await steps(run.run_id)
        assert (step.attempt, step.status, step.output) == (1, StepStatus.COMPLETED, 5)
        assert (step.error_code, step.error_message) == (None, None)

    async def test_a_secret_in_tool_args_is_masked_in_the_stored_input(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        node = probe_node("call", "Bearer {{ secrets.HOOK_TOKEN }}")
        run, recorded = await recorded_run(spec(node), await local_tenant(), services)

        await run.start(recorded)

        [step] = await steps(run.run_id)
        assert step.input == {"key": "call", "value": "Bearer ***"}
        assert step.output == "Bearer ***"
        events = await RunEventRecord.filter(run_id=run.run_id).values_list("data", flat=True)
        assert "tok-123" not in repr(events)

    async def test_a_completion_without_a_start_makes_its_step_with_usage(
        self, database: str
    ) -> None:
        record = await bare_run()
        sink = RecordingSink(record)
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}

        await sink.emit(
            event(
                "node_completed",
                record.id,
                node_id="ask",
                attempt=1,
                duration_ms=12.5,
                data={"output": "hi", "usage": usage},
            )
        )

        [step] = await steps(record.id)
        assert (step.prompt_tokens, step.completion_tokens, step.total_tokens) == (10, 5, 15)
        assert (step.status, step.output, step.duration_ms) == (StepStatus.COMPLETED, "hi", 12.5)
        assert step.started_at == AT


REMEMBERED = "sk-live-4f9a2c"
"""A secret value the process's redactor knows (a provider key, say) that the run did not
read through ``secrets``: the runner cannot mask it, the sink must."""


class TestRedaction:
    async def test_stored_events_and_steps_are_redacted_but_the_checkpoint_is_not(
        self, database: str, services: RuntimeServices
    ) -> None:
        redactor = Redactor()
        redactor.remember([REMEMBERED])
        login = {"password": "pw-1", "note": f"signed in with {REMEMBERED}"}
        raw = spec(
            set_node("login", login),
            set_node("reuse", "{{ nodes.login.output.password }}"),
            output={"login": "{{ nodes.login.output }}"},
            inputs={"type": "object", "properties": {"api_token": {"type": "string"}}},
        )
        parsed = parse_spec(raw, tools=services.tools)
        record = await create_run(
            await local_tenant(), parsed, {"api_token": "input-token"}, at=RUN_AT
        )
        run = RecordedRun(
            record=record,
            compiled=compile_workflow(parsed),
            checkpointer=TortoiseSaver(),
            redactor=redactor,
        )
        sink = RecordingSink(record, redactor=redactor)

        outcome = await run.start(dataclasses.replace(services, events=sink))

        redacted = {"password": MASK, "note": "signed in with ***"}
        rows = await RunEventRecord.filter(run_id=record.id).order_by("seq")
        assert rows[0].data == {"inputs": {"api_token": MASK}}
        assert rows[2].data["output"] == redacted
        steps_by_node = {step.node_id: step for step in await steps(record.id)}
        assert steps_by_node["login"].output == redacted
        assert steps_by_node["reuse"].output == "pw-1"
        stored = await WorkflowRun.get(id=record.id)
        assert stored.outputs == {"login": redacted}
        assert stored.inputs == {"api_token": "input-token"}
        saved = await TortoiseSaver().aget_tuple({"configurable": {"thread_id": record.id}})
        assert saved is not None
        assert saved.checkpoint["channel_values"]["out:login"]["password"] == "pw-1"
        assert outcome.output == {"login": login}

    async def test_an_error_message_and_input_are_masked_in_the_step(self, database: str) -> None:
        redactor = Redactor()
        redactor.remember([REMEMBERED])
        record = await bare_run()
        error = {"kind": "auth_error", "message": f"key {REMEMBERED} refused"}
        sink = RecordingSink(record, redactor=redactor)

        await sink.emit(
            event(
                "node_failed",
                record.id,
                node_id="ask",
                attempt=1,
                data={"error": error, "input": {"headers": {"Authorization": "Bearer x"}}},
            )
        )

        [step] = await steps(record.id)
        assert step.error_message == "key *** refused"
        assert step.input == {"headers": {"Authorization": MASK}}
        [stored] = await RunEventRecord.filter(run_id=record.id)
        assert stored.data["error"]["message"] == "key *** refused"

    async def test_without_a_redactor_events_are_stored_as_emitted(self, database: str) -> None:
        record = await bare_run()

        await RecordingSink(record).emit(event("run_started", record.id, data={"token": "t"}))

        [stored] = await RunEventRecord.filter(run_id=record.id)
        assert stored.data == {"token": "t"}


class TestHub:
    async def test_a_notification_before_the_wait_is_kept(self) -> None:
        hub = RunEventHub()
        with hub.subscribe("run_1") as subscription:
            hub.notify("run_1")
            assert await subscription.wait(10) is True

    async def test_a_wait_without_notification_times_out(self) -> None:
        hub = RunEventHub()
        with hub.subscribe("run_1") as subscription:
            hub.notify("run_2")
            assert await subscription.wait(0.01) is False

    async def test_a_notification_is_consumed_by_one_wait(self) -> None:
        hub = RunEventHub()
        with hub.subscribe("run_1") as subscription:
            hub.notify("run_1")
            hub.notify("run_1")
            assert await subscription.wait(10) is True
            assert await subscription.wait(0.01) is False

    async def test_every_follower_of_the_run_is_woken(self) -> None:
        hub = RunEventHub()
        with hub.subscribe("run_1") as one, hub.subscribe("run_1") as two:
            hub.notify("run_1")
            assert [await one.wait(10), await two.wait(10)] == [True, True]

    async def test_the_sink_notifies_after_each_stored_event(
        self, database: str, services: RuntimeServices
    ) -> None:
        hub = RunEventHub()
        run, recorded = await recorded_run(
            spec(set_node("a", 1)), await local_tenant(), services, hub=hub
        )

        with hub.subscribe(run.run_id) as subscription:
            await recorded.events.emit(event("run_started", run.run_id))
            assert await subscription.wait(10) is True
