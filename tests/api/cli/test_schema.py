"""``plait schema``: the spec JSON Schema, byte for byte what docs/spec.schema.json holds."""

from __future__ import annotations

from tests.api.cli.conftest import CliRunner
from workflow_compiler.schema import SCHEMA_ID, render_spec_json_schema


class TestSchema:
    def test_prints_the_generated_schema(self, cli: CliRunner) -> None:
        result = cli("schema")
        assert result.code == 0
        assert result.out == render_spec_json_schema()
        assert result.json()["$id"] == SCHEMA_ID
