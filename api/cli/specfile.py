"""Loading a spec file and running the static checks on it, as every command does first."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from api.cli.errors import CliError, issue_line
from api.cli.files import json_type_name, read_json_file
from workflow_compiler.checks import CheckReport, check_spec
from workflow_compiler.errors import SpecInvalidError
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import WorkflowSpec


def read_spec(path: Path) -> dict[str, Any]:
    """The spec file's JSON object, unchecked.

    Raises:
        CliError: the file cannot be read, is not JSON, or is not a JSON object.
    """
    raw = read_json_file(path)
    if not isinstance(raw, dict):
        raise CliError(f"{path}: a spec must be a JSON object, got {json_type_name(raw)}")
    return raw


def check_file(path: Path, *, tools: ToolRegistry) -> CheckReport:
    """Every finding of the static checks on a spec file."""
    return check_spec(read_spec(path), tools=tools)


def load_valid_spec(path: Path, *, tools: ToolRegistry) -> WorkflowSpec:
    """The spec of a file that passes the checks; its warnings go to stderr.

    Raises:
        CliError: the file is unusable.
        SpecInvalidError: the checks found errors (warnings included in ``issues``).
    """
    report = check_file(path, tools=tools)
    if not report.ok or report.spec is None:
        raise SpecInvalidError(report.issues)
    for issue in report.warnings:
        print(issue_line(issue), file=sys.stderr)
    return report.spec
