"""Checked, compiled specs cached by their stored hash, per tool registry and its revision."""

from __future__ import annotations

from typing import Any

import pytest

from api.services.checked_specs import checked_workflow
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.errors import SpecInvalidError
from workflow_compiler.registries.tools import ToolRegistry

VALID: dict[str, Any] = {"version": "1", "nodes": [{"id": "a", "type": "set", "value": 1}]}
UNKNOWN_TOOL: dict[str, Any] = {
    "version": "1",
    "nodes": [{"id": "a", "type": "tool", "tool": "nope", "args": {}}],
}


class TestCheckedSpec:
    def test_a_hash_checked_once_is_not_checked_again(self) -> None:
        tools = ToolRegistry()
        first = checked_workflow(VALID, "h1", tools=tools)

        # The stored hash names the spec for good: what is passed with it is not read again.
        assert checked_workflow(UNKNOWN_TOOL, "h1", tools=tools) is first

    def test_a_registry_that_changed_checks_again(self) -> None:
        tools = ToolRegistry()
        checked_workflow(VALID, "h1", tools=tools)
        tools.register(ProbeTool())

        with pytest.raises(SpecInvalidError):
            checked_workflow(UNKNOWN_TOOL, "h1", tools=tools)

    def test_another_registry_checks_for_itself(self) -> None:
        checked_workflow(VALID, "h1", tools=ToolRegistry())

        with pytest.raises(SpecInvalidError):
            checked_workflow(UNKNOWN_TOOL, "h1", tools=ToolRegistry())

    def test_a_failed_check_is_not_kept(self) -> None:
        tools = ToolRegistry()
        with pytest.raises(SpecInvalidError):
            checked_workflow(UNKNOWN_TOOL, "h2", tools=tools)

        assert checked_workflow(VALID, "h2", tools=tools).spec.nodes[0].id == "a"
