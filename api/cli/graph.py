"""``plait graph FILE``: the compiled LangGraph graph as a Mermaid diagram."""

from __future__ import annotations

import argparse

from api.cli.errors import EXIT_OK
from api.cli.specfile import load_valid_spec
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.registries.builtin import default_tool_registry


def command(args: argparse.Namespace) -> int:
    """Print the Mermaid text of a spec that passes the checks."""
    spec = load_valid_spec(args.file, tools=default_tool_registry())
    print(compile_workflow(spec).mermaid().rstrip("\n"))
    return EXIT_OK
