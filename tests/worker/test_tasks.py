"""The worker's task through taskiq's in-process broker: a message names a run, and the row
says what to do with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from taskiq import InMemoryBroker

from api.services.run_executor import RunExecutor
from api.services.run_records import LeaseTerms, mark_running
from shared.config import Settings
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import RunStatus, Tenant, WorkflowRun
from tests.workflow_compiler.lowering.conftest import ProbeTool
from worker.broker import TaskiqRunQueue, make_broker
from worker.tasks import register_tasks, take_up_run
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import compile_workflow

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "one", "type": "tool", "tool": "probe", "args": {"key": "one", "value": 1}},
        {"id": "two", "type": "tool", "tool": "probe", "args": {"key": "two", "value": 2}},
    ],
}


@pytest.fixture
async def broker(database: str, services: RuntimeServices) -> AsyncIterator[InMemoryBroker]:
    broker = make_broker(Settings(redis_url=None))
    assert isinstance(broker, InMemoryBroker)
    executor = RunExecutor(
        services,
        checkpointer=TortoiseSaver(),
        events_for=lambda run: services.events,
        on_change=lambda run_id: None,
    )
    register_tasks(broker, executor)
    await broker.startup()
    yield broker
    await broker.wait_all()
    await executor.aclose()
    await broker.shutdown()


async def _run(services: RuntimeServices, **fields: Any) -> WorkflowRun:
    return await WorkflowRun.create(
        tenant=await Tenant.create(name="acme"),
        spec=SPEC,
        spec_hash=parse_spec(SPEC, tools=services.tools).spec_hash(),
        source="api",
        **fields,
    )


async def _take_up(broker: InMemoryBroker, run: WorkflowRun) -> WorkflowRun:
    await TaskiqRunQueue(broker).put(run.id)
    await broker.wait_all()
    return await WorkflowRun.get(id=run.id)


class TestTakeUp:
    async def test_a_queued_run_is_started(
        self, broker: InMemoryBroker, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        row = await _take_up(broker, await _run(services))

        assert (row.status, row.attempt, row.outputs) == (RunStatus.COMPLETED, 1, 2)
        assert probe.calls == ["one", "two"]

    async def test_a_run_whose_worker_died_continues_from_its_checkpoint(
        self, broker: InMemoryBroker, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run = await _run(services)
        probe.broken.add("two")
        first = await _take_up(broker, run)
        assert first.status is RunStatus.FAILED
        probe.broken.clear()
        # As the reaper leaves a run whose lease expired: queued, in a later attempt.
        await WorkflowRun.filter(id=run.id).update(status=RunStatus.QUEUED)

        row = await _take_up(broker, run)

        assert (row.status, row.attempt) == (RunStatus.COMPLETED, 2)
        assert probe.calls == ["one", "two", "two"]

    async def test_a_message_for_a_run_that_ended_is_dropped(
        self, broker: InMemoryBroker, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run = await _run(services, status=RunStatus.CANCELED)

        row = await _take_up(broker, run)

        assert row.status is RunStatus.CANCELED
        assert probe.calls == []

    async def test_a_message_for_an_unknown_run_is_dropped(self, broker: InMemoryBroker) -> None:
        await TaskiqRunQueue(broker).put("run_unknown")
        await broker.wait_all()

    async def test_a_run_held_elsewhere_is_left_to_its_holder(
        self, broker: InMemoryBroker, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run = await _run(services)
        soon = services.clock.now() + timedelta(hours=1)  # a live lease, whatever the clock
        await mark_running(run, at=soon, new_attempt=True, lease=LeaseTerms(owner="b", ttl_s=60))

        row = await _take_up(broker, run)

        assert (row.status, row.lease_owner) == (RunStatus.RUNNING, "b")
        assert probe.calls == []

    async def test_a_run_canceled_while_nobody_held_it_is_recorded_canceled(
        self, broker: InMemoryBroker, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run = await _run(services, cancel_requested_at=services.clock.now())

        row = await _take_up(broker, run)

        assert row.status is RunStatus.CANCELED
        assert probe.calls == []

    async def test_a_run_whose_spec_no_longer_checks_fails(
        self, broker: InMemoryBroker, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run = await _run(services)
        await WorkflowRun.filter(id=run.id).update(
            spec={"version": "1", "nodes": [{"id": "x", "type": "tool", "tool": "gone"}]}
        )

        row = await _take_up(broker, run)

        assert (row.status, row.error_code) == (RunStatus.FAILED, "internal_error")

    async def test_a_stopping_worker_leaves_the_run_queued(
        self, database: str, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        executor = RunExecutor(
            services,
            checkpointer=TortoiseSaver(),
            events_for=lambda run: services.events,
            on_change=lambda run_id: None,
        )
        await executor.aclose()
        run = await _run(services)

        await take_up_run(run.id, executor)

        assert (await WorkflowRun.get(id=run.id)).status is RunStatus.QUEUED
        assert probe.calls == []

    async def test_a_resume_left_on_the_row_is_carried_out_by_the_worker(
        self, broker: InMemoryBroker, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        raw = {
            "version": "1",
            "nodes": [
                {"id": "ok", "type": "human", "prompt": "Ok?", "schema": {"type": "boolean"}},
                {"id": "one", "type": "tool", "tool": "probe", "args": {"key": "one", "value": 1}},
            ],
            "output": {"ok": "{{ nodes.ok.output }}"},
        }
        spec = parse_spec(raw, tools=services.tools)
        run = await WorkflowRun.create(
            tenant=await Tenant.create(name="acme"),
            spec=raw,
            spec_hash=spec.spec_hash(),
            source="api",
        )
        waiting = await _take_up(broker, run)
        assert waiting.status is RunStatus.WAITING_HUMAN
        (question,) = await compile_workflow(spec).pending(run.id, TortoiseSaver())
        # What an API process's resume writes before it enqueues the run.
        await WorkflowRun.filter(id=run.id).update(
            status=RunStatus.QUEUED, pending_answers={question.id: True}
        )

        row = await _take_up(broker, run)

        assert (row.status, row.outputs, row.pending_answers) == (
            RunStatus.COMPLETED,
            {"ok": True},
            None,
        )
        assert probe.calls == ["one"]
