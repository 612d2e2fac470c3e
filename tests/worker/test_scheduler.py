"""The scheduler's reaper and sweeper: what they hand on, how often, and when the queue is
away."""

from __future__ import annotations

import pytest

from api.services.run_records import LeaseTerms, mark_running
from shared.database.models import RunStatus, Tenant, WorkflowRun
from tests.support.clock import FakeClock
from worker.scheduler import Scheduler, SchedulerTimings

TIMINGS = SchedulerTimings(interval_s=5, sweep_after_s=30)


class RecordingQueue:
    """A ``RunQueue`` that keeps what it was given, or fails like an unreachable Redis."""

    def __init__(self, *, failing: bool = False) -> None:
        self.put_ids: list[str] = []
        self.failing = failing
        self.backlog = 0

    async def put(self, run_id: str) -> None:
        if self.failing:
            raise ConnectionError("Redis is away")
        self.put_ids.append(run_id)

    async def undelivered(self) -> int:
        return self.backlog


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


async def _run(tenant: Tenant, clock: FakeClock, *, leased_for_s: float | None) -> WorkflowRun:
    run = await WorkflowRun.create(
        tenant=tenant, spec={"version": "1", "nodes": []}, spec_hash="0" * 64, source="api"
    )
    await WorkflowRun.filter(id=run.id).update(updated_at=clock.now())
    if leased_for_s is not None:
        terms = LeaseTerms(owner="gone", ttl_s=leased_for_s)
        await mark_running(run, at=clock.now(), new_attempt=True, lease=terms)
    return run


class TestReaper:
    async def test_runs_whose_lease_expired_are_queued_and_enqueued(
        self, tenant: Tenant, clock: FakeClock
    ) -> None:
        lost = await _run(tenant, clock, leased_for_s=10)
        alive = await _run(tenant, clock, leased_for_s=60)
        queue = RecordingQueue()
        clock.t += 11

        reaped = await Scheduler(queue, TIMINGS, clock=clock).reap()

        assert reaped == queue.put_ids == [lost.id]
        assert (await WorkflowRun.get(id=lost.id)).status is RunStatus.QUEUED
        assert (await WorkflowRun.get(id=alive.id)).status is RunStatus.RUNNING

    async def test_a_reaped_run_is_not_reaped_again(self, tenant: Tenant, clock: FakeClock) -> None:
        await _run(tenant, clock, leased_for_s=10)
        clock.t += 11
        scheduler = Scheduler(RecordingQueue(), TIMINGS, clock=clock)

        assert len(await scheduler.reap()) == 1
        assert await scheduler.reap() == []


class TestSweeper:
    async def test_runs_queued_too_long_are_enqueued_once_per_interval(
        self, tenant: Tenant, clock: FakeClock
    ) -> None:
        stale = await _run(tenant, clock, leased_for_s=None)
        clock.t += 20
        await _run(tenant, clock, leased_for_s=None)  # queued 20 s later: not stale yet
        queue = RecordingQueue()
        scheduler = Scheduler(queue, TIMINGS, clock=clock)
        clock.t += 11

        assert await scheduler.sweep() == [stale.id]
        assert await scheduler.sweep() == []
        clock.t += 31
        assert len(await scheduler.sweep()) == 2
        assert queue.put_ids[0] == stale.id

    async def test_no_sweep_while_workers_have_messages_to_read(
        self, tenant: Tenant, clock: FakeClock
    ) -> None:
        run = await _run(tenant, clock, leased_for_s=None)
        queue = RecordingQueue()
        queue.backlog = 500
        scheduler = Scheduler(queue, TIMINGS, clock=clock)
        clock.t += 31

        assert await scheduler.sweep() == []
        queue.backlog = 0
        assert await scheduler.sweep() == [run.id]

    async def test_while_the_queue_is_away_runs_stay_queued_for_the_next_sweep(
        self, tenant: Tenant, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        run = await _run(tenant, clock, leased_for_s=None)
        queue = RecordingQueue(failing=True)
        scheduler = Scheduler(queue, TIMINGS, clock=clock)
        clock.t += 31

        assert await scheduler.sweep() == []
        assert "stay queued" in caplog.text
        queue.failing = False
        clock.t += 31
        assert await scheduler.sweep() == [run.id]
        assert (await WorkflowRun.get(id=run.id)).status is RunStatus.QUEUED
