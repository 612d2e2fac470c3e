"""Unique node ids and known tools."""

from __future__ import annotations

from tests.workflow_compiler.checks.conftest import found, set_node, spec_of


class TestUniqueIds:
    def test_second_occurrence_names_the_first(self, check) -> None:
        report = check(
            spec_of(
                set_node("a"),
                {"id": "p", "type": "parallel", "branches": [[set_node("b")], [set_node("a")]]},
                {"id": "f", "type": "for_each", "items": [1], "body": [set_node("b")]},
            )
        )

        assert found(report) == [
            ("error", "nodes[1].branches[1][0].id"),
            ("error", "nodes[2].body[0].id"),
        ]
        assert report.issues[0].message == "duplicate node id 'a' (first used at nodes[0])"
        assert report.issues[1].message == (
            "duplicate node id 'b' (first used at nodes[1].branches[0][0])"
        )


class TestTools:
    def test_unknown_tool_node(self, check) -> None:
        report = check(spec_of({"id": "t", "type": "tool", "tool": "nope"}))

        assert found(report) == [("error", "nodes[0].tool")]
        assert report.issues[0].message == "unknown tool 'nope' (known: fetch, opaque)"

    def test_unknown_llm_tools_each_at_their_index(self, check) -> None:
        llm = {"id": "m", "type": "llm", "prompt": "p", "tools": ["fetch", "x", "y"]}

        report = check(spec_of({"id": "i", "type": "if", "condition": "true", "else": [llm]}))

        assert found(report) == [
            ("error", "nodes[0].else[0].tools[1]"),
            ("error", "nodes[0].else[0].tools[2]"),
        ]

    def test_known_tools_pass(self, check) -> None:
        llm = {"id": "m", "type": "llm", "prompt": "p", "tools": ["opaque"]}

        assert check(spec_of({"id": "t", "type": "tool", "tool": "fetch"}, llm)).issues == []
