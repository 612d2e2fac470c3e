"""The static checks of spec v1, in the order they run (DESIGN §3, "Static checks").

Structure comes first because every later check needs a parsed spec; when it fails, the
report holds only its issues. The other checks all run, so an author sees every error at once.
"""

from __future__ import annotations

from workflow_compiler.checks.nodes import check_child_inputs, check_tools, node_paths
from workflow_compiler.checks.references import check_references
from workflow_compiler.checks.report import CheckReport, IssueLog
from workflow_compiler.checks.schemas import check_embedded_schemas
from workflow_compiler.checks.structure import parse_structure
from workflow_compiler.errors import SpecInvalidError
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import WorkflowSpec


def check_spec(raw: object, *, tools: ToolRegistry) -> CheckReport:
    """Run every static check; never raises for a bad spec.

    Args:
        raw: The spec as decoded JSON (any JSON value is accepted and judged), or a
            ``WorkflowSpec`` already parsed.
        tools: The registry the spec's tool names must be found in.

    Returns:
        The parsed spec (None when it does not have the shape of a spec) and every error and
        warning, each at its JSON path.
    """
    log = IssueLog()
    spec = parse_structure(raw, log)
    if spec is None:
        return CheckReport(None, log.issues)
    log.extend(check_embedded_schemas(spec))
    paths = node_paths(spec, log)
    check_tools(spec, tools, log)
    check_child_inputs(spec, log)
    check_references(spec, tools=tools, node_paths=paths, log=log)
    return CheckReport(spec, log.issues)


def parse_spec(raw: object, *, tools: ToolRegistry) -> WorkflowSpec:
    """The checked spec, for callers that only go on when it is valid.

    Warnings do not stop it; use ``check_spec`` to show them.

    Raises:
        SpecInvalidError: the spec has errors; ``issues`` holds them all, warnings included.
    """
    report = check_spec(raw, tools=tools)
    if report.spec is None or report.errors:
        raise SpecInvalidError(report.issues)
    return report.spec
