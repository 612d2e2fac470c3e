"""Spec v1: the JSON language of Plait workflows, as pydantic models."""

from workflow_compiler.spec.nodes import (
    CONTROL_TYPES,
    NODE_ID_PATTERN,
    RESERVED_NAMES,
    ChatMessage,
    ForEachNode,
    HumanNode,
    IfNode,
    LlmNode,
    LoopNode,
    Node,
    NodeBase,
    ParallelNode,
    SetNode,
    SwitchCase,
    SwitchNode,
    ToolNode,
)
from workflow_compiler.spec.policies import OnError, RetryPolicy
from workflow_compiler.spec.workflow import WorkflowSpec, child_lists, walk

__all__ = [
    "CONTROL_TYPES",
    "NODE_ID_PATTERN",
    "RESERVED_NAMES",
    "ChatMessage",
    "ForEachNode",
    "HumanNode",
    "IfNode",
    "LlmNode",
    "LoopNode",
    "Node",
    "NodeBase",
    "OnError",
    "ParallelNode",
    "RetryPolicy",
    "SetNode",
    "SwitchCase",
    "SwitchNode",
    "ToolNode",
    "WorkflowSpec",
    "child_lists",
    "walk",
]
