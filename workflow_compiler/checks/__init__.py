"""Static checks of spec v1: every error at once, each at the JSON path of its cause.

Key contracts:

- ``check_spec`` accepts any JSON value and never raises for a bad spec; ``parse_spec`` raises
  ``SpecInvalidError`` when the report has errors. Warnings never block.
- Paths are written as the document is (``nodes[1].then[0].prompt``, aliases ``else``, ``as``,
  ``schema``), never as pydantic locations.
- A reference is an error only when it can never be read; "maybe run" is a warning unless
  guarded; type checks report only what is certainly wrong, unknown is permissive.
"""

from workflow_compiler.checks.pipeline import check_spec, parse_spec
from workflow_compiler.checks.report import CheckReport

__all__ = ["CheckReport", "check_spec", "parse_spec"]
