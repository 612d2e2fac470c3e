"""An executor holding leases: it renews them, stops a run canceled from another process or
taken over by one, and gives its leases up when it closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from api.services import run_executor
from api.services.execution import RecordedRun
from api.services.run_executor import LeaseKeeping, RunExecutor
from api.services.run_leases import expired_runs, requeue_expired
from api.services.run_records import LeaseTerms
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import RunStatus, Tenant, WorkflowRun
from tests.support.clock import FakeClock
from tests.support.waiting import until
from tests.workflow_compiler.lowering.conftest import ProbeTool
from worker.tasks import take_up_run
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import CollectingSink
from workflow_compiler.lowering import CompiledWorkflow, RunOutcome, compile_workflow

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [{"id": "call", "type": "tool", "tool": "probe", "args": {"key": "k", "value": 1}}],
}
TERMS = LeaseTerms(owner="here", ttl_s=30)


@pytest.fixture
async def leased(database: str, services: RuntimeServices) -> AsyncIterator[RunExecutor]:
    executor = RunExecutor(
        services,
        checkpointer=TortoiseSaver(),
        events_for=lambda run: services.events,
        on_change=lambda run_id: None,
        lease=LeaseKeeping(terms=TERMS, check_s=0.02),
    )
    yield executor
    await executor.aclose()


@pytest.fixture
def held(probe: ProbeTool) -> asyncio.Event:
    """The probe's call waits for this: the run stays in its node until the test sets it."""
    gate = probe.gates["k"] = asyncio.Event()
    return gate


async def _queued(services: RuntimeServices) -> tuple[WorkflowRun, CompiledWorkflow]:
    spec = parse_spec(SPEC, tools=services.tools)
    run = await WorkflowRun.create(
        tenant=await Tenant.create(name="acme"),
        spec=SPEC,
        spec_hash=spec.spec_hash(),
        source="api",
        status=RunStatus.QUEUED,
    )
    return run, compile_workflow(spec)


async def _start(run: RecordedRun, services: RuntimeServices) -> RunOutcome:
    return await run.start(services)


async def _executing(
    executor: RunExecutor, services: RuntimeServices, probe: ProbeTool
) -> tuple[WorkflowRun, asyncio.Task[None]]:
    run, compiled = await _queued(services)
    task = executor.submit(run, compiled, _start)
    assert await asyncio.wait_for(probe.started.get(), 10) == "k"
    return run, task


async def _row(run: WorkflowRun) -> WorkflowRun:
    return await WorkflowRun.get(id=run.id)


class TestLeases:
    async def test_the_run_executes_under_this_processs_lease(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        clock: FakeClock,
    ) -> None:
        run, task = await _executing(leased, services, probe)

        row = await _row(run)
        assert (row.lease_owner, row.fencing_token) == ("here", 1)
        assert row.lease_expires_at == clock.now() + timedelta(seconds=30)
        held.set()
        await task
        assert (await _row(run)).lease_owner is None

    async def test_leases_are_renewed_while_the_run_executes(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        clock: FakeClock,
    ) -> None:
        run, task = await _executing(leased, services, probe)
        clock.t += 11  # past a third of the lease's 30 s
        renewed = clock.now() + timedelta(seconds=30)

        async def pushed() -> bool:
            return (await _row(run)).lease_expires_at == renewed

        await until(pushed, what="the lease renewed")
        held.set()
        await task

    async def test_a_cancel_requested_elsewhere_stops_the_node_in_flight(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        events: CollectingSink,
    ) -> None:
        run, task = await _executing(leased, services, probe)

        await WorkflowRun.filter(id=run.id).update(cancel_requested_at=services.clock.now())
        await asyncio.wait_for(task, 10)

        row = await _row(run)
        assert (row.status, row.lease_owner) == (RunStatus.CANCELED, None)
        assert events.kinds()[-1] == "run_canceled"
        assert probe.finished == []

    async def test_a_run_taken_over_stops_here_and_records_nothing(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        events: CollectingSink,
    ) -> None:
        run, task = await _executing(leased, services, probe)

        # What another worker's ``mark_running`` writes once this lease expired.
        await WorkflowRun.filter(id=run.id).update(fencing_token=2, lease_owner="elsewhere")
        await asyncio.wait_for(task, 10)

        row = await _row(run)
        assert (row.status, row.lease_owner, row.fencing_token) == (
            RunStatus.RUNNING,
            "elsewhere",
            2,
        )
        assert "run_canceled" not in events.kinds()
        assert probe.finished == []

    async def test_a_run_the_reaper_handed_on_stops_here_and_records_nothing(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        events: CollectingSink,
        clock: FakeClock,
    ) -> None:
        """This process hung past its lease (the clock moved on without a renewal), the
        reaper put the run back on the queue: when it looks again, it stops."""
        run, task = await _executing(leased, services, probe)
        late = clock.now() + timedelta(seconds=TERMS.ttl_s + 1)
        (lapsed,) = await expired_runs(at=late, unleased_after_s=60, limit=10)
        assert await requeue_expired(lapsed, at=late, unleased_after_s=60)

        await asyncio.wait_for(task, 10)

        row = await _row(run)
        assert (row.status, row.lease_owner) == (RunStatus.QUEUED, None)
        assert "run_canceled" not in events.kinds()
        assert probe.finished == []

    async def test_the_reapers_message_for_a_run_it_took_from_here_runs_it_again(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        clock: FakeClock,
    ) -> None:
        """This worker hung on the run, the reaper requeued it, and its message comes back to
        this very worker: the stale execution stops, then the run executes afresh here."""
        run, stale = await _executing(leased, services, probe)
        late = clock.now() + timedelta(seconds=TERMS.ttl_s + 1)
        (lapsed,) = await expired_runs(at=late, unleased_after_s=60, limit=10)
        assert await requeue_expired(lapsed, at=late, unleased_after_s=60)

        message = asyncio.create_task(take_up_run(run.id, leased))
        await asyncio.wait_for(stale, 10)
        held.set()
        await asyncio.wait_for(message, 10)

        row = await _row(run)
        assert (row.status, row.attempt) == (RunStatus.COMPLETED, 2)
        assert probe.finished == ["k"]

    async def test_a_lease_no_renewal_kept_stops_its_run(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def unreachable(*args: object, **kwargs: object) -> int:
            raise ConnectionError("the database is away")

        monkeypatch.setattr(run_executor, "renew_leases", unreachable)
        run, task = await _executing(leased, services, probe)
        clock.t += TERMS.ttl_s  # a whole lease without a renewal

        await asyncio.wait_for(task, 10)

        assert (await _row(run)).status is RunStatus.RUNNING  # for the reaper to hand on
        assert probe.finished == []

    async def test_a_closed_executor_takes_nothing_more(
        self, leased: RunExecutor, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        await leased.aclose()
        run, compiled = await _queued(services)

        with pytest.raises(RuntimeError, match="closed"):
            leased.submit(run, compiled, _start)
        assert leased.closed

    async def test_closing_gives_the_leases_up(
        self,
        leased: RunExecutor,
        services: RuntimeServices,
        probe: ProbeTool,
        held: asyncio.Event,
        clock: FakeClock,
    ) -> None:
        run, _ = await _executing(leased, services, probe)

        await leased.aclose()

        row = await _row(run)
        assert row.status is RunStatus.RUNNING
        assert row.lease_expires_at == clock.now()
