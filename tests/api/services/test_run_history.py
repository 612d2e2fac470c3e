"""Run history services: steps, events (paged and followed), checkpoints and their state,
tags and annotations; all through the caller's tenant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services import Principal, RunEventHub, RunNotFoundError
from api.services.run_history import (
    MAX_ANNOTATIONS,
    AnnotationsInvalidError,
    checkpoint_state,
    follow_events,
    list_checkpoints,
    list_events,
    list_steps,
    set_tags,
    update_annotations,
)
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import AuditEvent, Role, RunEventRecord, RunTag, Tenant
from shared.errors import PermissionDeniedError
from tests.support.runs import recorded_run
from tests.workflow_compiler.lowering.conftest import ProbeTool, probe_node, set_node, spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import CheckpointNotFoundError

AT = datetime(2026, 2, 3, tzinfo=UTC)
CHAIN = spec(
    set_node("a", 1), set_node("b", "{{ nodes.a.output + 1 }}"), output="{{ nodes.b.output }}"
)


def principal(tenant: Tenant, role: Role = Role.ADMIN) -> Principal:
    return Principal(tenant_id=tenant.id, role=role, key_id=f"key_{role}")


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


@pytest.fixture
async def admin(tenant: Tenant) -> Principal:
    return principal(tenant)


@pytest.fixture
async def stranger(database: str) -> Principal:
    return principal(await Tenant.create(name="other"))


async def finished_run(raw: dict[str, Any], tenant: Tenant, services: RuntimeServices) -> str:
    run, recorded = await recorded_run(raw, tenant, services)
    await run.start(recorded)
    return run.run_id


async def collect(events: Any) -> list[Any]:
    return [event async for event in events]


class TestListSteps:
    async def test_steps_come_in_execution_order_a_page_at_a_time(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        first = await list_steps(admin, run_id, limit=1)
        second = await list_steps(admin, run_id, limit=1, cursor=first.next_cursor)

        assert [s.node_id for s in first.steps + second.steps] == ["a", "b"]
        assert second.next_cursor is None

    async def test_another_tenants_run_is_not_found(
        self, stranger: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(RunNotFoundError):
            await list_steps(stranger, run_id, limit=10)

    async def test_a_limit_out_of_range_is_refused(self, admin: Principal) -> None:
        with pytest.raises(ValueError, match="limit"):
            await list_steps(admin, "run_x", limit=0)


class TestListEvents:
    async def test_a_page_after_a_seq_and_where_to_go_on(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        page = await list_events(admin, run_id, after=2, limit=2)
        rest = await list_events(admin, run_id, after=page.next_after, limit=100)
        empty = await list_events(admin, run_id, after=rest.next_after, limit=100)

        assert [e.seq for e in page.events] == [3, 4]
        assert page.next_after == 4
        assert [e.seq for e in rest.events] == [5, 6]
        assert (empty.events, empty.next_after) == ([], 6)

    async def test_another_tenants_run_is_not_found(
        self, stranger: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(RunNotFoundError):
            await list_events(stranger, run_id, limit=10)


class TestFollowEvents:
    async def test_a_finished_run_yields_its_events_and_ends(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        events = await collect(
            await follow_events(admin, run_id, after=1, hub=RunEventHub(), heartbeat_s=10)
        )

        assert [e.seq for e in events] == [2, 3, 4, 5, 6]

    async def test_a_run_in_progress_is_followed_with_heartbeats_until_it_stops(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices, probe: ProbeTool
    ) -> None:
        hub = RunEventHub()
        probe.gates["slow"] = gate = asyncio.Event()
        run, recorded = await recorded_run(spec(probe_node("slow")), tenant, services, hub=hub)
        execution = asyncio.create_task(run.start(recorded))
        await probe.started.get()
        follower = await follow_events(admin, run.run_id, hub=hub, heartbeat_s=0.01)

        seen = [(await anext(follower)).kind, (await anext(follower)).kind]
        heartbeat = await anext(follower)
        gate.set()
        await execution
        hub.notify(run.run_id)  # the executor's word that the status changed
        rest = await collect(follower)

        assert seen == ["run_started", "node_started"]
        assert heartbeat is None
        assert [e.kind for e in rest if e is not None] == ["node_completed", "run_completed"]

    async def test_a_run_waiting_for_people_ends_the_stream(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        ask = {"id": "ask", "type": "human", "prompt": "Ok?"}
        run_id = await finished_run(spec(ask), tenant, services)

        events = await collect(
            await follow_events(admin, run_id, hub=RunEventHub(), heartbeat_s=10)
        )

        assert [e.kind for e in events] == ["run_started", "node_started", "interrupted"]

    async def test_more_events_than_one_read_are_all_yielded(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        body = [set_node("x", "{{ item }}")]
        raw = spec({"id": "each", "type": "for_each", "items": list(range(110)), "body": body})
        run_id = await finished_run(raw, tenant, services)

        events = await collect(
            await follow_events(admin, run_id, hub=RunEventHub(), heartbeat_s=10)
        )

        total = await RunEventRecord.filter(run_id=run_id).count()
        assert total > 200  # more than one read
        assert [e.seq for e in events] == list(range(1, total + 1))

    async def test_another_tenants_run_is_not_found_before_any_event(
        self, stranger: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(RunNotFoundError):
            await follow_events(stranger, run_id, hub=RunEventHub(), heartbeat_s=10)


class TestCheckpoints:
    async def test_checkpoints_are_listed_newest_first_a_page_at_a_time(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)
        saver = TortoiseSaver()

        first = await list_checkpoints(admin, run_id, checkpointer=saver, limit=2)
        rest = await list_checkpoints(
            admin, run_id, checkpointer=saver, limit=10, before=first.next_cursor
        )

        listed = first.checkpoints + rest.checkpoints
        assert [c.step for c in listed] == [2, 1, 0, -1]
        assert [c.nodes for c in listed] == [["b"], ["a"], [], []]
        assert [c.source for c in listed] == ["loop", "loop", "loop", "input"]
        assert listed[0].parent_checkpoint_id == listed[1].checkpoint_id
        assert listed[-1].parent_checkpoint_id is None
        assert rest.next_cursor is None

    async def test_the_state_at_a_checkpoint_and_what_was_due_next(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)
        saver = TortoiseSaver()
        page = await list_checkpoints(admin, run_id, checkpointer=saver, limit=10)
        after_a = next(c for c in page.checkpoints if c.nodes == ["a"])

        state = await checkpoint_state(admin, run_id, after_a.checkpoint_id, checkpointer=saver)

        assert state.checkpoint == after_a
        assert (state.inputs, state.nodes, state.next) == ({}, {"a": 1}, ["b"])

    async def test_an_unknown_checkpoint_is_not_found(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(CheckpointNotFoundError):
            await checkpoint_state(admin, run_id, "nope", checkpointer=TortoiseSaver())

    async def test_another_tenants_checkpoints_are_not_found(
        self, stranger: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(RunNotFoundError):
            await list_checkpoints(stranger, run_id, checkpointer=TortoiseSaver(), limit=10)


class TestTags:
    async def test_tags_are_replaced_in_the_row_and_the_index_and_audited(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)
        await set_tags(admin, run_id, ["old"], at=AT)

        run = await set_tags(admin, run_id, ["b", "a", "b"], at=AT)

        assert run.tags == ["b", "a"]
        indexed = await RunTag.filter(run_id=run_id).order_by("tag").values_list("tag", flat=True)
        assert indexed == ["a", "b"]
        audit = await AuditEvent.filter(action="run.tag").order_by("-id").first()
        assert audit is not None
        assert (audit.target_id, audit.data) == (run_id, {"tags": ["b", "a"]})

    async def test_a_viewer_may_not_tag(self, tenant: Tenant, services: RuntimeServices) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(PermissionDeniedError):
            await set_tags(principal(tenant, Role.VIEWER), run_id, ["x"], at=AT)

    async def test_another_tenants_run_is_not_found(
        self, stranger: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(RunNotFoundError):
            await set_tags(stranger, run_id, ["x"], at=AT)


class TestAnnotations:
    async def test_changes_are_merged_and_null_removes_a_key(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)
        await update_annotations(admin, run_id, {"ticket": "T-1", "owner": "ada"}, at=AT)

        run = await update_annotations(admin, run_id, {"ticket": None, "team": "ops"}, at=AT)

        assert run.annotations == {"owner": "ada", "team": "ops"}
        audit = await AuditEvent.filter(action="run.annotate").order_by("-id").first()
        assert audit is not None
        assert audit.data == {"keys": ["team", "ticket"]}

    async def test_more_than_the_maximum_is_refused_and_nothing_changes(
        self, admin: Principal, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)
        full = {f"k{i}": "v" for i in range(MAX_ANNOTATIONS)}
        await update_annotations(admin, run_id, full, at=AT)

        with pytest.raises(AnnotationsInvalidError, match="at most"):
            await update_annotations(admin, run_id, {"one": "more"}, at=AT)

        run = await update_annotations(admin, run_id, {}, at=AT)
        assert run.annotations == full

    async def test_a_viewer_may_not_annotate(
        self, tenant: Tenant, services: RuntimeServices
    ) -> None:
        run_id = await finished_run(CHAIN, tenant, services)

        with pytest.raises(PermissionDeniedError):
            await update_annotations(principal(tenant, Role.VIEWER), run_id, {"a": "b"}, at=AT)
