"""The JSON Schema of spec v1, generated from the pydantic models.

The models are the single source of truth; ``docs/spec.schema.json`` is this module's output,
checked in so editors and the chat agent can validate specs without running Python. A test
fails when the checked-in file and the models drift apart; regenerate it with
``uv run plait schema > docs/spec.schema.json``.

The schema covers the shape of a spec only. What it cannot express (unique ids, references
between nodes, expression syntax, known tools) is left to the static checks.
"""

from __future__ import annotations

import json
from typing import Any

from workflow_compiler.spec import WorkflowSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""pydantic emits JSON Schema 2020-12."""
SCHEMA_ID = "urn:plait:spec:v1"
"""Stable identifier of the spec v1 schema; a URN because the schema is not served anywhere."""
SCHEMA_TITLE = "Plait workflow spec v1"


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec, with the names specs use (``else``, ``as``, ``schema``)."""
    schema = WorkflowSpec.model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema, "title": SCHEMA_TITLE}


def render_spec_json_schema() -> str:
    """The schema as the text of ``docs/spec.schema.json``: indented, ending with a newline."""
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"
