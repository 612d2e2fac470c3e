"""Child runs of ``workflow`` nodes: rows with lineage, versions, failures, idempotency,
nesting, and children waiting for a person."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services import (
    Principal,
    RecordedRun,
    create_run,
    create_version,
    create_workflow,
    publish_version,
    update_draft,
)
from api.services.child_runs import CHILD_KEY_PREFIX, MAX_CHILD_DEPTH, TenantChildRuns
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import Role, RunSource, RunStatus, Tenant, WorkflowRun
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import ChildRunRequest, RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import CollectingSink
from workflow_compiler.lowering import RunOutcome, compile_workflow
from workflow_compiler.registries.builtin import default_tool_registry

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

DOUBLER: dict[str, Any] = {
    "version": "1",
    "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    "nodes": [
        {
            "id": "double",
            "type": "tool",
            "tool": "probe",
            "args": {"key": "double", "value": "{{ inputs.n * 2 }}"},
        }
    ],
    "output": {"doubled": "{{ nodes.double.output }}"},
}

TWO_STEPS: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "first", "type": "tool", "tool": "probe", "args": {"key": "first", "value": 1}},
        {"id": "boom", "type": "tool", "tool": "probe", "args": {"key": "boom", "value": 2}},
    ],
    "output": "{{ nodes.first.output + nodes.boom.output }}",
}

ASKING: dict[str, Any] = {
    "version": "1",
    "nodes": [{"id": "approve", "type": "human", "prompt": "Ok?", "schema": {"type": "boolean"}}],
}


def calling(workflow_id: str, version: Any = "published", **inputs: Any) -> dict[str, Any]:
    """A spec whose one node runs ``workflow_id`` with ``inputs``; its output is the child's."""
    node = {"id": "call", "type": "workflow", "workflow_id": workflow_id, "version": version}
    return {"version": "1", "nodes": [{**node, "inputs": inputs}]}


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


@pytest.fixture
def admin(tenant: Tenant) -> Principal:
    return Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id="key_admin")


@pytest.fixture
def sinks() -> defaultdict[str, CollectingSink]:
    """The event sink of each child run, by run id."""
    return defaultdict(CollectingSink)


@pytest.fixture
def saver(database: str) -> TortoiseSaver:
    return TortoiseSaver()


@pytest.fixture
def children(
    tenant: Tenant,
    services: RuntimeServices,
    saver: TortoiseSaver,
    sinks: defaultdict[str, CollectingSink],
) -> TenantChildRuns:
    return TenantChildRuns(
        tenant.id, services=services, checkpointer=saver, events_for=lambda run: sinks[run.id]
    )


@pytest.fixture
def parent_services(services: RuntimeServices, children: TenantChildRuns) -> RuntimeServices:
    return dataclasses.replace(services, child_runs=children)


async def saved(admin: Principal, services: RuntimeServices, *specs: dict[str, Any]) -> str:
    """A workflow with one version per spec, the last one published."""
    workflow = await create_workflow(admin, name="child", spec=specs[0], at=AT)
    for revision, spec in enumerate(specs, start=1):
        if revision > 1:
            await update_draft(admin, workflow.id, base_revision=revision - 1, spec=spec, at=AT)
        await create_version(admin, workflow.id, tools=services.tools, at=AT)
    await publish_version(admin, workflow.id, len(specs), at=AT)
    return workflow.id


class Parent:
    """A parent run of an ad-hoc spec, executed as the server executes runs."""

    def __init__(self, recorded: RecordedRun, services: RuntimeServices) -> None:
        self.recorded = recorded
        self.services = services

    @classmethod
    async def create(
        cls, tenant: Tenant, raw: dict[str, Any], services: RuntimeServices, saver: TortoiseSaver
    ) -> Parent:
        spec = parse_spec(raw, tools=services.tools)
        row = await create_run(tenant, spec, {}, at=AT, source=RunSource.TRIGGER)
        return cls(
            RecordedRun(record=row, compiled=compile_workflow(spec), checkpointer=saver), services
        )

    @property
    def id(self) -> str:
        return self.recorded.run_id

    async def start(self) -> RunOutcome:
        return await self.recorded.start(self.services)

    async def continue_run(self) -> RunOutcome:
        return await self.recorded.continue_run(self.services)


