"""The workflow compiler: spec v1, its static checks, its lowering to LangGraph, execution.

Knows nothing of HTTP or of the ORM: callers give it a checkpointer, a secret resolver, model
providers, tools and an event sink (``RuntimeServices``).

Names are exported lazily (PEP 562), so ``import workflow_compiler.spec`` for a quick
command does not pull in LangGraph and the openai client.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CheckIssue": "workflow_compiler.errors",
    "CheckReport": "workflow_compiler.checks",
    "CompiledWorkflow": "workflow_compiler.lowering",
    "ErrorKind": "workflow_compiler.errors",
    "EventSink": "workflow_compiler.events",
    "InputsInvalidError": "workflow_compiler.errors",
    "MappingSecrets": "workflow_compiler.secrets",
    "ModelProviders": "workflow_compiler.registries.models",
    "NodeError": "workflow_compiler.errors",
    "PendingInput": "workflow_compiler.lowering",
    "ResumeError": "workflow_compiler.lowering",
    "RunContext": "workflow_compiler.context",
    "RunEvent": "workflow_compiler.events",
    "RunOutcome": "workflow_compiler.lowering",
    "RuntimeServices": "workflow_compiler.context",
    "SecretResolver": "workflow_compiler.context",
    "SpecInvalidError": "workflow_compiler.errors",
    "StaticModelProviders": "workflow_compiler.registries.models",
    "Tool": "workflow_compiler.registries.tools",
    "ToolContext": "workflow_compiler.registries.tools",
    "ToolRegistry": "workflow_compiler.registries.tools",
    "WorkflowSpec": "workflow_compiler.spec",
    "check_spec": "workflow_compiler.checks",
    "compile_workflow": "workflow_compiler.lowering",
    "default_tool_registry": "workflow_compiler.registries.builtin",
    "parse_spec": "workflow_compiler.checks",
    "validate_inputs": "workflow_compiler.inputs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workflow_compiler' has no attribute '{name}'")
    return getattr(import_module(module), name)
