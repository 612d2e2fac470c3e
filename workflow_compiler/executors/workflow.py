"""The ``workflow`` node: a saved workflow executed as a child run, its outputs the output.

Starting, finding and recording child runs needs the database, so the executor only renders
the inputs and hands them to ``RuntimeServices.child_runs`` (the server's ``ChildRuns``).

The child executes inside this node, but as a run of its own, not as a LangGraph subgraph:
LangGraph hands the config of the node being executed (its checkpoint namespace, tags,
metadata, callbacks) down to any graph invoked inside it, through a context variable. The
child is therefore awaited in a task whose context has that variable cleared, so its
checkpoints, interrupts and events belong to its own thread alone.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config

from workflow_compiler.context import ChildRunRequest
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.expressions import compile_value
from workflow_compiler.spec import WorkflowNode


class WorkflowExecutor:
    """Renders ``inputs`` and runs the child through the run's ``ChildRuns``."""

    def __init__(self, node: WorkflowNode) -> None:
        self._node_id = node.id
        self._workflow_id = node.workflow_id
        self._version = node.version
        self._inputs = compile_value(node.inputs)

    async def __call__(self, call: Invocation) -> NodeResult:
        """Run the child until it stops.

        Raises:
            NodeError: ``config_error`` where child runs cannot be started (no server), or
                whatever ``ChildRuns.run_child`` raised.
        """
        child_runs = call.run.services.child_runs
        if child_runs is None:
            raise NodeError(
                ErrorKind.CONFIG_ERROR,
                f"workflow node '{self._node_id}' runs workflow '{self._workflow_id}' as a "
                "child run, which needs the Plait server (plait serve); a spec executed "
                "without it cannot call saved workflows",
            )
        inputs = self._inputs(call.scope)
        call.trace.input = {
            "workflow_id": self._workflow_id,
            "version": self._version,
            "inputs": inputs,
        }
        request = ChildRunRequest(
            parent_run_id=call.run.run_id,
            node_id=self._node_id,
            idempotency_key=call.idempotency_key,
            workflow_id=self._workflow_id,
            version=self._version,
            inputs=inputs,
        )
        output = await _isolated(child_runs.run_child(request))
        return NodeResult(output=output)


def _isolated(child: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """``child`` as a task that does not see the LangGraph config of the node running it.

    Awaiting the task still ties it to this node: cancelling the node (a timeout, the run
    canceled) cancels the task, and its exceptions reach the node.
    """
    context = contextvars.copy_context()
    context.run(var_child_runnable_config.set, None)
    return asyncio.create_task(child, context=context)
