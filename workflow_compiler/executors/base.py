"""The executor contract: what one attempt of one node gets, and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from workflow_compiler.context import RunContext
from workflow_compiler.expressions import Scope
from workflow_compiler.spec import Node


@dataclass(slots=True)
class AttemptTrace:
    """What an attempt reports besides its result, filled in while it runs, so that it is
    known even when the attempt fails or waits for a person."""

    input: Any = None
    """What the node sent on: rendered tool args, the model request, the prompt shown. The
    runner masks the secret values in it before it goes into events (and the step record)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One attempt of one node."""

    run: RunContext
    node_id: str
    attempt: int
    """1-based."""
    scope: Scope
    """Expression names, secrets included when the node references any."""
    timeout_s: float | None
    """The node's per-attempt bound, for executors that pass it to a client."""
    execution_id: str | None = None
    """LangGraph's task id of this execution of the node: it tells apart the executions of a
    node inside a for_each body (one per item) or a loop body (one per pass), and is the same
    when a pending task is resumed. None outside a graph."""
    trace: AttemptTrace = field(default_factory=AttemptTrace)
    """Where the executor reports its input, as soon as it has rendered it."""

    @property
    def idempotency_key(self) -> str:
        """Stable per attempt of one execution of a node, so a side effect retried by the
        transport is not repeated, while every for_each item and loop pass gets its own."""
        if self.execution_id is None:
            return f"{self.run.run_id}:{self.node_id}:{self.attempt}"
        return f"{self.run.run_id}:{self.node_id}:{self.execution_id}:{self.attempt}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeResult:
    """What a successful attempt produced."""

    output: Any
    usage: Mapping[str, int] = field(default_factory=dict)
    """Token usage of model calls (``prompt_tokens``, ``completion_tokens``, ``total_tokens``)."""


class Executor(Protocol):
    """A node compiled for execution; templates are compiled once, when it is built."""

    async def __call__(self, call: Invocation) -> NodeResult:
        """Run one attempt.

        Raises:
            NodeError: the attempt failed; its kind and ``retryable`` drive the retry policy.
        """
        ...


ExecutorFactory = Callable[[Node], Executor]
"""Builds the executor of one spec node."""
