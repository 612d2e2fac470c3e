"""Where expressions live in a node: one place that the checks and the runtime both read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from workflow_compiler.expressions import references, template_sources
from workflow_compiler.spec.nodes import (
    ForEachNode,
    HumanNode,
    IfNode,
    LlmNode,
    LoopNode,
    Node,
    SetNode,
    SwitchNode,
    ToolNode,
    WorkflowNode,
)
from workflow_compiler.spec.workflow import walk


@dataclass(frozen=True, slots=True)
class ExpressionField:
    """One template or condition inside a node."""

    path: str
    """Suffix of the node's JSON path, e.g. ``.args.headers.Authorization``."""
    source: str
    condition: bool
    """A bare expression rather than a template."""


def expression_fields(node: Node) -> Iterator[ExpressionField]:
    """The node's own templates and conditions, evaluated in the scope around the node.

    Nested node lists are not included, nor ``for_each.result``, which is evaluated in the
    body's scope.
    """
    match node:
        case SetNode():
            yield from _templates(".value", node.value)
        case LlmNode():
            yield from _templates(".system", node.system)
            yield from _templates(".prompt", node.prompt)
            for i, message in enumerate(node.messages or []):
                yield from _templates(f".messages[{i}].content", message.content)
        case ToolNode():
            yield from _templates(".args", node.args)
        case IfNode() | LoopNode():
            yield ExpressionField(".condition", node.condition, True)
        case SwitchNode():
            for i, case in enumerate(node.cases):
                yield ExpressionField(f".cases[{i}].when", case.when, True)
        case ForEachNode():
            yield from _templates(".items", node.items)
        case HumanNode():
            yield from _templates(".prompt", node.prompt)
        case WorkflowNode():
            yield from _templates(".inputs", node.inputs)


def _templates(path: str, value: object) -> Iterator[ExpressionField]:
    for suffix, source in template_sources(value):
        yield ExpressionField(path + suffix, source, False)


def secret_names(node: Node) -> frozenset[str]:
    """Secrets a node reads; resolved just before it executes and never stored.

    Fields that do not parse are skipped: the checks report them, and a node with one never
    reaches execution.
    """
    names: set[str] = set()
    fields = list(expression_fields(node))
    if isinstance(node, ForEachNode) and node.result is not None:
        fields.append(ExpressionField(".result", node.result, False))
    for field in fields:
        try:
            refs = references(field.source, condition=field.condition)
        except ValueError:
            continue
        names.update(str(ref.path[0]) for ref in refs if ref.root == "secrets" and ref.path)
    return frozenset(names)


def tree_secret_names(nodes: list[Node]) -> frozenset[str]:
    """Secrets any node of a tree reads (``secret_names`` of every node, nested ones too)."""
    return frozenset().union(*(secret_names(node) for _, node in walk(nodes)))
