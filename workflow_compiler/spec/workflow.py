"""The top-level spec model and its canonical hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_compiler.spec.nodes import (
    ForEachNode,
    IfNode,
    LoopNode,
    Node,
    ParallelNode,
    SwitchNode,
)


class WorkflowSpec(BaseModel):
    """A workflow: an input schema, a tree of nodes, and an output mapping."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)

    version: Literal["1"]
    """Spec language version."""
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    inputs: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    """JSON Schema of the run inputs; defaults declared in it are applied."""
    nodes: list[Node] = Field(min_length=1)
    output: Any = None
    """Templates rendered when the run ends; unset means the last top-level node's output."""

    def canonical_json(self) -> str:
        """The spec as sorted, compact JSON: equal specs give equal text whatever key order."""
        data = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def spec_hash(self) -> str:
        """sha256 of the canonical JSON; versions are deduplicated and graphs cached by it."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def child_lists(node: Node) -> Iterator[tuple[str, list[Node]]]:
    """The nested node lists of a control node, each with its JSON path suffix."""
    match node:
        case IfNode():
            yield "then", node.then
            yield "else", node.else_
        case SwitchNode():
            for i, case in enumerate(node.cases):
                yield f"cases[{i}].nodes", case.nodes
            yield "default", node.default
        case ParallelNode():
            for i, branch in enumerate(node.branches):
                yield f"branches[{i}]", branch
        case ForEachNode() | LoopNode():
            yield "body", node.body


def walk(nodes: list[Node], path: str = "nodes") -> Iterator[tuple[str, Node]]:
    """Every node of a tree, depth first in document order, with its JSON path."""
    for i, node in enumerate(nodes):
        node_path = f"{path}[{i}]"
        yield node_path, node
        for suffix, children in child_lists(node):
            yield from walk(children, f"{node_path}.{suffix}")
