"""Taking up, at start, the runs a previous start of ``plait serve`` left behind."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

from api.services.recovery import recover_runs
from api.services.run_executor import RunExecutor
from api.services.run_records import create_run, local_tenant
from api.services.runs import compiled_run, start_action
from shared.database.models import RunStatus, Tenant, WorkflowRun
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.registries.builtin import default_tool_registry

AT = datetime(2026, 1, 2, tzinfo=UTC)

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "first", "type": "tool", "tool": "probe", "args": {"key": "first", "value": 1}},
        {"id": "second", "type": "tool", "tool": "probe", "args": {"key": "second", "value": 2}},
    ],
    "output": "{{ nodes.first.output + nodes.second.output }}",
}


async def _run(services: RuntimeServices, tenant: Tenant) -> WorkflowRun:
    return await create_run(tenant, parse_spec(SPEC, tools=services.tools), {}, at=AT)


class TestRecoverRuns:
    async def test_a_run_stopped_mid_way_continues_without_redoing_finished_nodes(
        self, executor: RunExecutor, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        tenant = await Tenant.create(name="acme")
        run = await _run(services, tenant)
        probe.gates["second"] = asyncio.Event()
        executor.submit(run, await compiled_run(run, services.tools), start_action)
        assert [await probe.started.get(), await probe.started.get()] == ["first", "second"]
        await executor.aclose()  # the process stops: the row still says running
        assert (await WorkflowRun.get(id=run.id)).status == RunStatus.RUNNING
        probe.gates["second"].set()

        taken = await recover_runs(executor)
        await executor.wait_for(run.id)

        row = await WorkflowRun.get(id=run.id)
        assert taken == [run.id]
        assert (row.status, row.outputs, row.attempt) == (RunStatus.COMPLETED, 3, 2)
        assert probe.calls == ["first", "second", "second"]

    async def test_a_queued_run_starts_and_others_are_left_alone(
        self, executor: RunExecutor, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        tenant = await Tenant.create(name="acme")
        queued = await _run(services, tenant)
        await WorkflowRun.filter(id=queued.id).update(status=RunStatus.QUEUED, attempt=0)
        command_line = await _run(services, await local_tenant())
        child = await _run(services, tenant)
        await WorkflowRun.filter(id=child.id).update(
            parent_run_id=queued.id, idempotency_key=f"child:{queued.id}:n:t:1"
        )

        taken = await recover_runs(executor)
        await executor.wait_for(queued.id)

        assert taken == [queued.id]
        assert (await WorkflowRun.get(id=queued.id)).status == RunStatus.COMPLETED
        for left in (command_line, child):
            assert (await WorkflowRun.get(id=left.id)).status == RunStatus.RUNNING

    async def test_a_run_whose_spec_no_longer_checks_is_failed_for_a_later_retry(
        self, executor: RunExecutor, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        run = await _run(services, await Tenant.create(name="acme"))
        without_probe = dataclasses.replace(
            services, tools=default_tool_registry(load_plugins=False)
        )
        restarted = RunExecutor(
            without_probe,
            checkpointer=executor.checkpointer,
            events_for=lambda run: services.events,
            on_change=lambda run_id: None,
        )

        assert await recover_runs(restarted) == []

        row = await WorkflowRun.get(id=run.id)
        assert (row.status, row.error_code) == (RunStatus.FAILED, "internal_error")
