"""Type checks of reference paths: certain errors only, unknown is permissive."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow_compiler.checks.conftest import found, set_node, spec_of
from workflow_compiler.checks.types import (
    SchemaAt,
    describe,
    item_schema,
    known_types,
    resolve,
)

_OBJ = {"type": "object", "properties": {"a": {"type": "string"}}}
_DEFS = {
    "$defs": {"item": {"type": "object", "properties": {"n": {"type": "integer"}}}},
    "type": "array",
    "items": {"$ref": "#/$defs/item"},
}


class TestResolve:
    @pytest.mark.parametrize(
        ("schema", "path", "expected"),
        [
            (_OBJ, ["a"], {"type": "string"}),
            ({**_OBJ, "additionalProperties": {"type": "number"}}, ["z"], {"type": "number"}),
            ({"type": "array", "items": _OBJ}, [3, "a"], {"type": "string"}),
            (
                {"type": "array", "prefixItems": [{"type": "null"}], "items": _OBJ},
                [0],
                {"type": "null"},
            ),
            ({"type": "string"}, [0], {"type": "string"}),
            (_DEFS, [0, "n"], {"type": "integer"}),
            ({"allOf": [_OBJ]}, ["a"], {"type": "string"}),
            ({"anyOf": [{"type": "string"}, _OBJ]}, ["a"], {"type": "string"}),
            (
                {"type": ["object", "null"], "properties": {"a": {"type": "integer"}}},
                ["a"],
                {"type": "integer"},
            ),
        ],
    )
    def test_follows_declared_schemas(self, schema: Any, path: list, expected: Any) -> None:
        resolution = resolve(SchemaAt.own(schema), path, "v")

        assert resolution.problem is None
        assert resolution.schema is not None
        assert resolution.schema.schema == expected

    @pytest.mark.parametrize(
        ("schema", "path"),
        [
            ({}, ["x", 0, "y"]),
            ({"type": "object"}, ["x"]),
            ({**_OBJ, "additionalProperties": True}, ["z"]),
            ({**_OBJ, "patternProperties": {"^z": {}}}, ["z"]),
            ({**_OBJ, "allOf": [{}, {}]}, ["z"]),
            ({"type": "string"}, ["upper"]),
            ({"type": "array"}, ["count"]),
            ({"$ref": "https://example.com/s"}, ["x"]),
            ({"$ref": "#"}, ["x"]),
            ({"$ref": "#/$defs/x", "type": "string"}, ["x"]),
            ({"anyOf": [{"type": "string"}, {}]}, ["x"]),
            ({"oneOf": [_OBJ, _OBJ]}, ["a", "upper"]),
            ({"type": "array", "items": False}, [0]),
            ({"type": 3}, ["x"]),
        ],
    )
    def test_unknown_is_permissive(self, schema: Any, path: list) -> None:
        assert resolve(SchemaAt.own(schema), path, "v").problem is None

    @pytest.mark.parametrize(
        ("schema", "path", "problem"),
        [
            (_OBJ, ["b"], "'v' has no property 'b' (known: a)"),
            (_OBJ, ["a", "x"], "'v.a' is a string, which has no property 'x'"),
            (_OBJ, ["a", "_x"], "'v.a' is a string, which has no property '_x'"),
            (_OBJ, [0], "'v' is an object, not an array, so it has no item [0]"),
            ({"type": "array", "items": _OBJ}, [1, "b"], "'v[1]' has no property 'b' (known: a)"),
            (
                {"type": ["string", "null"]},
                ["x"],
                "'v' is null or a string, which has no property 'x'",
            ),
            (
                {"type": "object", "properties": {}, "additionalProperties": False},
                ["x"],
                "'v' has no property 'x' (known: none)",
            ),
            (
                {"anyOf": [{"type": "integer"}, _OBJ]},
                ["b"],
                "'v' is an integer, which has no property 'b'",
            ),
            (_DEFS, [0, "m"], "'v[0]' has no property 'm' (known: n)"),
        ],
    )
    def test_reports_certain_errors(self, schema: Any, path: list, problem: str) -> None:
        assert resolve(SchemaAt.own(schema), path, "v").problem == problem

    def test_a_ref_cycle_is_unknown(self) -> None:
        schema = {
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
            "$ref": "#/$defs/a",
        }

        assert resolve(SchemaAt.own(schema), ["x"], "v").problem is None

    def test_starting_from_nothing_is_unknown(self) -> None:
        assert resolve(None, ["x"], "v").schema is None


class TestHelpers:
    @pytest.mark.parametrize(
        ("schema", "expected"),
        [
            ({"type": "array", "items": _OBJ}, _OBJ),
            (
                {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}]},
                {"type": "integer"},
            ),
            ({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}, None),
            ({"type": "array"}, None),
            (_DEFS, _DEFS["items"]),
        ],
    )
    def test_item_schema(self, schema: Any, expected: Any) -> None:
        item = item_schema(SchemaAt.own(schema))

        assert (item.schema if item is not None else None) == expected

    def test_known_types_and_describe(self) -> None:
        types = known_types(SchemaAt.own({"type": ["integer", "array"]}))

        assert types == frozenset({"integer", "array"})
        assert describe(types) == "an array or an integer"
        assert known_types(SchemaAt.own({"anyOf": []})) is None
        assert known_types(None) is None


_INPUTS = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "n": {"type": "integer"},
        "rows": {"type": "array", "items": {"type": "object", "properties": {"name": {}}}},
    },
}


def _spec(*nodes: dict[str, Any]) -> dict[str, Any]:
    return spec_of(*nodes, inputs=_INPUTS)


def _read(expression: str) -> dict[str, Any]:
    return set_node("r", "{{ " + expression + " }}")


class TestReferenceTypes:
    @pytest.mark.parametrize(
        ("nodes", "expression", "problem"),
        [
            ([], "inputs.text.x", "'inputs.text' is a string, which has no property 'x'"),
            ([], "inputs.txt", "'inputs' has no property 'txt' (known: text, n, rows)"),
            ([], "inputs.rows[0].name.first", None),
            ([], "inputs.rows.name", "'inputs.rows' is an array, which has no property 'name'"),
            ([], "inputs.text.split(',')", None),
            (
                [{"id": "m", "type": "llm", "prompt": "p"}],
                "nodes.m.output.x",
                "'nodes.m.output' is a string, which has no property 'x'",
            ),
            (
                [{"id": "m", "type": "llm", "prompt": "p", "output_schema": _INPUTS}],
                "nodes.m.output.n",
                None,
            ),
            ([{"id": "t", "type": "tool", "tool": "fetch"}], "nodes.t.output.items[0].name", None),
            (
                [{"id": "t", "type": "tool", "tool": "fetch"}],
                "nodes.t.output.total",
                "'nodes.t.output' has no property 'total' (known: items, count)",
            ),
            ([{"id": "t", "type": "tool", "tool": "opaque"}], "nodes.t.output.anything[0]", None),
            (
                [{"id": "h", "type": "human", "prompt": "?"}],
                "nodes.h.output.ok",
                "'nodes.h.output' is a string, which has no property 'ok'",
            ),
            ([{"id": "i", "type": "if", "condition": "true"}], "nodes.i.output.branch", None),
            (
                [{"id": "i", "type": "if", "condition": "true"}],
                "nodes.i.output.case",
                "'nodes.i.output' has no property 'case' (known: branch)",
            ),
            (
                [{"id": "s", "type": "switch", "cases": [{"when": "true"}]}],
                "nodes.s.output.case",
                None,
            ),
            (
                [{"id": "p", "type": "parallel", "branches": [[]]}],
                "nodes.p.output.x",
                "'nodes.p.output' has no property 'x' (known: none)",
            ),
            (
                [
                    {
                        "id": "l",
                        "type": "loop",
                        "condition": "false",
                        "max_iterations": 1,
                        "body": [set_node("b")],
                    }
                ],
                "nodes.l.output.iterations.x",
                "'nodes.l.output.iterations' is an integer, which has no property 'x'",
            ),
            (
                [
                    {
                        "id": "f",
                        "type": "for_each",
                        "items": "{{ inputs.rows }}",
                        "body": [set_node("b", {"name": "{{ item.name }}"})],
                    }
                ],
                "nodes.f.output[0].nme",
                "'nodes.f.output[0]' has no property 'nme' (known: name)",
            ),
            (
                [
                    {
                        "id": "f",
                        "type": "for_each",
                        "items": [1],
                        "body": [set_node("b")],
                        "result": "{{ index }}",
                    }
                ],
                "nodes.f.output.x",
                "'nodes.f.output' is an array, which has no property 'x'",
            ),
        ],
    )
    def test_output_paths(self, check, nodes: list, expression: str, problem: str | None) -> None:
        report = check(_spec(*nodes, _read(expression)))

        assert [i.message for i in report.issues] == ([problem] if problem else [])
        assert all(i.path == f"nodes[{len(nodes)}].value" for i in report.issues)

    @pytest.mark.parametrize(
        ("value", "expression", "problem"),
        [
            ({"a": {"b": [1, "x"]}}, "nodes.s.output.a.b[1]", None),
            (
                {"a": {"b": [1, "x"]}},
                "nodes.s.output.a.c",
                "'nodes.s.output.a' has no property 'c' (known: b)",
            ),
            (
                {"a": "{{ inputs.n }}"},
                "nodes.s.output.a.x",
                "'nodes.s.output.a' is an integer, which has no property 'x'",
            ),
            ("{{ inputs.rows }}", "nodes.s.output[0].name", None),
            (
                "{{ inputs.rows[0] }}",
                "nodes.s.output.nam",
                "'nodes.s.output' has no property 'nam' (known: name)",
            ),
            (
                "n = {{ inputs.n }}",
                "nodes.s.output.x",
                "'nodes.s.output' is a string, which has no property 'x'",
            ),
            ({"a": "{{ inputs.n + 1 }}"}, "nodes.s.output.a.x", None),
        ],
    )
    def test_set_values_are_inferred(
        self, check, value: Any, expression: str, problem: str | None
    ) -> None:
        report = check(_spec(set_node("s", value), _read(expression)))

        assert [i.message for i in report.issues] == ([problem] if problem else [])

    @pytest.mark.parametrize(
        ("node", "expression", "problem"),
        [
            (
                {"id": "m", "type": "llm", "prompt": "p", "on_error": "continue"},
                "nodes.m.output.error.kind",
                None,
            ),
            (
                {"id": "m", "type": "llm", "prompt": "p", "on_error": "continue"},
                "nodes.m.output.upper()",
                None,
            ),
            (
                {"id": "m", "type": "llm", "prompt": "p", "on_error": "continue"},
                "nodes.m.output.error.code",
                "'nodes.m.output.error' has no property 'code' (known: kind, message)",
            ),
            (
                {"id": "t", "type": "tool", "tool": "fetch", "on_error": "continue"},
                "nodes.t.output.count",
                None,
            ),
            (
                {"id": "t", "type": "tool", "tool": "fetch", "on_error": "continue"},
                "nodes.t.output.error",
                None,
            ),
            (
                {"id": "t", "type": "tool", "tool": "fetch", "on_error": "continue"},
                "nodes.t.output.nope",
                "'nodes.t.output' has no property 'nope' (known: items, count)",
            ),
        ],
    )
    def test_on_error_continue_adds_the_error_output(
        self, check, node: dict, expression: str, problem: str | None
    ) -> None:
        report = check(_spec(node, _read(expression)))

        assert [i.message for i in report.issues] == ([problem] if problem else [])

    def test_loop_variables_are_typed_by_items(self, check) -> None:
        body = [set_node("b", "{{ [item.name, index, item.nme, index.x] }}")]

        report = check(
            _spec({"id": "f", "type": "for_each", "items": "{{ inputs.rows }}", "body": body})
        )

        assert [i.message for i in report.issues] == [
            "'item' has no property 'nme' (known: name)",
            "'index' is an integer, which has no property 'x'",
        ]


class TestForEachItems:
    @pytest.mark.parametrize(
        ("items", "message"),
        [
            ({"a": 1}, "items must be a list, not object"),
            (3, "items must be a list, not integer"),
            (None, "items must be a list, not null"),
            ("abc", "items is a plain string"),
            ("rows: {{ inputs.rows }}", "items is text with placeholders, which renders a string"),
            ("{{ inputs.text }}", "items must be a list, but 'inputs.text' is a string"),
            (
                "{{ nodes.t.output.count }}",
                "items must be a list, but 'nodes.t.output.count' is an integer",
            ),
            ("{{ nodes.t.output }}", "items must be a list, but 'nodes.t.output' is an object"),
        ],
    )
    def test_rejects_what_is_not_a_list(self, check, items: Any, message: str) -> None:
        each = {"id": "f", "type": "for_each", "items": items, "body": [set_node("b")]}

        report = check(_spec({"id": "t", "type": "tool", "tool": "fetch"}, each))

        assert found(report) == [("error", "nodes[1].items")]
        assert report.issues[0].message.startswith(message)

    @pytest.mark.parametrize(
        "items",
        [
            [1, "{{ inputs.n }}"],
            "{{ inputs.rows }}",
            "{{ nodes.t.output.items }}",
            "{{ nodes.o.output }}",
            "{{ inputs.text | list }}",
            "{{ range(inputs.n) }}",
            "{{ inputs.unknown_in_open_schema }}",
        ],
    )
    def test_accepts_lists_and_unknowns(self, check, items: Any) -> None:
        each = {"id": "f", "type": "for_each", "items": items, "body": [set_node("b")]}
        nodes = [
            {"id": "t", "type": "tool", "tool": "fetch"},
            {"id": "o", "type": "tool", "tool": "opaque"},
            each,
        ]

        assert check(spec_of(*nodes, inputs={**_INPUTS, "additionalProperties": True})).issues == []
