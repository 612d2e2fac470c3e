"""The in-process run executor: failures outside the workflow, cancel, shutdown, followers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services.execution import RecordedRun
from api.services.run_executor import RunExecutor
from api.services.run_records import create_run, local_tenant
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import RunStatus, WorkflowRun
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import CollectingSink
from workflow_compiler.lowering import RunOutcome, compile_workflow

AT = datetime(2026, 1, 2, tzinfo=UTC)

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [{"id": "call", "type": "tool", "tool": "probe", "args": {"key": "k", "value": 1}}],
}


async def _run(services: RuntimeServices) -> tuple[WorkflowRun, Any]:
    spec = parse_spec(SPEC, tools=services.tools)
    run = await create_run(await local_tenant(), spec, {}, at=AT)
    return run, compile_workflow(spec)


async def _start(run: RecordedRun, services: RuntimeServices) -> RunOutcome:
    return await run.start(services)


class TestRunExecutor:
    async def test_an_unexpected_error_fails_the_run_without_quoting_it(
        self,
        executor: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        changed: list[str],
        events: CollectingSink,
    ) -> None:
        run, compiled = await _run(services)

        async def broken(recorded: RecordedRun, services: RuntimeServices) -> RunOutcome:
            raise RuntimeError("password=hunter2")

        await executor.submit(run, compiled, broken)

        row = await WorkflowRun.get(id=run.id)
        assert (row.status, row.error_code) == (RunStatus.FAILED, "internal_error")
        assert "RuntimeError" in (row.error_message or "")
        assert "hunter2" not in (row.error_message or "")
        assert changed == [run.id]
        assert events.kinds()[-1] == "run_failed"
        assert events.events[-1].data["error"]["kind"] == "internal_error"

    async def test_a_run_executes_once_at_a_time(
        self, executor: RunExecutor, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        probe.gates["k"] = asyncio.Event()
        run, compiled = await _run(services)
        task = executor.submit(run, compiled, _start)

        with pytest.raises(RuntimeError, match="already executing"):
            executor.submit(run, compiled, _start)
        probe.gates["k"].set()
        await task
        assert not executor.is_executing(run.id)
        assert run.status == RunStatus.COMPLETED

    async def test_cancel_of_a_run_not_executing_here_does_nothing(
        self, executor: RunExecutor
    ) -> None:
        assert await executor.cancel("run_elsewhere") is False

    async def test_shutdown_stops_runs_without_canceling_them(
        self, executor: RunExecutor, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        probe.gates["k"] = asyncio.Event()
        run, compiled = await _run(services)
        executor.submit(run, compiled, _start)
        assert await probe.started.get() == "k"

        await executor.aclose()

        row = await WorkflowRun.get(id=run.id)
        assert row.status == RunStatus.RUNNING  # to be continued from its checkpoint
        assert not executor.is_executing(run.id)

    async def test_a_run_whose_tenant_services_fail_is_failed_not_left_running(
        self,
        database: str,
        services: RuntimeServices,
        probe: ProbeTool,
        events: CollectingSink,
    ) -> None:
        async def broken(
            tenant_id: str, base: RuntimeServices, reads: frozenset[str]
        ) -> RuntimeServices:
            raise RuntimeError("provider table unreadable")

        executor = RunExecutor(
            services,
            checkpointer=TortoiseSaver(),
            events_for=lambda run: services.events,
            on_change=lambda run_id: None,
            tenant_services=broken,
        )
        run, compiled = await _run(services)

        await executor.submit(run, compiled, _start)

        row = await WorkflowRun.get(id=run.id)
        assert (row.status, row.error_code) == (RunStatus.FAILED, "internal_error")
        assert probe.calls == []
        assert events.kinds()[-1] == "run_failed"