@pytest.fixture
def parent(tenant: Tenant, parent_services: RuntimeServices, saver: TortoiseSaver) -> Any:
    async def make(raw: dict[str, Any]) -> Parent:
        return await Parent.create(tenant, raw, parent_services, saver)

    return make


async def child_rows(parent_id: str) -> list[WorkflowRun]:
    return await WorkflowRun.filter(parent_run_id=parent_id).select_related("version")


class TestStart:
    async def test_the_child_runs_the_published_version_and_its_outputs_flow_back(
        self,
        admin: Principal,
        services: RuntimeServices,
        probe: ProbeTool,
        parent: Any,
        sinks: defaultdict[str, CollectingSink],
    ) -> None:
        doubler = await saved(admin, services, DOUBLER)
        run = await parent(calling(doubler, n=21))

        outcome = await run.start()

        assert (outcome.status, outcome.output) == ("completed", {"doubled": 42})
        (child,) = await child_rows(run.id)
        assert child.workflow_id == doubler
        assert child.version.version_number == 1
        assert child.spec is None
        assert (child.status, child.inputs, child.outputs) == (
            RunStatus.COMPLETED,
            {"n": 21},
            {"doubled": 42},
        )
        assert child.source is RunSource.TRIGGER
        assert child.idempotency_key.startswith(f"{CHILD_KEY_PREFIX}{run.id}:call:")
        assert sinks[child.id].kinds() == [
            "run_started",
            "node_started",
            "node_completed",
            "run_completed",
        ]
        assert probe.calls == ["double"]

    async def test_a_pinned_version(
        self, admin: Principal, services: RuntimeServices, probe: ProbeTool, parent: Any
    ) -> None:
        tripler = {**DOUBLER, "output": {"tripled": "{{ nodes.double.output * 3 // 2 }}"}}
        workflow_id = await saved(admin, services, DOUBLER, tripler)
        pinned = await parent(calling(workflow_id, version=1, n=2))
        published = await parent(calling(workflow_id, n=2))

        assert (await pinned.start()).output == {"doubled": 4}
        assert (await published.start()).output == {"tripled": 6}
        assert [c.version.version_number for c in await child_rows(pinned.id)] == [1]
        assert [c.version.version_number for c in await child_rows(published.id)] == [2]


class TestWhatCannotRun:
    async def _failure(self, parent: Any, raw: dict[str, Any]) -> NodeError:
        run = await parent(raw)
        outcome = await run.start()
        assert outcome.status == "failed"
        assert await child_rows(run.id) == []
        assert outcome.error is not None
        return outcome.error

    async def test_a_missing_workflow(self, tenant: Tenant, parent: Any) -> None:
        missing = "wf_01JH4X9Q2ZKV8S7E5M3T6YB0CD"

        error = await self._failure(parent, calling(missing))

        assert (error.kind, error.message) == (
            ErrorKind.CONFIG_ERROR,
            f"workflow node 'call' cannot run: no workflow '{missing}'",
        )

    async def test_a_workflow_of_another_tenant(
        self, services: RuntimeServices, probe: ProbeTool, parent: Any
    ) -> None:
        other = await Tenant.create(name="other")
        stranger = Principal(tenant_id=other.id, role=Role.ADMIN, key_id="key_other")
        workflow_id = await saved(stranger, services, DOUBLER)

        error = await self._failure(parent, calling(workflow_id, n=1))

        assert error.message == f"workflow node 'call' cannot run: no workflow '{workflow_id}'"

    async def test_a_missing_version(
        self, admin: Principal, services: RuntimeServices, probe: ProbeTool, parent: Any
    ) -> None:
        workflow_id = await saved(admin, services, DOUBLER)

        error = await self._failure(parent, calling(workflow_id, version=2, n=1))

        assert (error.kind, error.message) == (
            ErrorKind.CONFIG_ERROR,
            f"workflow node 'call' cannot run: workflow '{workflow_id}' has no version 2",
        )

    async def test_no_published_version(
        self, admin: Principal, services: RuntimeServices, probe: ProbeTool, parent: Any
    ) -> None:
        workflow = await create_workflow(admin, name="draft only", spec=DOUBLER, at=AT)
        await create_version(admin, workflow.id, tools=services.tools, at=AT)

        error = await self._failure(parent, calling(workflow.id, n=1))

        assert (error.kind, error.message) == (
            ErrorKind.CONFIG_ERROR,
            f"workflow node 'call' runs the published version of workflow '{workflow.id}', "
            "which has none: publish one, or pin a version",
        )

    async def test_invalid_inputs_name_their_paths(
        self, admin: Principal, services: RuntimeServices, probe: ProbeTool, parent: Any
    ) -> None:
        workflow_id = await saved(admin, services, DOUBLER)

        error = await self._failure(parent, calling(workflow_id, n="many"))

        assert (error.kind, error.message) == (
            ErrorKind.VALIDATION_ERROR,
            f"workflow node 'call' gives workflow '{workflow_id}' invalid inputs: "
            "inputs.n: 'many' is not of type 'integer'",
        )

    async def test_a_version_that_no_longer_passes_its_checks(
        self,
        admin: Principal,
        tenant: Tenant,
        services: RuntimeServices,
        probe: ProbeTool,
        saver: TortoiseSaver,
    ) -> None:
        workflow_id = await saved(admin, services, DOUBLER)
        without_probe = dataclasses.replace(
            services, tools=default_tool_registry(load_plugins=False)
        )
        children = TenantChildRuns(tenant.id, services=without_probe, checkpointer=saver)
        run = await Parent.create(
            tenant,
            calling(workflow_id, n=1),
            dataclasses.replace(services, child_runs=children),
            saver,
        )

        outcome = await run.start()

        assert outcome.error is not None
        assert outcome.error.kind is ErrorKind.CONFIG_ERROR
        assert outcome.error.message.startswith(
            f"version 1 of workflow '{workflow_id}' no longer passes its checks: "
        )
        assert "unknown tool 'probe'" in outcome.error.message


