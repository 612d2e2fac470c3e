"""Output schemas per node type."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow_compiler.checks.conftest import FETCH_RESULT
from workflow_compiler.checks.outputs import ERROR_OUTPUT, literal_schema, output_schema
from workflow_compiler.checks.types import SchemaAt
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import WorkflowSpec

_NUMBER = SchemaAt.own({"type": "number"})


def _node(raw: dict[str, Any]) -> Any:
    return WorkflowSpec.model_validate({"version": "1", "nodes": [raw]}).nodes[0]


def _schema(raw: dict[str, Any], tools: ToolRegistry, item: SchemaAt | None = None) -> Any:
    at = output_schema(_node(raw), tools=tools, typer=lambda _: _NUMBER, item=item)
    return at.schema if at is not None else None


class TestOutputSchema:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ({"id": "a", "type": "llm", "prompt": "p"}, {"type": "string"}),
            (
                {"id": "a", "type": "llm", "prompt": "p", "output_schema": {"type": "object"}},
                {"type": "object"},
            ),
            ({"id": "a", "type": "tool", "tool": "fetch"}, FETCH_RESULT),
            ({"id": "a", "type": "tool", "tool": "opaque"}, None),
            ({"id": "a", "type": "tool", "tool": "unregistered"}, None),
            ({"id": "a", "type": "human", "prompt": "?"}, {"type": "string"}),
            ({"id": "a", "type": "set", "value": "{{ x }}"}, {"type": "number"}),
            (
                {"id": "a", "type": "for_each", "items": [], "body": [{"id": "b", "type": "set"}]},
                {"type": "array"},
            ),
        ],
    )
    def test_per_type(self, tools: ToolRegistry, raw: dict[str, Any], expected: Any) -> None:
        assert _schema(raw, tools) == expected

    @pytest.mark.parametrize(
        ("raw", "keys"),
        [
            ({"id": "a", "type": "if", "condition": "x"}, ["branch"]),
            ({"id": "a", "type": "switch", "cases": [{"when": "x"}]}, ["case"]),
            ({"id": "a", "type": "parallel", "branches": [[]]}, []),
            (
                {
                    "id": "a",
                    "type": "loop",
                    "condition": "x",
                    "max_iterations": 1,
                    "body": [{"id": "b", "type": "set"}],
                },
                ["iterations"],
            ),
        ],
    )
    def test_control_nodes_are_closed_objects(
        self, tools: ToolRegistry, raw: dict[str, Any], keys: list[str]
    ) -> None:
        schema = _schema(raw, tools)

        assert list(schema["properties"]) == keys
        assert schema["additionalProperties"] is False

    def test_for_each_lists_its_results(self, tools: ToolRegistry) -> None:
        raw = {"id": "a", "type": "for_each", "items": [], "body": [{"id": "b", "type": "set"}]}

        assert _schema(raw, tools, item=_NUMBER) == {"type": "array", "items": {"type": "number"}}

    def test_on_error_continue_may_be_an_error(self, tools: ToolRegistry) -> None:
        raw = {"id": "a", "type": "llm", "prompt": "p", "on_error": "continue"}

        assert _schema(raw, tools) == {"anyOf": [{"type": "string"}, ERROR_OUTPUT]}


class TestLiteralSchema:
    def test_infers_a_closed_shape(self) -> None:
        value = {"a": [1, 2.5, True, None, "s"], "b": "{{ x }}", "c": "n={{ x }}", "d": "{{ y }}"}
        typer = {" x ": _NUMBER, " y ": SchemaAt({"$ref": "#/$defs/z"}, {})}.get

        assert literal_schema(value, typer).schema == {
            "type": "object",
            "properties": {
                "a": {
                    "type": "array",
                    "prefixItems": [
                        {"type": "integer"},
                        {"type": "number"},
                        {"type": "boolean"},
                        {"type": "null"},
                        {"type": "string"},
                    ],
                },
                "b": {"type": "number"},
                "c": {"type": "string"},
                "d": {},
            },
            "additionalProperties": False,
        }

    def test_a_whole_expression_keeps_its_document(self) -> None:
        at = SchemaAt({"$ref": "#/$defs/z"}, {"$defs": {"z": {}}})

        assert literal_schema("{{ y }}", lambda _: at) is at
