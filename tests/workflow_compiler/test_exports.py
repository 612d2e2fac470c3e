"""The names other packages may import from ``workflow_compiler``, pinned."""

from __future__ import annotations

import pytest

import workflow_compiler

EXPORTED = [
    "CheckIssue",
    "CheckReport",
    "CompiledWorkflow",
    "ErrorKind",
    "EventSink",
    "InputsInvalidError",
    "MappingSecrets",
    "ModelProviders",
    "NodeError",
    "PendingInput",
    "ResumeError",
    "RunContext",
    "RunEvent",
    "RunOutcome",
    "RuntimeServices",
    "SecretResolver",
    "SpecInvalidError",
    "StaticModelProviders",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "WorkflowSpec",
    "check_spec",
    "compile_workflow",
    "default_tool_registry",
    "parse_spec",
    "validate_inputs",
]


class TestExports:
    def test_the_public_names_are_pinned(self) -> None:
        assert workflow_compiler.__all__ == EXPORTED

    @pytest.mark.parametrize("name", EXPORTED)
    def test_every_public_name_resolves(self, name: str) -> None:
        assert getattr(workflow_compiler, name) is not None

    def test_an_unknown_name_is_an_attribute_error(self) -> None:
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            _ = workflow_compiler.nope
