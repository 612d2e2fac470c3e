"""The ``set`` node: a value, with templates rendered."""

from __future__ import annotations

from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.expressions import compile_value
from workflow_compiler.spec import SetNode


class SetExecutor:
    """Renders ``value`` in the node's scope."""

    def __init__(self, node: SetNode) -> None:
        self._value = compile_value(node.value)

    async def __call__(self, call: Invocation) -> NodeResult:
        return NodeResult(output=self._value(call.scope))
