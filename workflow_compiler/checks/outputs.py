"""The schema of each node's output, which ``nodes.<id>.output...`` is type-checked against.

Declared schemas are used as written (``llm.output_schema``, ``human.schema``, a tool's
``result_schema``); control nodes have fixed shapes (DESIGN §3); a ``set`` node's schema is
inferred from its literal value, where a part that is exactly one ``{{ expr }}`` takes the
schema of that expression and any other template is a string. A ``workflow`` node's output is
unknown: which version it runs, and so its output, is decided when it executes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from workflow_compiler.checks.types import SchemaAt
from workflow_compiler.expressions import is_template, single_expression
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import (
    ForEachNode,
    HumanNode,
    IfNode,
    LlmNode,
    LoopNode,
    Node,
    ParallelNode,
    SetNode,
    SwitchNode,
    ToolNode,
    WorkflowNode,
)

ExpressionTyper = Callable[[str], SchemaAt | None]
"""The schema of a bare expression's value in the scope at hand, None when unknown."""

ERROR_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"kind": {"type": "string"}, "message": {"type": "string"}},
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}
"""What a node with ``on_error: continue`` outputs when it fails."""

_FIXED: dict[type, dict[str, Any]] = {
    IfNode: {
        "type": "object",
        "properties": {"branch": {"type": "string", "enum": ["then", "else"]}},
        "additionalProperties": False,
    },
    SwitchNode: {
        "type": "object",
        "properties": {"case": {"type": ["integer", "string"]}},
        "additionalProperties": False,
    },
    ParallelNode: {"type": "object", "properties": {}, "additionalProperties": False},
    LoopNode: {
        "type": "object",
        "properties": {"iterations": {"type": "integer"}},
        "additionalProperties": False,
    },
}
"""Outputs of control nodes, whose shape the engine fixes."""


def output_schema(
    node: Node,
    *,
    tools: ToolRegistry,
    typer: ExpressionTyper,
    item: SchemaAt | None = None,
) -> SchemaAt | None:
    """The schema of ``node``'s output, None when nothing is known about it.

    Args:
        node: Any node.
        tools: Registry holding the tools' ``result_schema``.
        typer: Types single-expression templates of a ``set`` value.
        item: For a ``for_each``: the schema of one result.
    """
    own = _own_schema(node, tools, typer, item)
    if own is None or node.on_error != "continue":
        return own
    return SchemaAt({"anyOf": [own.schema, ERROR_OUTPUT]}, own.root)


def _own_schema(
    node: Node, tools: ToolRegistry, typer: ExpressionTyper, item: SchemaAt | None
) -> SchemaAt | None:
    match node:
        case SetNode():
            return literal_schema(node.value, typer)
        case LlmNode():
            return SchemaAt.own(node.output_schema or {"type": "string"})
        case ToolNode():
            tool = tools.get(node.tool)
            result = tool.result_schema if tool is not None else None
            return SchemaAt.own(result) if isinstance(result, Mapping) else None
        case HumanNode():
            return SchemaAt.own(node.schema_)
        case ForEachNode():
            if item is None:
                return SchemaAt.own({"type": "array"})
            return SchemaAt({"type": "array", "items": item.schema}, item.root)
        case WorkflowNode():
            return None
    return SchemaAt.own(_FIXED[type(node)])


def literal_schema(value: Any, typer: ExpressionTyper) -> SchemaAt | None:
    """The schema of a JSON value whose strings may be templates, as ``compile_value`` renders
    it."""
    if isinstance(value, str) and is_template(value):
        expression = single_expression(value)
        return typer(expression) if expression is not None else SchemaAt.own({"type": "string"})
    return SchemaAt.own(_literal(value, typer))


def _literal(value: Any, typer: ExpressionTyper) -> dict[str, Any]:
    if isinstance(value, str):
        return _embedded(literal_schema(value, typer)) if is_template(value) else {"type": "string"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if value is None:
        return {"type": "null"}
    if isinstance(value, Mapping):
        return {
            "type": "object",
            "properties": {str(k): _literal(v, typer) for k, v in value.items()},
            "additionalProperties": False,
        }
    if isinstance(value, list):
        return {"type": "array", "prefixItems": [_literal(v, typer) for v in value]}
    return {}


def _embedded(at: SchemaAt | None) -> dict[str, Any]:
    """A schema placed inside another; one with ``$ref``s would lose its document, so it
    becomes unknown (``{}``)."""
    if at is None or not isinstance(at.schema, Mapping) or _has_ref(at.schema):
        return {}
    return dict(at.schema)


def _has_ref(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "$ref" in value or any(_has_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False
