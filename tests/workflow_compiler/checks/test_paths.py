"""JSON paths and type names."""

from __future__ import annotations

import pytest

from workflow_compiler.checks.paths import json_path, json_type


class TestJsonPath:
    @pytest.mark.parametrize(
        ("parts", "root", "expected"),
        [
            ([], "", ""),
            (["nodes", 1, "then", 0, "prompt"], "", "nodes[1].then[0].prompt"),
            (["text"], "inputs", "inputs.text"),
            ([0, "a"], "inputs.rows", "inputs.rows[0].a"),
            ([2], "", "[2]"),
        ],
    )
    def test_joins(self, parts: list, root: str, expected: str) -> None:
        assert json_path(parts, root) == expected


class TestJsonType:
    @pytest.mark.parametrize(
        ("value", "name"),
        [
            (None, "null"),
            (True, "boolean"),
            (1, "integer"),
            (1.5, "number"),
            ("s", "string"),
            ({}, "object"),
            ([], "array"),
            ((), "array"),
            (object(), "object"),
        ],
    )
    def test_names(self, value: object, name: str) -> None:
        assert json_type(value) == name
