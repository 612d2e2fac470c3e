"""The spec JSON Schema: generated from the models, checked in, and true to the language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from workflow_compiler.schema import SCHEMA_ID, render_spec_json_schema, spec_json_schema
from workflow_compiler.spec import WorkflowSpec

ROOT = Path(__file__).parents[2]
CHECKED_IN = ROOT / "docs" / "spec.schema.json"
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(spec_json_schema())


class TestSpecJsonSchema:
    def test_the_checked_in_file_is_the_generated_schema(self) -> None:
        assert CHECKED_IN.read_text(encoding="utf-8") == render_spec_json_schema(), (
            "docs/spec.schema.json is stale: run `uv run plait schema > docs/spec.schema.json`"
        )

    def test_is_a_valid_2020_12_schema_with_an_identity(self) -> None:
        schema = spec_json_schema()
        Draft202012Validator.check_schema(schema)
        assert schema["$id"] == SCHEMA_ID
        assert schema["title"] == "Plait workflow spec v1"

    def test_uses_the_names_specs_are_written_with(self) -> None:
        defs = spec_json_schema()["$defs"]
        assert "else" in defs["IfNode"]["properties"]
        assert "as" in defs["ForEachNode"]["properties"]
        assert "schema" in defs["HumanNode"]["properties"]

    @pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
    def test_accepts_every_example(self, path: Path, validator: Draft202012Validator) -> None:
        errors = [e.message for e in validator.iter_errors(json.loads(path.read_text()))]
        assert errors == []

    @pytest.mark.parametrize(
        "spec",
        [
            {"version": "2", "nodes": [{"id": "a", "type": "set"}]},
            {"version": "1", "nodes": []},
            {"version": "1", "nodes": [{"id": "A", "type": "set"}]},
            {"version": "1", "nodes": [{"id": "a", "type": "wait"}]},
            {"version": "1", "nodes": [{"id": "a", "type": "set", "x": 1}]},
            {"version": "1", "nodes": [{"id": "a", "type": "loop", "condition": "true"}]},
        ],
    )
    def test_rejects_what_the_models_reject(
        self, spec: dict[str, Any], validator: Draft202012Validator
    ) -> None:
        with pytest.raises(ValidationError):
            WorkflowSpec.model_validate(spec)
        assert not validator.is_valid(spec)
