"""Executors of control nodes: they evaluate a condition or the items, nothing more.

Control nodes run through ``run_step`` like any other node, so they get events, retries,
timeouts and ``on_error``; their output (``{"branch": ...}``, ``{"case": ...}``,
``{"iterations": n}``, the items) then decides where the graph goes next. Under
``on_error: continue`` a failed control node's output is ``{"error": ...}`` and its block is
skipped.
"""

from __future__ import annotations

from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.expressions import compile_condition, compile_value
from workflow_compiler.spec import ForEachNode, IfNode, LoopNode, SwitchNode


class IfExecutor:
    """``{"branch": "then"}`` when the condition holds, else ``{"branch": "else"}``."""

    def __init__(self, node: IfNode) -> None:
        self._condition = compile_condition(node.condition)

    async def __call__(self, call: Invocation) -> NodeResult:
        return NodeResult(output={"branch": "then" if self._condition(call.scope) else "else"})


class SwitchExecutor:
    """``{"case": i}`` for the first case whose ``when`` holds, else ``{"case": "default"}``."""

    def __init__(self, node: SwitchNode) -> None:
        self._cases = [compile_condition(case.when) for case in node.cases]

    async def __call__(self, call: Invocation) -> NodeResult:
        for i, when in enumerate(self._cases):
            if when(call.scope):
                return NodeResult(output={"case": i})
        return NodeResult(output={"case": "default"})


class ParallelExecutor:
    """``{}``: a parallel node only fans out."""

    async def __call__(self, call: Invocation) -> NodeResult:
        return NodeResult(output={})


class LoopExecutor:
    """Decides whether a loop runs another pass.

    The passes run so far are the loop's own output in the scope (set by the node function).
    The output counts passes: ``{"iterations": passes + 1}`` when a pass starts (so the body
    sees its own 1-based pass number), ``{"iterations": passes}`` when the loop ends. The
    condition is not evaluated once ``max_iterations`` passes have run: the loop ends there
    even if it still holds.
    """

    def __init__(self, node: LoopNode) -> None:
        self._id = node.id
        self._condition = compile_condition(node.condition)
        self._max = node.max_iterations

    async def __call__(self, call: Invocation) -> NodeResult:
        passes: int = call.scope["nodes"][self._id]["output"]["iterations"]
        if passes < self._max and self._condition(call.scope):
            return NodeResult(output={"iterations": passes + 1})
        return NodeResult(output={"iterations": passes})


class ItemsExecutor:
    """Evaluates a for_each's ``items``; the output is the list itself."""

    def __init__(self, node: ForEachNode) -> None:
        self._id = node.id
        self._items = compile_value(node.items)

    async def __call__(self, call: Invocation) -> NodeResult:
        items = self._items(call.scope)
        if not isinstance(items, list):
            raise NodeError(
                ErrorKind.VALIDATION_ERROR,
                f"for_each '{self._id}': items must be a list, got {type(items).__name__}",
            )
        return NodeResult(output=items)
