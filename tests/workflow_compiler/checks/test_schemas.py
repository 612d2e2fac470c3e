"""The JSON Schemas a spec embeds must be valid and self-contained."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow_compiler.checks.conftest import found, set_node, spec_of
from workflow_compiler.checks.schemas import schema_issues


def _llm(schema: dict[str, Any]) -> dict[str, Any]:
    return {"id": "a", "type": "llm", "prompt": "p", "output_schema": schema}


class TestEmbeddedSchemas:
    @pytest.mark.parametrize(
        ("spec", "path"),
        [
            (
                spec_of(set_node("a"), inputs={"type": "object", "properties": {"x": {"type": 5}}}),
                "inputs.properties.x.type",
            ),
            (spec_of(set_node("a"), inputs={"required": "x"}), "inputs.required"),
            (spec_of(_llm({"type": "strin"})), "nodes[0].output_schema.type"),
            (
                spec_of(_llm({"properties": {"a": {"pattern": "("}}})),
                "nodes[0].output_schema.properties.a.pattern",
            ),
            (
                spec_of({"id": "h", "type": "human", "prompt": "?", "schema": {"minLength": -1}}),
                "nodes[0].schema.minLength",
            ),
            (
                spec_of(
                    {
                        "id": "i",
                        "type": "if",
                        "condition": "true",
                        "then": [
                            {"id": "h", "type": "human", "prompt": "?", "schema": {"enum": 1}}
                        ],
                    }
                ),
                "nodes[0].then[0].schema.enum",
            ),
        ],
    )
    def test_invalid_schema_is_an_error_at_its_keyword(self, check, spec: dict, path: str) -> None:
        report = check(spec)

        assert found(report) == [("error", path)]
        assert report.issues[0].message.startswith("invalid JSON Schema: ")
        assert report.spec is not None

    def test_valid_schemas_pass(self, check) -> None:
        schema = {
            "type": "object",
            "$defs": {"n": {"type": "number"}},
            "properties": {"total": {"$ref": "#/$defs/n"}},
        }

        assert check(spec_of(_llm(schema), inputs=schema)).issues == []

    def test_inputs_that_are_not_an_object_warn(self, check) -> None:
        report = check(spec_of(set_node("a"), inputs={"type": "string"}))

        assert found(report) == [("warning", "inputs.type")]
        assert report.ok


class TestSchemaIssues:
    @pytest.mark.parametrize(
        ("schema", "paths"),
        [
            ({"$ref": "#/$defs/missing"}, ["s.$ref"]),
            (
                {"properties": {"a": {"$ref": "https://example.com/s.json"}}},
                ["s.properties.a.$ref"],
            ),
            ({"items": {"$ref": "other.json"}}, ["s.items.$ref"]),
            ({"$defs": {"a": {"type": "string"}}, "items": {"$ref": "#/$defs/a"}}, []),
            (
                {"$id": "https://example.com/root", "items": {"$ref": "https://example.com/root#"}},
                [],
            ),
            ({"$defs": {"a": {"$anchor": "here"}}, "items": {"$ref": "#here"}}, []),
            ({"default": {"$ref": "#/nowhere"}}, []),
        ],
    )
    def test_refs_must_resolve_locally(self, schema: dict, paths: list[str]) -> None:
        assert [issue.path for issue in schema_issues(schema, "s")] == paths

    @pytest.mark.parametrize("schema", [3, [], "string", None])
    def test_a_non_schema_is_reported_once(self, schema: object) -> None:
        issues = schema_issues(schema, "s")

        assert [issue.path for issue in issues] == ["s"]
