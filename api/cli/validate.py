"""``plait validate FILE``: run the static checks and report every finding."""

from __future__ import annotations

import argparse

from api.cli.errors import EXIT_FAILURE, EXIT_OK, issue_line
from api.cli.specfile import check_file
from workflow_compiler.registries.builtin import default_tool_registry


def command(args: argparse.Namespace) -> int:
    """Print the issues in spec order, then ``ok`` when none of them is an error."""
    report = check_file(args.file, tools=default_tool_registry())
    for issue in report.issues:
        print(issue_line(issue))
    if not report.ok:
        return EXIT_FAILURE
    print("ok")
    return EXIT_OK