class TestChildFailure:
    async def test_fails_the_node_naming_the_child_and_retrying_the_parent_continues_it(
        self, admin: Principal, services: RuntimeServices, probe: ProbeTool, parent: Any
    ) -> None:
        workflow_id = await saved(admin, services, TWO_STEPS)
        run = await parent(calling(workflow_id))
        probe.broken.add("boom")

        failed = await run.start()

        (child,) = await child_rows(run.id)
        assert failed.status == "failed"
        assert failed.error is not None
        assert (failed.error.kind, failed.error.message) == (
            ErrorKind.CHILD_RUN_FAILED,
            f"child run {child.id} of workflow '{workflow_id}' failed: tool_error: "
            "probe 'boom' is broken",
        )
        assert child.status is RunStatus.FAILED

        probe.broken.clear()
        continued = await run.continue_run()

        assert (continued.status, continued.output) == ("completed", 3)
        (again,) = await child_rows(run.id)
        assert (again.id, again.status, again.attempt) == (child.id, RunStatus.COMPLETED, 2)
        assert (probe.count("first"), probe.count("boom")) == (1, 2)


@dataclass(frozen=True, slots=True)
class NodeExecution:
    """One execution of a parent's ``workflow`` node, which a test executes as often as it
    likes: each call is the node executed again, with the same idempotency key."""

    children: TenantChildRuns
    parent_id: str
    workflow_id: str

    async def __call__(self) -> Any:
        return await self.children.run_child(
            ChildRunRequest(
                parent_run_id=self.parent_id,
                node_id="call",
                idempotency_key=f"{self.parent_id}:call:task-1:1",
                workflow_id=self.workflow_id,
                version="published",
                inputs={"n": 5},
            )
        )


@pytest.fixture
def execution(
    admin: Principal, services: RuntimeServices, parent: Any, children: TenantChildRuns
) -> Callable[[dict[str, Any]], Awaitable[NodeExecution]]:
    """Saves a child workflow and a parent run calling it; returns the node's execution."""

    async def make(child: dict[str, Any]) -> NodeExecution:
        workflow_id = await saved(admin, services, child)
        run = await parent(calling(workflow_id))
        return NodeExecution(children, run.id, workflow_id)

    return make


