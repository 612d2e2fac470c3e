"""LangGraph node functions: each builds its node's scope, runs it and writes its channel.

The per-node path is kept lean on purpose (it is what the compiler adds to LangGraph's own
cost): no copies of the state, a scope whose ``nodes`` view reads lazily, and one
``run_step`` call that owns retries, timeouts, events and ``on_error``.

Routing nodes (``if``, ``switch``, ``loop``) return a ``Command`` whose ``goto`` comes from a
``targets`` table (route name → LangGraph node). The builder fills the table once the node's
successors are known, before the graph is compiled; it is read-only afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from langgraph.runtime import Runtime
from langgraph.types import Command

from workflow_compiler.context import RunContext
from workflow_compiler.executors.runner import CompiledStep, run_step
from workflow_compiler.expressions import Scope
from workflow_compiler.lowering.state import ScopeBuilder, output_key

SKIP: Final = "skip"
"""Route past a control node's block, taken when the node failed under ``on_error:
continue``."""
BODY: Final = "body"
"""Route of a loop into its body."""
DONE: Final = "done"
"""Route of a loop past its body."""

State = Mapping[str, Any]
Targets = dict[str, str]
"""Route name → LangGraph node (or ``END``)."""


class StepNode:
    """A node that only writes its output: leaf nodes and ``parallel`` (which fans out through
    plain edges)."""

    __slots__ = ("_key", "_scope", "_step")

    def __init__(self, step: CompiledStep, scope: ScopeBuilder) -> None:
        self._step = step
        self._scope = scope
        self._key = output_key(step.node.id)

    async def __call__(self, state: State, runtime: Runtime[RunContext]) -> dict[str, Any]:
        return {self._key: await execute(self._step, self._scope, state, runtime)}


class RouteNode:
    """``if``/``switch``: writes the output and goes to the branch it names."""

    __slots__ = ("_key", "_route", "_scope", "_step", "targets")

    def __init__(
        self, step: CompiledStep, scope: ScopeBuilder, route: Callable[[Any], str]
    ) -> None:
        """``route`` maps the node's output to a route name (``SKIP`` for an error)."""
        self._step = step
        self._scope = scope
        self._route = route
        self._key = output_key(step.node.id)
        self.targets: Targets = {}

    async def __call__(self, state: State, runtime: Runtime[RunContext]) -> Command[str]:
        output = await execute(self._step, self._scope, state, runtime)
        return Command(update={self._key: output}, goto=self.targets[self._route(output)])


async def execute(
    step: CompiledStep,
    builder: ScopeBuilder,
    state: State,
    runtime: Runtime[RunContext],
    scope: Scope | None = None,
) -> Any:
    """Run ``step`` as this LangGraph task: in the scope ``builder`` makes of ``state`` (or
    ``scope``, one the caller adjusted), with the task's id and the body pass it runs in."""
    run = runtime.context
    return await run_step(
        step,
        run,
        builder(state, run) if scope is None else scope,
        execution_id=task_id(runtime),
        within=builder.where(state),
    )


def task_id(runtime: Runtime[RunContext]) -> str | None:
    """LangGraph's id of the task running this node: one per execution of a spec node."""
    info = runtime.execution_info
    return info.task_id if info is not None else None


def branch_route(output: Mapping[str, Any]) -> str:
    """Route of an ``if``: ``then``, ``else`` or ``SKIP``."""
    return str(output.get("branch", SKIP))


def case_route(output: Mapping[str, Any]) -> str:
    """Route of a ``switch``: the case index as text, ``default`` or ``SKIP``."""
    return str(output.get("case", SKIP))


class LoopCheckNode:
    """One check of a loop's condition, before a pass.

    A loop is two LangGraph nodes sharing one ``targets`` table: the entry check (named after
    the spec id, reached from before the loop; counts from zero) and the repeat check
    (``<id>.repeat``, reached from the end of the body; counts on from the loop's output).
    Two nodes because a node cannot tell which edge triggered it, and the count must restart
    when a loop is entered again (inside an outer loop). The repeat check runs after pass n,
    in that pass (its events' scope is ``<id>#n``); the entry check runs outside the loop.

    While the condition is evaluated, ``nodes.<loop>.output`` is ``{"iterations": passes}``,
    the passes run so far (0 before the first).
    """

    __slots__ = ("_entry", "_id", "_key", "_scope", "_step", "targets")

    def __init__(
        self, step: CompiledStep, scope: ScopeBuilder, targets: Targets, *, entry: bool
    ) -> None:
        self._step = step
        self._scope = scope
        self._id = step.node.id
        self._key = output_key(self._id)
        self._entry = entry
        self.targets = targets

    async def __call__(self, state: State, runtime: Runtime[RunContext]) -> Command[str]:
        run = runtime.context
        passes: int = 0 if self._entry else state[self._key]["iterations"]
        scope = self._scope(state, run)
        scope["nodes"][self._id] = {"output": {"iterations": passes}}
        output = await execute(self._step, self._scope, state, runtime, scope)
        route = BODY if output.get("iterations", passes) > passes else DONE
        return Command(update={self._key: output}, goto=self.targets[route])


async def merge(state: State) -> None:
    """A no-op join giving a block with several exits (an ``if`` ending a parallel branch)
    the single exit node that a waiting edge needs."""
