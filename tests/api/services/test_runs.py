"""Run services: starting a sync run of a version, the idempotency race, tenancy, page bounds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services import (
    NoPublishedVersionError,
    Principal,
    RunNotFoundError,
    create_version,
    create_workflow,
    get_run,
    list_runs,
    publish_version,
    start_run,
)
from api.services.run_executor import RunExecutor
from api.services.runs import MAX_RUN_PAGE
from shared.database.models import Role, RunStatus, Tenant, WorkflowRun
from shared.errors import PermissionDeniedError
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.context import RuntimeServices

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [{"id": "call", "type": "tool", "tool": "probe", "args": {"key": "k", "value": 3}}],
    "output": "{{ nodes.call.output }}",
}


def principal(tenant: Tenant, role: Role = Role.ADMIN) -> Principal:
    return Principal(tenant_id=tenant.id, role=role, key_id=f"key_{role}")


@pytest.fixture
async def admin(database: str) -> Principal:
    return principal(await Tenant.create(name="acme"))


async def _workflow(admin: Principal, services: RuntimeServices, *, publish: bool) -> str:
    workflow = await create_workflow(admin, name="w", spec=SPEC, at=AT)
    await create_version(admin, workflow.id, tools=services.tools, at=AT)
    if publish:
        await publish_version(admin, workflow.id, 1, at=AT)
    return workflow.id


class TestStartRun:
    async def test_runs_the_published_version_and_records_the_outcome(
        self,
        admin: Principal,
        services: RuntimeServices,
        executor: RunExecutor,
        probe: ProbeTool,
    ) -> None:
        workflow_id = await _workflow(admin, services, publish=True)

        run, created = await start_run(admin, workflow_id, inputs={}, executor=executor, at=AT)

        assert created
        row = await WorkflowRun.get(id=run.id)
        assert (row.status, row.outputs, row.attempt) == (RunStatus.COMPLETED, 3, 1)
        assert probe.calls == ["k"]

    async def test_needs_a_published_version_unless_one_is_named(
        self,
        admin: Principal,
        services: RuntimeServices,
        executor: RunExecutor,
        probe: ProbeTool,
    ) -> None:
        workflow_id = await _workflow(admin, services, publish=False)
        with pytest.raises(NoPublishedVersionError):
            await start_run(admin, workflow_id, inputs={}, executor=executor, at=AT)
        assert await WorkflowRun.all().count() == 0

        run, _ = await start_run(
            admin, workflow_id, inputs={}, version_number=1, executor=executor, at=AT
        )
        assert run.status == RunStatus.COMPLETED

    async def test_a_viewer_may_not(
        self,
        admin: Principal,
        services: RuntimeServices,
        executor: RunExecutor,
        probe: ProbeTool,
    ) -> None:
        workflow_id = await _workflow(admin, services, publish=True)
        viewer = Principal(tenant_id=admin.tenant_id, role=Role.VIEWER, key_id="key_v")
        with pytest.raises(PermissionDeniedError):
            await start_run(viewer, workflow_id, inputs={}, executor=executor, at=AT)

    async def test_concurrent_starts_with_one_key_execute_once(
        self,
        admin: Principal,
        services: RuntimeServices,
        executor: RunExecutor,
        probe: ProbeTool,
    ) -> None:
        workflow_id = await _workflow(admin, services, publish=True)

        results = await asyncio.gather(
            *(
                start_run(
                    admin,
                    workflow_id,
                    inputs={},
                    idempotency_key="same",
                    executor=executor,
                    at=AT,
                )
                for _ in range(3)
            )
        )

        assert len({run.id for run, _ in results}) == 1
        assert [created for _, created in results].count(True) == 1
        assert probe.calls == ["k"]


class TestReadRuns:
    async def test_another_tenants_run_reads_as_missing(
        self,
        admin: Principal,
        services: RuntimeServices,
        executor: RunExecutor,
        probe: ProbeTool,
    ) -> None:
        workflow_id = await _workflow(admin, services, publish=True)
        run, _ = await start_run(admin, workflow_id, inputs={}, executor=executor, at=AT)
        stranger = principal(await Tenant.create(name="other"))

        assert (await get_run(admin, run.id)).version.version_number == 1
        with pytest.raises(RunNotFoundError):
            await get_run(stranger, run.id)
        assert (await list_runs(stranger, limit=10)).runs == []

    @pytest.mark.parametrize("limit", [0, MAX_RUN_PAGE + 1])
    async def test_the_page_size_is_bounded(self, admin: Principal, limit: int) -> None:
        with pytest.raises(ValueError, match="limit"):
            await list_runs(admin, limit=limit)
