"""The tool registry every entry point starts from: built-ins plus installed plugins."""

from __future__ import annotations

from workflow_compiler.registries.tools import Tool, ToolRegistry
from workflow_compiler.tools import HttpRequestTool


def builtin_tools() -> list[Tool]:
    """Fresh instances of the tools that ship with Plait."""
    return [HttpRequestTool()]


def default_tool_registry(*, load_plugins: bool = True) -> ToolRegistry:
    """The built-in tools, plus those published under the ``plait.tools`` entry points.

    Args:
        load_plugins: Load third-party tools. Tests turn it off so that whatever happens to be
            installed cannot change what a spec means.
    """
    registry = ToolRegistry(builtin_tools())
    if load_plugins:
        registry.load_entry_points()
    return registry
