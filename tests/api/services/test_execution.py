"""RecordedRun: the run row follows the graph, and a run that stopped continues from the
database, its finished nodes not executed again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services import RecordedRun, create_run, load_run, local_tenant, run_spec
from shared.database import close_database, init_database
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import RunStatus, WorkflowRun
from tests.support.clock import FakeClock
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import RunOutcome, clear_cache, compile_workflow
from workflow_compiler.spec import WorkflowSpec

CHAIN: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "first", "type": "tool", "tool": "probe", "args": {"key": "first", "value": 1}},
        {
            "id": "second",
            "type": "tool",
            "tool": "probe",
            "args": {"key": "second", "value": "{{ nodes.first.output + 1 }}"},
        },
        {"id": "third", "type": "set", "value": "{{ nodes.second.output * 10 }}"},
    ],
}

APPROVAL: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "first", "type": "tool", "tool": "probe", "args": {"key": "first", "value": 7}},
        {"id": "approve", "type": "human", "prompt": "Ok?", "schema": {"type": "boolean"}},
    ],
    "output": {"n": "{{ nodes.first.output }}", "ok": "{{ nodes.approve.output }}"},
}

APPROVE_THEN_ACT: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "approve", "type": "human", "prompt": "Ok?", "schema": {"type": "boolean"}},
        {"id": "act", "type": "tool", "tool": "probe", "args": {"key": "act", "value": 1}},
    ],
    "output": {"ok": "{{ nodes.approve.output }}", "acted": "{{ nodes.act.output }}"},
}

START = datetime(2026, 1, 1, tzinfo=UTC)
"""The FakeClock's time."""


async def _recorded(raw: dict[str, Any], services: RuntimeServices) -> RecordedRun:
    """A freshly written run of ``raw``, ready to start."""
    spec = parse_spec(raw, tools=services.tools)
    record = await create_run(await local_tenant(), spec, {}, at=START)
    return RecordedRun(record=record, compiled=compile_workflow(spec), checkpointer=TortoiseSaver())


async def _reloaded(run_id: str, services: RuntimeServices) -> RecordedRun:
    """The run as another process finds it: its row, its stored spec compiled afresh, and a
    new saver."""
    clear_cache()
    record = await load_run(await local_tenant(), run_id)
    spec: WorkflowSpec = parse_spec(await run_spec(record), tools=services.tools)
    return RecordedRun(record=record, compiled=compile_workflow(spec), checkpointer=TortoiseSaver())


async def _row(run_id: str) -> WorkflowRun:
    return await WorkflowRun.get(id=run_id)


class TestStart:
    async def test_a_completed_run_records_its_outputs(
        self, database: str, services: RuntimeServices, probe: ProbeTool, clock: FakeClock
    ) -> None:
        run = await _recorded(CHAIN, services)
        clock.t = 90
        outcome = await run.start(services)
        assert outcome == RunOutcome(status="completed", output=20)
        row = await _row(run.run_id)
        assert (row.status, row.outputs, row.attempt) == (RunStatus.COMPLETED, 20, 1)
        assert (row.started_at, row.ended_at) == (START, clock.now())

    async def test_a_failed_run_records_its_error(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        probe.broken.add("second")
        run = await _recorded(CHAIN, services)
        outcome = await run.start(services)
        assert outcome.status == "failed"
        row = await _row(run.run_id)
        assert (row.status, row.error_code, row.error_message) == (
            RunStatus.FAILED,
            "tool_error",
            "probe 'second' is broken",
        )
        assert row.ended_at == START


class TestContinueRun:
    async def test_a_failed_node_runs_again_and_finished_ones_do_not(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        probe.broken.add("second")
        first = await _recorded(CHAIN, services)
        assert (await first.start(services)).status == "failed"
        probe.broken.clear()

        outcome = await (await _reloaded(first.run_id, services)).continue_run(services)

        assert outcome == RunOutcome(status="completed", output=20)
        assert probe.calls == ["first", "second", "second"]
        row = await _row(first.run_id)
        assert (row.status, row.outputs, row.attempt) == (RunStatus.COMPLETED, 20, 2)
        assert (row.error_code, row.error_message) == (None, None)

    async def test_a_task_cancelled_between_nodes_continues_from_the_database(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        gate = probe.gates["second"] = asyncio.Event()
        first = await _recorded(CHAIN, services)
        task = asyncio.create_task(first.start(services))
        while await probe.started.get() != "second":
            pass  # "first" finished: its superstep ended before "second" could start
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await _row(first.run_id)).status is RunStatus.RUNNING

        # As a new process would: new connections, a fresh compiled workflow and saver.
        await close_database()
        await init_database(database, migrate=False)
        gate.set()
        resumed = await _reloaded(first.run_id, services)
        assert resumed.compiled is not first.compiled
        outcome = await resumed.continue_run(services)

        assert outcome == RunOutcome(status="completed", output=20)
        assert probe.calls == ["first", "second", "second"]
        assert probe.finished == ["first", "second"]
        row = await _row(first.run_id)
        assert (row.status, row.outputs, row.attempt) == (RunStatus.COMPLETED, 20, 2)

    async def test_a_run_stopped_before_its_first_checkpoint_starts_over(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        written = await _recorded(CHAIN, services)  # the row, and nothing else
        outcome = await (await _reloaded(written.run_id, services)).continue_run(services)
        assert outcome == RunOutcome(status="completed", output=20)
        assert probe.calls == ["first", "second"]

    async def test_a_run_whose_process_died_before_recording_its_end_completes(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        first = await _recorded(CHAIN, services)
        await first.start(services)
        await WorkflowRun.filter(id=first.run_id).update(status=RunStatus.RUNNING, outputs=None)

        outcome = await (await _reloaded(first.run_id, services)).continue_run(services)

        assert outcome == RunOutcome(status="completed", output=20)
        assert probe.calls == ["first", "second"]
        assert (await _row(first.run_id)).outputs == 20


class TestHumanInput:
    async def test_a_waiting_run_asks_again_and_resumes_with_the_answers(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        first = await _recorded(APPROVAL, services)
        waiting = await first.start(services)
        assert waiting.status == "waiting_human"
        row = await _row(first.run_id)
        assert (row.status, row.ended_at) == (RunStatus.WAITING_HUMAN, None)

        resumed = await _reloaded(first.run_id, services)
        asked = await resumed.continue_run(services)
        assert asked == waiting  # the same questions, with the same ids
        assert (await _row(first.run_id)).status is RunStatus.WAITING_HUMAN

        outcome = await resumed.resume({asked.pending[0].id: True}, services)

        assert outcome == RunOutcome(status="completed", output={"n": 7, "ok": True})
        assert probe.calls == ["first"]
        row = await _row(first.run_id)
        assert (row.status, row.outputs, row.attempt) == (
            RunStatus.COMPLETED,
            {"n": 7, "ok": True},
            2,
        )

    async def test_a_resume_whose_process_died_goes_on_with_the_answers_it_took(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        """The execution resuming the run took the answers (the human node completed) and
        died in the next node: the next execution, given the same answers from the row, finds
        no question open and goes on from the checkpoint."""
        gate = probe.gates["act"] = asyncio.Event()
        first = await _recorded(APPROVE_THEN_ACT, services)
        waiting = await first.start(services)
        answers = {waiting.pending[0].id: True}
        task = asyncio.create_task(first.resume(answers, services))
        assert await probe.started.get() == "act"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        gate.set()
        outcome = await (await _reloaded(first.run_id, services)).resume(answers, services)

        assert outcome == RunOutcome(status="completed", output={"ok": True, "acted": 1})
        assert probe.finished == ["act"]
