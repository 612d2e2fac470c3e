"""Node executors: one module per node type, plus the attempt loop (``runner``).

``build_executor`` covers the leaf node types. Control nodes (``if``, ``switch``,
``parallel``, ``for_each``, ``loop``) are lowered to graph structure, with their own small
executors in ``workflow_compiler.lowering.control``.
"""

from __future__ import annotations

from workflow_compiler.executors.base import Executor
from workflow_compiler.executors.human import HumanExecutor
from workflow_compiler.executors.llm import LlmExecutor
from workflow_compiler.executors.set import SetExecutor
from workflow_compiler.executors.tool import ToolExecutor
from workflow_compiler.executors.workflow import WorkflowExecutor
from workflow_compiler.spec import HumanNode, LlmNode, Node, SetNode, ToolNode, WorkflowNode

__all__ = ["build_executor"]


def build_executor(node: Node) -> Executor:
    """The executor of a leaf node, built once per compiled spec.

    Raises:
        ValueError: ``node`` is a control node, which has no executor of its own here.
    """
    match node:
        case SetNode():
            return SetExecutor(node)
        case LlmNode():
            return LlmExecutor(node)
        case ToolNode():
            return ToolExecutor(node)
        case HumanNode():
            return HumanExecutor(node)
        case WorkflowNode():
            return WorkflowExecutor(node)
    raise ValueError(f"'{node.type}' node '{node.id}' is lowered to graph structure")
