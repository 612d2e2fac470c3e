"""Expression syntax: every template and condition parses as the runtime compiles it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow_compiler.checks.conftest import found, set_node, spec_of
from workflow_compiler.checks.syntax import parse_source
from workflow_compiler.expressions import ExpressionSyntaxError, Reference


class TestParseSource:
    def test_lists_references(self) -> None:
        parsed = parse_source(
            "Hi {{ inputs.name }} {{ nodes.a.output | default(1) }}", condition=False
        )

        assert parsed.references == (
            Reference("inputs", ("name",), False),
            Reference("nodes", ("a", "output"), True),
        )
        assert not parsed.defines_loop

    def test_single_expression_is_parsed_as_an_expression(self) -> None:
        with pytest.raises(ExpressionSyntaxError):
            parse_source("{{ a }}}", condition=False)

    @pytest.mark.parametrize(
        ("source", "condition", "message"),
        [
            ("x | nosuch", True, "unknown filter 'nosuch'"),
            ("x is nosuch", True, "unknown test 'nosuch'"),
            ("{{ x | upper | nosuch }} and text", False, "unknown filter 'nosuch'"),
            ("{% include 'other' %}", False, "cannot include, import or extend"),
            ("(" * 600 + "x" + ")" * 600, True, "nests too deeply"),
            ("x ==", True, "invalid"),
        ],
    )
    def test_rejects(self, source: str, condition: bool, message: str) -> None:
        with pytest.raises(ExpressionSyntaxError, match=message):
            parse_source(source, condition=condition)

    def test_for_blocks_define_loop(self) -> None:
        parsed = parse_source(
            "{% for x in inputs.xs %}{{ loop.index }}{% endfor %}", condition=False
        )

        assert parsed.defines_loop
        assert [ref.root for ref in parsed.references] == ["inputs", "loop"]


class TestSyntaxIssues:
    @pytest.mark.parametrize(
        ("node", "path"),
        [
            (set_node("a", {"x": ["ok", "{{ broken "]}), "nodes[0].value.x[1]"),
            ({"id": "a", "type": "llm", "system": "{% if %}", "prompt": "p"}, "nodes[0].system"),
            (
                {"id": "a", "type": "llm", "messages": [{"role": "user", "content": "{{ }}"}]},
                "nodes[0].messages[0].content",
            ),
            (
                {
                    "id": "a",
                    "type": "tool",
                    "tool": "fetch",
                    "args": {"headers": {"Authorization": "Bearer {{ secrets.T | nope }}"}},
                },
                "nodes[0].args.headers.Authorization",
            ),
            ({"id": "a", "type": "if", "condition": "1 +"}, "nodes[0].condition"),
            (
                {"id": "a", "type": "switch", "cases": [{"when": "true"}, {"when": "a b"}]},
                "nodes[0].cases[1].when",
            ),
            (
                {
                    "id": "a",
                    "type": "loop",
                    "condition": "x ==",
                    "max_iterations": 1,
                    "body": [set_node("b")],
                },
                "nodes[0].condition",
            ),
            (
                {"id": "a", "type": "for_each", "items": "{{ [ }}", "body": [set_node("b")]},
                "nodes[0].items",
            ),
            (
                {
                    "id": "a",
                    "type": "for_each",
                    "items": [1],
                    "body": [set_node("b")],
                    "result": "{{ item + }}",
                },
                "nodes[0].result",
            ),
            ({"id": "a", "type": "human", "prompt": "{{ x }"}, "nodes[0].prompt"),
        ],
    )
    def test_at_the_field_path(self, check, node: dict[str, Any], path: str) -> None:
        assert found(check(spec_of(node))) == [("error", path)]

    def test_in_the_output_mapping(self, check) -> None:
        report = check(spec_of(set_node("a"), output={"x": ["{{ nodes.a.output }}", "{{ ( }}"]}))

        assert found(report) == [("error", "output.x[1]")]

    def test_jinja_loop_is_a_name_only_inside_a_for_block(self, check) -> None:
        inside = "{% for x in [1, 2] %}{{ loop.index }}{% endfor %}"

        assert check(spec_of(set_node("a", inside))).issues == []
        assert found(check(spec_of(set_node("a", "{{ loop.index }}")))) == [
            ("error", "nodes[0].value")
        ]
