"""Checks of single nodes that need no scope: unique ids and known tools."""

from __future__ import annotations

from workflow_compiler.checks.report import IssueLog
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import LlmNode, ToolNode, WorkflowSpec, walk


def node_paths(spec: WorkflowSpec, log: IssueLog) -> dict[str, str]:
    """The path of each node id's first occurrence; every later occurrence is an error.

    Ids name state channels and reference targets, so two nodes with one id would overwrite
    each other's output and make ``nodes.<id>`` ambiguous.
    """
    first: dict[str, str] = {}
    for path, node in walk(spec.nodes):
        if node.id in first:
            log.error(
                f"{path}.id", f"duplicate node id '{node.id}' (first used at {first[node.id]})"
            )
        else:
            first[node.id] = path
    return first


def check_tools(spec: WorkflowSpec, tools: ToolRegistry, log: IssueLog) -> None:
    """Every tool a ``tool`` node calls or an ``llm`` node offers must be registered."""
    for path, node in walk(spec.nodes):
        if isinstance(node, ToolNode) and node.tool not in tools:
            log.error(f"{path}.tool", _unknown(node.tool, tools))
        elif isinstance(node, LlmNode):
            for i, name in enumerate(node.tools):
                if name not in tools:
                    log.error(f"{path}.tools[{i}]", _unknown(name, tools))


def _unknown(name: str, tools: ToolRegistry) -> str:
    known = ", ".join(tools.names()) or "none"
    return f"unknown tool '{name}' (known: {known})"