class TestIdempotency:
    async def test_executing_the_node_again_returns_the_child_it_started(
        self, execution: Any, probe: ProbeTool
    ) -> None:
        node = await execution(DOUBLER)

        first = await node()
        second = await node()

        assert first == second == {"doubled": 10}
        assert probe.count("double") == 1
        assert len(await child_rows(node.parent_id)) == 1

    @pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.RUNNING])
    async def test_a_child_that_stopped_short_is_continued(
        self, execution: Any, probe: ProbeTool, status: RunStatus
    ) -> None:
        node = await execution(TWO_STEPS)
        probe.broken.add("boom")
        with pytest.raises(NodeError):
            await node()
        await WorkflowRun.filter(parent_run_id=node.parent_id).update(status=status)
        probe.broken.clear()

        assert await node() == 3
        assert (probe.count("first"), probe.count("boom")) == (1, 2)

    async def test_a_canceled_child_fails_the_node(self, execution: Any, probe: ProbeTool) -> None:
        node = await execution(DOUBLER)
        await node()
        await WorkflowRun.filter(parent_run_id=node.parent_id).update(status=RunStatus.CANCELED)

        with pytest.raises(NodeError) as info:
            await node()

        (child,) = await child_rows(node.parent_id)
        assert (info.value.kind, info.value.message) == (
            ErrorKind.CHILD_RUN_FAILED,
            f"child run {child.id} of workflow '{node.workflow_id}' was canceled",
        )
        assert probe.count("double") == 1

    async def test_concurrent_executions_of_one_node_start_one_child(
        self, execution: Any, probe: ProbeTool
    ) -> None:
        node = await execution(DOUBLER)

        results = await asyncio.gather(node(), node(), node(), return_exceptions=True)

        (child,) = await child_rows(node.parent_id)
        assert probe.count("double") == 1
        assert {"doubled": 10} in results
        for result in results:
            if isinstance(result, NodeError):
                assert result.message == (
                    f"child run {child.id} of workflow '{node.workflow_id}' is being executed "
                    "by another execution of this node"
                )
            else:
                assert result == {"doubled": 10}


class TestNesting:
    async def test_a_workflow_calling_itself_stops_at_the_depth_limit(
        self, admin: Principal, services: RuntimeServices, parent: Any
    ) -> None:
        workflow = await create_workflow(admin, name="recursive", spec={}, at=AT)
        await update_draft(admin, workflow.id, base_revision=1, spec=calling(workflow.id), at=AT)
        await create_version(admin, workflow.id, tools=services.tools, at=AT)
        await publish_version(admin, workflow.id, 1, at=AT)
        run = await parent(calling(workflow.id))

        outcome = await run.start()

        assert outcome.status == "failed"
        assert outcome.error is not None
        assert outcome.error.kind is ErrorKind.CHILD_RUN_FAILED
        runs = await WorkflowRun.filter(workflow_id=workflow.id).order_by("created_at", "id")
        assert len(runs) == MAX_CHILD_DEPTH
        deepest = [r for r in runs if not await WorkflowRun.exists(parent_run_id=r.id)]
        assert len(deepest) == 1
        assert (deepest[0].error_code, deepest[0].error_message) == (
            "limit_exceeded",
            f"workflow node 'call' would start a child run {MAX_CHILD_DEPTH + 1} levels deep; "
            f"workflow nodes nest at most {MAX_CHILD_DEPTH} levels (does a workflow call "
            "itself?)",
        )
        assert deepest[0].id in outcome.error.message


class TestHumanInTheChild:
    async def test_fails_the_node_until_the_child_was_answered(
        self,
        admin: Principal,
        services: RuntimeServices,
        parent: Any,
        sinks: defaultdict[str, CollectingSink],
        saver: TortoiseSaver,
        children: TenantChildRuns,
    ) -> None:
        workflow_id = await saved(admin, services, ASKING)
        run = await parent(calling(workflow_id))

        waiting = await run.start()

        (child,) = await child_rows(run.id)
        expected = (
            ErrorKind.CHILD_RUN_FAILED,
            f"child run {child.id} of workflow '{workflow_id}' waits for a person: answer "
            "its questions, then retry this run",
        )
        assert waiting.error is not None
        assert (waiting.error.kind, waiting.error.message) == expected
        assert not waiting.error.retryable
        assert child.status is RunStatus.WAITING_HUMAN

        still_waiting = await run.continue_run()
        assert still_waiting.error is not None
        assert (still_waiting.error.kind, still_waiting.error.message) == expected

        (question,) = next(e for e in sinks[child.id].events if e.kind == "interrupted").data[
            "interrupts"
        ]
        answered = await RecordedRun(
            record=child,
            compiled=compile_workflow(parse_spec(ASKING, tools=services.tools)),
            checkpointer=saver,
        ).resume({question["id"]: True}, dataclasses.replace(services, child_runs=children))
        assert answered.status == "completed"

        done = await run.continue_run()
        assert (done.status, done.output) == ("completed", True)
