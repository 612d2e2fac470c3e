"""``plait schema``: the JSON Schema of spec v1, for editors and ``docs/spec.schema.json``."""

from __future__ import annotations

import argparse
import sys

from api.cli.errors import EXIT_OK
from workflow_compiler.schema import render_spec_json_schema


def command(_args: argparse.Namespace) -> int:
    """Print the schema exactly as ``docs/spec.schema.json`` holds it."""
    sys.stdout.write(render_spec_json_schema())
    return EXIT_OK
