"""Runs, their steps, events and tags: ids, defaults, and the constraints that keep them right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.exceptions import IntegrityError

from shared.database.models import (
    RunEventRecord,
    RunSource,
    RunStatus,
    RunStep,
    RunTag,
    StepStatus,
    Tenant,
    Workflow,
    WorkflowRun,
    WorkflowVersion,
)
from shared.ids import id_timestamp_ms
from tests.shared.database.models.conftest import SPEC, spec_hash

AT = datetime(2026, 1, 1, tzinfo=UTC)


async def _run(tenant: Tenant, **fields: object) -> WorkflowRun:
    """An ad-hoc run of ``SPEC`` in ``tenant``."""
    values: dict[str, object] = {
        "spec": SPEC,
        "spec_hash": spec_hash(SPEC),
        "source": RunSource.API,
    }
    return await WorkflowRun.create(tenant=tenant, **(values | fields))


class TestWorkflowRun:
    async def test_a_new_run_has_a_time_ordered_run_id_and_queued_defaults(
        self, run: WorkflowRun
    ) -> None:
        stored = await WorkflowRun.get(id=run.id)

        assert stored.id.startswith("run_")
        created_ms = int(stored.created_at.timestamp() * 1000)
        assert abs(id_timestamp_ms(stored.id) - created_ms) < 5_000
        assert stored.status is RunStatus.QUEUED
        assert (stored.attempt, stored.fencing_token) == (0, 0)
        assert (stored.tags, stored.annotations, stored.outputs) == ([], {}, None)
        assert stored.inputs == {"text": "hello"}

    async def test_an_ad_hoc_run_keeps_its_spec_and_names_no_workflow(self, tenant: Tenant) -> None:
        run = await _run(tenant)

        stored = await WorkflowRun.get(id=run.id)
        assert (stored.workflow_id, stored.version_id, stored.spec) == (None, None, SPEC)

    async def test_a_reused_idempotency_key_is_refused_within_a_tenant(
        self, tenant: Tenant
    ) -> None:
        await _run(tenant, idempotency_key="order-42")

        with pytest.raises(IntegrityError):
            await _run(tenant, idempotency_key="order-42")

    async def test_tenants_have_their_own_idempotency_keys(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        await _run(tenant, idempotency_key="order-42")
        await _run(other_tenant, idempotency_key="order-42")

        assert await WorkflowRun.filter(idempotency_key="order-42").count() == 2

    async def test_runs_without_an_idempotency_key_do_not_collide(self, tenant: Tenant) -> None:
        await _run(tenant)
        await _run(tenant)

        assert await WorkflowRun.filter(tenant=tenant, idempotency_key=None).count() == 2

    async def test_status_and_lease_round_trip(self, run: WorkflowRun) -> None:
        taken = await WorkflowRun.filter(id=run.id, fencing_token=0).update(
            status=RunStatus.RUNNING,
            lease_owner="worker-1",
            lease_expires_at=AT + timedelta(seconds=30),
            fencing_token=1,
            attempt=1,
            started_at=AT,
        )
        stale = await WorkflowRun.filter(id=run.id, fencing_token=0).update(status=RunStatus.FAILED)

        stored = await WorkflowRun.get(id=run.id)
        assert (taken, stale) == (1, 0)
        assert (stored.status, stored.lease_owner, stored.fencing_token) == (
            RunStatus.RUNNING,
            "worker-1",
            1,
        )
        assert stored.lease_expires_at == AT + timedelta(seconds=30)

    async def test_a_child_run_outlives_its_parent(self, tenant: Tenant) -> None:
        parent = await _run(tenant)
        child = await _run(tenant, source=RunSource.REPLAY, parent_run=parent)

        await parent.delete()

        assert (await WorkflowRun.get(id=child.id)).parent_run_id is None

    async def test_deleting_the_workflow_deletes_its_versions_and_runs(
        self, workflow: Workflow, run: WorkflowRun
    ) -> None:
        await workflow.delete()

        assert await WorkflowRun.filter(id=run.id).count() == 0
        assert await WorkflowVersion.filter(workflow_id=workflow.id).count() == 0

    async def test_a_version_that_runs_used_cannot_be_deleted_alone(
        self, version: WorkflowVersion, run: WorkflowRun
    ) -> None:
        with pytest.raises(IntegrityError):
            await version.delete()


class TestRunTag:
    async def test_the_run_list_filters_by_tag_through_the_tag_rows(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        tagged = await _run(tenant, tags=["nightly", "eu"])
        await RunTag.bulk_create(
            [RunTag(tenant=tenant, run=tagged, tag=tag) for tag in tagged.tags]
        )
        await _run(tenant, tags=[])
        elsewhere = await _run(other_tenant, tags=["nightly"])
        await RunTag.create(tenant=other_tenant, run=elsewhere, tag="nightly")

        found = await WorkflowRun.filter(tenant=tenant, tag_rows__tag="nightly").order_by(
            "-created_at"
        )

        assert [r.id for r in found] == [tagged.id]

    async def test_a_tag_is_stored_once_per_run(self, tenant: Tenant, run: WorkflowRun) -> None:
        await RunTag.create(tenant=tenant, run=run, tag="nightly")

        with pytest.raises(IntegrityError):
            await RunTag.create(tenant=tenant, run=run, tag="nightly")


class TestRunStep:
    async def test_one_row_per_attempt_of_a_node(self, tenant: Tenant, run: WorkflowRun) -> None:
        await RunStep.create(tenant=tenant, run=run, node_id="fetch", attempt=1, started_at=AT)
        await RunStep.create(tenant=tenant, run=run, node_id="fetch", attempt=2, started_at=AT)

        with pytest.raises(IntegrityError):
            await RunStep.create(tenant=tenant, run=run, node_id="fetch", attempt=2, started_at=AT)

    async def test_a_loop_body_node_has_one_row_per_pass(
        self, tenant: Tenant, run: WorkflowRun
    ) -> None:
        for index in range(3):
            await RunStep.create(
                tenant=tenant,
                run=run,
                scope=f"each[{index}]",
                node_id="body",
                attempt=1,
                started_at=AT,
            )

        assert await RunStep.filter(run=run, node_id="body").count() == 3

    async def test_a_finished_step_keeps_its_output_error_and_usage(
        self, tenant: Tenant, run: WorkflowRun
    ) -> None:
        step = await RunStep.create(
            tenant=tenant,
            run=run,
            node_id="extract",
            attempt=1,
            started_at=AT,
            ended_at=AT + timedelta(milliseconds=1500),
            duration_ms=1500.0,
            status=StepStatus.COMPLETED,
            output={"total": 1200},
            prompt_tokens=10,
            completion_tokens=5,
            total_tokens=15,
        )

        stored = await RunStep.get(id=step.id)
        assert stored.status is StepStatus.COMPLETED
        assert (stored.output, stored.total_tokens, stored.duration_ms) == (
            {"total": 1200},
            15,
            1500.0,
        )


class TestRunEventRecord:
    async def test_sequence_numbers_are_unique_per_run(
        self, tenant: Tenant, run: WorkflowRun
    ) -> None:
        other = await _run(tenant)
        await RunEventRecord.create(tenant=tenant, run=run, seq=1, kind="run_started", at=AT)
        await RunEventRecord.create(tenant=tenant, run=other, seq=1, kind="run_started", at=AT)

        with pytest.raises(IntegrityError):
            await RunEventRecord.create(
                tenant=tenant, run=run, seq=1, kind="node_started", node_id="a", at=AT
            )

    async def test_events_read_back_in_sequence(self, tenant: Tenant, run: WorkflowRun) -> None:
        kinds = ["run_started", "node_started", "node_completed", "run_completed"]
        for seq, kind in enumerate(kinds, start=1):
            await RunEventRecord.create(
                tenant=tenant, run=run, seq=seq, kind=kind, at=AT, data={"seq": seq}
            )

        events = await RunEventRecord.filter(run=run, seq__gt=1).order_by("seq")

        assert [(e.kind, e.data) for e in events] == [
            ("node_started", {"seq": 2}),
            ("node_completed", {"seq": 3}),
            ("run_completed", {"seq": 4}),
        ]
