"""Fixtures for lowering tests: a checkpointer, a scriptable test tool, and a spec runner."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.lowering import CompiledWorkflow, RunOutcome, compile_workflow
from workflow_compiler.registries.tools import ToolContext


class ProbeTool:
    """A tool that records its calls and does what the test scripts.

    Args ``{"key": k, "value": v}`` return ``v``. A key in ``broken`` fails with a
    non-retryable ``tool_error``; a key in ``gates`` waits for that event first. ``active``
    and ``max_active`` count calls in flight; ``started`` receives each key as its call
    begins and ``finished`` lists the keys of calls that succeeded, in order.
    """

    name = "probe"
    description = "Test tool: echoes its value."
    args_schema: Mapping[str, Any] = {"type": "object", "required": ["key"]}
    result_schema: Mapping[str, Any] | None = None
    side_effecting = False

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.keys: list[str] = []
        self.finished: list[str] = []
        self.broken: set[str] = set()
        self.gates: dict[str, asyncio.Event] = {}
        self.started: asyncio.Queue[str] = asyncio.Queue()
        self.active = 0
        self.max_active = 0

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> Any:
        key = str(args["key"])
        self.calls.append(key)
        self.keys.append(ctx.idempotency_key)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            self.started.put_nowait(key)
            if key in self.gates:
                await self.gates[key].wait()
            if key in self.broken:
                raise NodeError(ErrorKind.TOOL_ERROR, f"probe '{key}' is broken")
            self.finished.append(key)
            return args.get("value")
        finally:
            self.active -= 1

    def count(self, key: str) -> int:
        return self.calls.count(key)


@pytest.fixture
def saver() -> InMemorySaver:
    return InMemorySaver()


Compile = Callable[[dict[str, Any]], CompiledWorkflow]
Run = Callable[..., Awaitable[RunOutcome]]


@pytest.fixture
def compile_spec(services: RuntimeServices) -> Compile:
    """Check a spec (against the test's tool registry) and compile it."""

    def compile_(raw: dict[str, Any]) -> CompiledWorkflow:
        return compile_workflow(parse_spec(raw, tools=services.tools))

    return compile_


@pytest.fixture
def run_spec(compile_spec: Compile, services: RuntimeServices, saver: InMemorySaver) -> Run:
    """Compile a spec and start a run of it (run id ``run-1``) with the checkpointer."""

    async def run(raw: dict[str, Any], inputs: Mapping[str, Any] | None = None) -> RunOutcome:
        return await compile_spec(raw).start(
            inputs or {}, run_id="run-1", services=services, checkpointer=saver
        )

    return run


def spec(*nodes: dict[str, Any], output: Any = None, inputs: Any = None) -> dict[str, Any]:
    """A v1 spec of ``nodes``."""
    raw: dict[str, Any] = {"version": "1", "nodes": list(nodes)}
    if output is not None:
        raw["output"] = output
    if inputs is not None:
        raw["inputs"] = inputs
    return raw


def set_node(node_id: str, value: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "set", "value": value}


def probe_node(node_id: str, value: Any = None, **fields: Any) -> dict[str, Any]:
    """A tool node calling the probe with its own id as key."""
    return {
        "id": node_id,
        "type": "tool",
        "tool": "probe",
        "args": {"key": node_id, "value": value},
        **fields,
    }
