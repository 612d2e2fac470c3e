"""``build_executor``: one executor class per leaf node type."""

from __future__ import annotations

from typing import Any

import pytest

from workflow_compiler.executors import build_executor
from workflow_compiler.executors.human import HumanExecutor
from workflow_compiler.executors.llm import LlmExecutor
from workflow_compiler.executors.set import SetExecutor
from workflow_compiler.executors.tool import ToolExecutor
from workflow_compiler.spec import WorkflowSpec


def node(raw: dict[str, Any]) -> Any:
    return WorkflowSpec.model_validate({"version": "1", "nodes": [raw]}).nodes[0]


class TestBuildExecutor:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ({"id": "s", "type": "set", "value": 1}, SetExecutor),
            ({"id": "l", "type": "llm", "prompt": "hi"}, LlmExecutor),
            ({"id": "t", "type": "tool", "tool": "http_request"}, ToolExecutor),
            ({"id": "h", "type": "human", "prompt": "?"}, HumanExecutor),
        ],
    )
    def test_leaf_nodes_get_their_executor(self, raw: dict[str, Any], expected: type) -> None:
        assert isinstance(build_executor(node(raw)), expected)

    def test_control_nodes_have_none(self) -> None:
        control = node({"id": "c", "type": "if", "condition": "true"})

        with pytest.raises(ValueError, match="lowered to graph structure"):
            build_executor(control)
