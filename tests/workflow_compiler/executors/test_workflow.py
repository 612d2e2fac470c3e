"""The ``workflow`` executor: rendered inputs to ``ChildRuns``, its errors, its isolation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.checkpoint.memory import InMemorySaver

from workflow_compiler.checks import parse_spec
from workflow_compiler.context import ChildRunRequest, RunContext, RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.executors import build_executor
from workflow_compiler.executors.base import Invocation
from workflow_compiler.executors.runner import CompiledStep, run_step
from workflow_compiler.executors.workflow import WorkflowExecutor
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.spec import WorkflowNode

CHILD = "wf_01JH4X9Q2ZKV8S7E5M3T6YB0CD"
SCOPE = {"inputs": {"text": "hello"}, "nodes": {"count": {"output": 3}}}


def workflow_node(**fields: Any) -> WorkflowNode:
    return WorkflowNode.model_validate(
        {"id": "child", "type": "workflow", "workflow_id": CHILD, **fields}
    )


class RecordingChildRuns:
    """A ``ChildRuns`` that records each call and plays one outcome per call: an exception is
    raised, anything else is the child's outputs."""

    def __init__(self, *outcomes: Any) -> None:
        self._outcomes = list(outcomes)
        self.calls: list[ChildRunRequest] = []
        self.configs: list[Any] = []

    async def run_child(self, request: ChildRunRequest) -> Any:
        self.calls.append(request)
        self.configs.append(var_child_runnable_config.get())
        outcome = self._outcomes[len(self.calls) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def with_children(run: RunContext, child_runs: RecordingChildRuns) -> RunContext:
    return RunContext(
        run_id=run.run_id, services=dataclasses.replace(run.services, child_runs=child_runs)
    )


class TestCall:
    async def test_rendered_inputs_go_to_the_child_and_its_outputs_are_the_output(
        self, run: RunContext
    ) -> None:
        children = RecordingChildRuns({"total": 6})
        node = workflow_node(
            version=2, inputs={"n": "{{ nodes.count.output * 2 }}", "t": "{{ inputs.text }}!"}
        )
        call = Invocation(
            run=with_children(run, children),
            node_id="child",
            attempt=1,
            scope=SCOPE,
            timeout_s=None,
            execution_id="task-1",
        )

        result = await WorkflowExecutor(node)(call)

        assert result.output == {"total": 6}
        assert call.trace.input == {
            "workflow_id": CHILD,
            "version": 2,
            "inputs": {"n": 6, "t": "hello!"},
        }
        assert children.calls == [
            ChildRunRequest(
                parent_run_id="run_test",
                node_id="child",
                idempotency_key="run_test:child:task-1:1",
                workflow_id=CHILD,
                version=2,
                inputs={"n": 6, "t": "hello!"},
            )
        ]

    async def test_is_the_executor_of_workflow_nodes(self) -> None:
        assert isinstance(build_executor(workflow_node()), WorkflowExecutor)


class TestFailures:
    async def test_without_child_runs_is_a_config_error_naming_the_server(
        self, run: RunContext
    ) -> None:
        node = workflow_node(retry={"max_attempts": 3})

        with pytest.raises(NodeError) as info:
            await run_step(CompiledStep.build(node, WorkflowExecutor(node)), run, SCOPE)

        assert info.value.kind is ErrorKind.CONFIG_ERROR
        assert info.value.message == (
            f"workflow node 'child' runs workflow '{CHILD}' as a child run, which needs the "
            "Plait server (plait serve); a spec executed without it cannot call saved workflows"
        )

    async def test_a_failed_child_fails_the_node_without_a_retry(self, run: RunContext) -> None:
        children = RecordingChildRuns(NodeError(ErrorKind.CHILD_RUN_FAILED, "child run r failed"))
        node = workflow_node(retry={"max_attempts": 3})

        with pytest.raises(NodeError) as info:
            await run_step(
                CompiledStep.build(node, WorkflowExecutor(node)),
                with_children(run, children),
                SCOPE,
            )

        assert (info.value.kind, info.value.message) == (
            ErrorKind.CHILD_RUN_FAILED,
            "child run r failed",
        )
        assert len(children.calls) == 1

    async def test_a_retried_attempt_is_another_child(self, run: RunContext) -> None:
        children = RecordingChildRuns(NodeError(ErrorKind.CHILD_RUN_FAILED, "failed"), "ok")
        node = workflow_node(
            retry={"max_attempts": 2, "retry_on": ["child_run_failed"], "jitter": False}
        )

        output = await run_step(
            CompiledStep.build(node, WorkflowExecutor(node)),
            with_children(run, children),
            SCOPE,
            execution_id="task-1",
        )

        assert output == "ok"
        assert [c.idempotency_key for c in children.calls] == [
            "run_test:child:task-1:1",
            "run_test:child:task-1:2",
        ]


class TestInAGraph:
    async def test_the_child_does_not_see_the_parent_nodes_langgraph_config(
        self, services: RuntimeServices
    ) -> None:
        children = RecordingChildRuns({"ok": True})
        compiled = compile_workflow(
            parse_spec(
                {
                    "version": "1",
                    "nodes": [{"id": "child", "type": "workflow", "workflow_id": CHILD}],
                },
                tools=services.tools,
            )
        )

        outcome = await compiled.start(
            {},
            run_id="run_parent",
            services=dataclasses.replace(services, child_runs=children),
            checkpointer=InMemorySaver(),
        )

        assert (outcome.status, outcome.output) == ("completed", {"ok": True})
        assert children.configs == [None]
        (call,) = children.calls
        assert call.parent_run_id == "run_parent"
        assert call.idempotency_key.startswith("run_parent:child:")
        assert call.idempotency_key.endswith(":1")
