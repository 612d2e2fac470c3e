"""Structure: pydantic errors become issues at document paths (tags dropped, aliases kept)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow_compiler.checks.conftest import found, set_node, spec_of
from workflow_compiler.checks.structure import MAX_DEPTH, NODE_TYPES


class TestNonObjectSpec:
    @pytest.mark.parametrize(
        ("raw", "kind"),
        [([1], "array"), ("spec", "string"), (None, "null"), (3, "integer"), (True, "boolean")],
    )
    def test_is_an_issue_at_the_root(self, check, raw: object, kind: str) -> None:
        report = check(raw)

        assert report.spec is None
        assert [(i.path, i.message) for i in report.issues] == [
            ("", f"a spec must be a JSON object, not {kind}")
        ]

    def test_too_deep_is_an_issue_not_a_crash(self, check) -> None:
        value: Any = 1
        for _ in range(MAX_DEPTH + 5):
            value = [value]

        report = check(spec_of(set_node("a", value)))

        assert found(report) == [("error", "")]
        assert "levels deep" in report.issues[0].message


class TestPaths:
    @pytest.mark.parametrize(
        ("node", "path"),
        [
            (
                {"id": "a", "type": "if", "condition": "true", "then": [{"type": "set"}]},
                "nodes[0].then[0].id",
            ),
            (
                {"id": "a", "type": "if", "condition": "true", "else": [set_node("B")]},
                "nodes[0].else[0].id",
            ),
            (
                {"id": "a", "type": "for_each", "items": [], "as": "x-y", "body": [set_node("b")]},
                "nodes[0].as",
            ),
            ({"id": "a", "type": "human", "prompt": "?", "schema": 3}, "nodes[0].schema"),
            (
                {
                    "id": "a",
                    "type": "parallel",
                    "branches": [[set_node("b")], [set_node("c", timeout_s=0)]],
                },
                "nodes[0].branches[1][0].timeout_s",
            ),
            (
                {"id": "a", "type": "switch", "cases": [{"when": "", "nodes": []}]},
                "nodes[0].cases[0].when",
            ),
            (
                {
                    "id": "a",
                    "type": "llm",
                    "prompt": "p",
                    "messages": [{"role": "x", "content": "c"}],
                },
                "nodes[0].messages[0].role",
            ),
            (
                {"id": "a", "type": "set", "retry": {"retry_on": ["nope"]}},
                "nodes[0].retry.retry_on[0]",
            ),
            (
                {
                    "id": "a",
                    "type": "loop",
                    "condition": "true",
                    "max_iterations": 2,
                    "body": [{"id": "b", "type": "set", "if": 1}],
                },
                "nodes[0].body[0].if",
            ),
        ],
    )
    def test_point_into_the_document(self, check, node: dict[str, Any], path: str) -> None:
        assert found(check(spec_of(node))) == [("error", path)]

    def test_a_key_named_like_the_tag_is_kept(self, check) -> None:
        report = check(spec_of({"id": "a", "type": "set", "set": 1}))

        assert [(i.path, i.message) for i in report.issues] == [("nodes[0].set", "unknown field")]


class TestMessages:
    @pytest.mark.parametrize(
        ("node", "path", "message"),
        [
            ({"id": "a", "type": "foo"}, "nodes[0].type", "unknown node type 'foo'"),
            ({"id": "a"}, "nodes[0].type", "a node needs a 'type'"),
            ("text", "nodes[0]", "a node must be a JSON object, not string"),
            ({"type": "set"}, "nodes[0].id", "required field is missing"),
            ({"id": "a", "type": "llm"}, "nodes[0]", "exactly one of 'prompt' or 'messages'"),
            (
                {
                    "id": "a",
                    "type": "for_each",
                    "items": [],
                    "as": "inputs",
                    "body": [set_node("b")],
                },
                "nodes[0]",
                "loop variable 'inputs' shadows a reserved name",
            ),
        ],
    )
    def test_are_readable(self, check, node: object, path: str, message: str) -> None:
        report = check(spec_of(node))

        assert found(report) == [("error", path)]
        assert message in report.issues[0].message

    def test_unknown_type_lists_the_known_ones(self, check) -> None:
        report = check(spec_of({"id": "a", "type": "foo"}))

        assert all(kind in report.issues[0].message for kind in NODE_TYPES)


class TestAllErrorsAtOnce:
    def test_every_structural_error_is_reported(self, check) -> None:
        report = check(
            {
                "version": "2",
                "nodes": [{"type": "set"}, {"id": "b", "type": "tool"}],
                "extra": 1,
            }
        )

        assert found(report) == [
            ("error", "version"),
            ("error", "nodes[0].id"),
            ("error", "nodes[1].tool"),
            ("error", "extra"),
        ]
        assert report.spec is None
        assert not report.ok

    def test_missing_nodes(self, check) -> None:
        assert found(check({"version": "1"})) == [("error", "nodes")]
