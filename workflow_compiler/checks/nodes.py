"""Checks of single nodes that need no scope: unique ids, known tools, no secrets passed to
child runs."""

from __future__ import annotations

from workflow_compiler.checks.report import IssueLog
from workflow_compiler.checks.syntax import parse_source
from workflow_compiler.expressions import ExpressionSyntaxError
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import LlmNode, ToolNode, WorkflowNode, WorkflowSpec, walk
from workflow_compiler.spec.fields import expression_fields


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


def check_child_inputs(spec: WorkflowSpec, log: IssueLog) -> None:
    """A ``workflow`` node's ``inputs`` may not read ``secrets``.

    Secret values are masked in what a node outputs, but a child run's inputs are stored with
    the child run (and shown in its events) as given; the child reads the secrets it needs
    itself. Fields that do not parse are left to the reference checks, which report them.
    """
    for path, node in walk(spec.nodes):
        if not isinstance(node, WorkflowNode):
            continue
        for field in expression_fields(node):
            try:
                parsed = parse_source(field.source, condition=field.condition)
            except ExpressionSyntaxError:
                continue
            if any(ref.root == "secrets" for ref in parsed.references):
                log.error(
                    path + field.path,
                    "a workflow node cannot pass secrets to its child run, whose inputs are "
                    "stored as given; let the child workflow read secrets.NAME itself",
                )


def _unknown(name: str, tools: ToolRegistry) -> str:
    known = ", ".join(tools.names()) or "none"
    return f"unknown tool '{name}' (known: {known})"
