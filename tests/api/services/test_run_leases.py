"""Leases and fencing on run rows: taking a run, refusing a stale execution's writes, and
finding the runs the reaper and the sweeper hand on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.services.child_runs import CHILD_KEY_PREFIX
from api.services.run_leases import (
    expired_runs,
    held_runs,
    process_owner,
    release_leases,
    renew_leases,
    requeue_expired,
    stale_queued,
    touch_queued,
)
from api.services.run_records import (
    LOCAL_TENANT_ID,
    LeaseTerms,
    RunEndedError,
    RunTakenError,
    local_tenant,
    mark_running,
    record_canceled,
    record_outcome,
)
from shared.database.models import RunStatus, Tenant, WorkflowRun
from workflow_compiler.lowering import RunOutcome

AT = datetime(2026, 1, 1, tzinfo=UTC)
A = LeaseTerms(owner="worker-a", ttl_s=30)
B = LeaseTerms(owner="worker-b", ttl_s=30)
DONE = RunOutcome(status="completed", output={"ok": True})
UNLEASED_S = 60


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


async def _queued(tenant: Tenant, **fields: object) -> WorkflowRun:
    values: dict[str, object] = {
        "tenant": tenant,
        "spec": {"version": "1", "nodes": []},
        "spec_hash": "0" * 64,
        "source": "api",
        "status": RunStatus.QUEUED,
    }
    return await WorkflowRun.create(**(values | fields))


async def _row(run: WorkflowRun) -> WorkflowRun:
    return await WorkflowRun.get(id=run.id)


class TestTaking:
    async def test_taking_a_run_holds_its_lease_under_a_new_token(self, tenant: Tenant) -> None:
        run = await _queued(tenant)

        await mark_running(run, at=AT, new_attempt=True, lease=A)

        row = await _row(run)
        assert (row.status, row.lease_owner, row.fencing_token, row.attempt) == (
            RunStatus.RUNNING,
            "worker-a",
            1,
            1,
        )
        assert row.lease_expires_at == AT + timedelta(seconds=30)
        assert run.fencing_token == 1

    async def test_a_live_lease_keeps_everyone_else_out(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)
        other = await _row(run)

        with pytest.raises(RunTakenError):
            await mark_running(other, at=AT + timedelta(seconds=29), new_attempt=True, lease=B)

        assert (await _row(run)).lease_owner == "worker-a"

    async def test_an_expired_lease_is_taken_over(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)
        other = await _row(run)

        await mark_running(other, at=AT + timedelta(seconds=31), new_attempt=True, lease=B)

        row = await _row(run)
        assert (row.lease_owner, row.fencing_token, row.attempt) == ("worker-b", 2, 2)

    async def test_a_row_read_before_another_took_the_run_cannot_take_it(
        self, tenant: Tenant
    ) -> None:
        run = await _queued(tenant)
        stale = await _row(run)
        await mark_running(run, at=AT, new_attempt=True)  # no lease: the token still moves on

        with pytest.raises(RunTakenError):
            await mark_running(stale, at=AT, new_attempt=True, lease=B)

    async def test_an_ended_run_is_not_taken(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        assert await record_canceled(run, at=AT)

        with pytest.raises(RunEndedError):
            await mark_running(run, at=AT, lease=A)


class TestFencing:
    async def test_a_stale_executions_outcome_is_refused(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)
        newer = await _row(run)
        await mark_running(newer, at=AT + timedelta(seconds=31), new_attempt=True, lease=B)

        stored = await record_outcome(run, DONE, at=AT + timedelta(seconds=32))

        assert not stored
        row = await _row(run)
        assert (row.status, row.outputs, row.lease_owner) == (RunStatus.RUNNING, None, "worker-b")
        assert run.fencing_token == 2  # the refused writer learns the current token

    async def test_the_holders_outcome_is_stored_and_releases_the_lease(
        self, tenant: Tenant
    ) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)

        assert await record_outcome(run, DONE, at=AT + timedelta(seconds=1))

        row = await _row(run)
        assert (row.status, row.lease_owner, row.lease_expires_at) == (
            RunStatus.COMPLETED,
            None,
            None,
        )

    async def test_a_stale_cancel_is_refused(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        stale = await _row(run)
        await mark_running(run, at=AT, new_attempt=True, lease=A)

        assert not await record_canceled(stale, at=AT)

        assert (await _row(run)).status is RunStatus.RUNNING
        assert stale.status is RunStatus.RUNNING


class TestHolding:
    async def test_renewal_pushes_only_the_owners_leases(self, tenant: Tenant) -> None:
        mine, theirs = await _queued(tenant), await _queued(tenant)
        await mark_running(mine, at=AT, new_attempt=True, lease=A)
        await mark_running(theirs, at=AT, new_attempt=True, lease=B)
        later = AT + timedelta(seconds=10)

        renewed = await renew_leases(A, [mine.id, theirs.id], at=later)

        assert renewed == 1
        assert (await _row(mine)).lease_expires_at == later + timedelta(seconds=30)
        assert (await _row(theirs)).lease_expires_at == AT + timedelta(seconds=30)

    async def test_held_runs_show_owner_token_and_cancel_request(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)
        await WorkflowRun.filter(id=run.id).update(cancel_requested_at=AT)

        (held,) = await held_runs([run.id])

        assert (held.id, held.lease_owner, held.fencing_token, held.cancel_requested) == (
            run.id,
            "worker-a",
            1,
            True,
        )

    async def test_released_leases_expire_at_once(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)

        assert await release_leases("worker-a", at=AT + timedelta(seconds=1)) == 1

        assert [
            r.id
            for r in await expired_runs(
                at=AT + timedelta(seconds=2), unleased_after_s=UNLEASED_S, limit=10
            )
        ] == [run.id]

    def test_process_owners_differ(self) -> None:
        assert process_owner() != process_owner()


class TestReaping:
    async def test_an_expired_run_is_requeued_once(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)
        late = AT + timedelta(seconds=31)
        (found,) = await expired_runs(at=late, unleased_after_s=UNLEASED_S, limit=10)
        (again,) = await expired_runs(at=late, unleased_after_s=UNLEASED_S, limit=10)

        assert await requeue_expired(found, at=late, unleased_after_s=UNLEASED_S)
        assert not await requeue_expired(again, at=late, unleased_after_s=UNLEASED_S)

        row = await _row(run)
        assert (row.status, row.lease_owner, row.lease_expires_at) == (RunStatus.QUEUED, None, None)
        assert row.fencing_token == run.fencing_token + 1  # the lapsed execution is fenced out

    async def test_a_running_run_without_a_lease_is_reaped_once_untouched_long_enough(
        self, tenant: Tenant
    ) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True)  # an execution that holds no lease

        soon = AT + timedelta(seconds=UNLEASED_S - 1)
        assert await expired_runs(at=soon, unleased_after_s=UNLEASED_S, limit=10) == []
        late = AT + timedelta(seconds=UNLEASED_S + 1)
        (found,) = await expired_runs(at=late, unleased_after_s=UNLEASED_S, limit=10)
        assert await requeue_expired(found, at=late, unleased_after_s=UNLEASED_S)
        assert (await _row(run)).status is RunStatus.QUEUED

    async def test_a_lease_renewed_meanwhile_is_not_reaped(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await mark_running(run, at=AT, new_attempt=True, lease=A)
        late = AT + timedelta(seconds=31)
        (found,) = await expired_runs(at=late, unleased_after_s=UNLEASED_S, limit=10)
        await renew_leases(A, [run.id], at=late)

        assert not await requeue_expired(found, at=late, unleased_after_s=UNLEASED_S)
        assert (await _row(run)).status is RunStatus.RUNNING

    async def test_live_leases_local_runs_and_child_runs_are_left_alone(
        self, tenant: Tenant
    ) -> None:
        live = await _queued(tenant)
        await mark_running(live, at=AT, new_attempt=True, lease=A)
        for other in (
            await _queued(await local_tenant()),
            await _queued(tenant, idempotency_key=f"{CHILD_KEY_PREFIX}x"),
        ):
            await mark_running(other, at=AT - timedelta(minutes=5), new_attempt=True, lease=B)

        assert (
            await expired_runs(at=AT + timedelta(seconds=29), unleased_after_s=UNLEASED_S, limit=10)
            == []
        )
        assert tenant.id != LOCAL_TENANT_ID


class TestSweeping:
    async def test_a_stale_queued_run_is_swept_once_per_interval(self, tenant: Tenant) -> None:
        run = await _queued(tenant, updated_at=AT)
        await WorkflowRun.filter(id=run.id).update(updated_at=AT)
        now = AT + timedelta(seconds=31)
        (found,) = await stale_queued(at=now, after_s=30, limit=10)
        (again,) = await stale_queued(at=now, after_s=30, limit=10)

        assert await touch_queued(found, at=now)
        assert not await touch_queued(again, at=now)
        assert await stale_queued(at=now + timedelta(seconds=29), after_s=30, limit=10) == []
        assert [
            r.id for r in await stale_queued(at=now + timedelta(seconds=31), after_s=30, limit=10)
        ] == [run.id]

    async def test_a_run_queued_recently_is_not_swept(self, tenant: Tenant) -> None:
        run = await _queued(tenant)
        await WorkflowRun.filter(id=run.id).update(updated_at=AT)

        assert await stale_queued(at=AT + timedelta(seconds=29), after_s=30, limit=10) == []
