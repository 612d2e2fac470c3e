"""``plait serve``'s shape: the API with the in-process broker and the scheduler in one
process. A process that starts where a crashed one left off takes its runs up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.app import create_app
from shared.config import Settings
from shared.database.models import RunStatus, Tenant, WorkflowRun
from tests.support.waiting import until
from workflow_compiler.checks import parse_spec
from workflow_compiler.registries.tools import ToolRegistry

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "a", "type": "set", "value": 1},
        {"id": "b", "type": "set", "value": "{{ nodes.a.output + 1 }}"},
    ],
    "output": {"b": "{{ nodes.b.output }}"},
}


async def _left_behind(tenant: Tenant, **fields: Any) -> WorkflowRun:
    """A run as a crashed process leaves it (``fields``: its status and lease)."""
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    run = await WorkflowRun.create(
        tenant=tenant,
        spec=SPEC,
        spec_hash=parse_spec(SPEC, tools=ToolRegistry()).spec_hash(),
        source="api",
        **fields,
    )
    await WorkflowRun.filter(id=run.id).update(updated_at=long_ago)
    return run


class TestEmbeddedRestart:
    async def test_runs_a_crashed_process_left_running_or_queued_complete(
        self, database: str, tmp_path: Path
    ) -> None:
        tenant = await Tenant.create(name="acme")
        expired = datetime.now(UTC) - timedelta(minutes=5)
        running = await _left_behind(
            tenant,
            status=RunStatus.RUNNING,
            attempt=1,
            fencing_token=1,
            lease_owner="crashed:1:abcd",
            lease_expires_at=expired,
        )
        queued = await _left_behind(tenant, status=RunStatus.QUEUED)
        settings = Settings(
            database_url=database,
            migrate_on_start=False,
            data_dir=tmp_path,
            scheduler_interval_s=0.05,
            sweep_after_s=1,
        )
        app = create_app(settings, scheduler=True)

        async with app.router.lifespan_context(app):

            async def both_completed() -> bool:
                done = await WorkflowRun.filter(
                    id__in=[running.id, queued.id], status=RunStatus.COMPLETED
                ).count()
                return done == 2

            await until(both_completed, what="the runs left behind complete")
            rows = {r.id: r for r in await WorkflowRun.filter(id__in=[running.id, queued.id])}

        assert all(row.outputs == {"b": 2} for row in rows.values())
        assert (rows[running.id].attempt, rows[queued.id].attempt) == (2, 1)
        assert all(row.lease_owner is None for row in rows.values())
