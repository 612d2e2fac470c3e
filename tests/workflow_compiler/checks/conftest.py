"""Fixtures of the checks tests: a tool registry with known result schemas, spec builders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from workflow_compiler.checks import CheckReport, check_spec
from workflow_compiler.registries.tools import ToolContext, ToolRegistry

FETCH_RESULT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
        "count": {"type": "integer"},
    },
    "additionalProperties": False,
}


@dataclass
class SchemaTool:
    """A tool described only by its schemas: the checks never call tools."""

    name: str
    result_schema: Mapping[str, Any] | None
    description: str = "test tool"
    args_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    side_effecting: bool = False

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> Any:
        return {"items": [], "count": 0}


@pytest.fixture
def tools() -> ToolRegistry:
    return ToolRegistry([SchemaTool("fetch", FETCH_RESULT), SchemaTool("opaque", None)])


def spec_of(*nodes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A spec dict around ``nodes``; ``fields`` sets ``inputs``, ``output``, ..."""
    return {"version": "1", "nodes": list(nodes), **fields}


def set_node(node_id: str, value: Any = None, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "set", "value": value, **fields}


def found(report: CheckReport) -> list[tuple[str, str]]:
    """``(severity, path)`` of every issue, in report order."""
    return [(issue.severity, issue.path) for issue in report.issues]


@pytest.fixture
def check(tools: ToolRegistry) -> Callable[[object], CheckReport]:
    """``check_spec`` bound to the test registry."""

    def run(raw: object) -> CheckReport:
        return check_spec(raw, tools=tools)

    return run
