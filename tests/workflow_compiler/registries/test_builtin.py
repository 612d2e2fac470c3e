"""The default tool registry: built-ins, and plugins from the ``plait.tools`` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest

from workflow_compiler.registries import tools as tools_module
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.tools import ENTRY_POINT_GROUP, ToolContext
from workflow_compiler.tools import HttpRequestTool

MODULE = __name__


class EchoTool:
    """A plugin tool."""

    name = "echo"
    description = "Returns its arguments."
    args_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    result_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    side_effecting = False

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> Any:
        return args


ECHO = EchoTool()
CLASH = HttpRequestTool()
"""A plugin that claims a built-in's name."""


def make_echo() -> EchoTool:
    """A plugin published as a factory rather than an instance."""
    tool = EchoTool()
    tool.name = "echo_factory"
    return tool


def plugin(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{MODULE}:{target}", group=ENTRY_POINT_GROUP)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Entry points the registry sees as installed; tests append to it."""
    published: list[EntryPoint] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        return [ep for ep in published if ep.group == group]

    monkeypatch.setattr(tools_module, "entry_points", fake_entry_points)
    return published


class TestDefaultToolRegistry:
    def test_without_plugins_it_holds_the_builtins(self, installed: list[EntryPoint]) -> None:
        installed.append(plugin("echo", "ECHO"))

        registry = default_tool_registry(load_plugins=False)

        assert registry.names() == ["http_request"]
        assert isinstance(registry.get("http_request"), HttpRequestTool)

    def test_plugins_are_loaded_as_instances_or_factories(
        self, installed: list[EntryPoint]
    ) -> None:
        installed.extend([plugin("echo", "ECHO"), plugin("echo_factory", "make_echo")])

        registry = default_tool_registry()

        assert registry.names() == ["echo", "echo_factory", "http_request"]
        assert registry.get("echo") is ECHO

    def test_a_broken_or_clashing_plugin_is_logged_and_skipped(
        self, installed: list[EntryPoint], caplog: pytest.LogCaptureFixture
    ) -> None:
        installed.extend(
            [
                plugin("missing", "NOT_THERE"),
                plugin("http_request", "CLASH"),
                plugin("echo", "ECHO"),
            ]
        )

        with caplog.at_level(logging.ERROR):
            registry = default_tool_registry()

        assert registry.names() == ["echo", "http_request"]
        assert registry.get("http_request") is not CLASH
        assert [r.getMessage() for r in caplog.records] == [
            "could not load tool entry point missing",
            "could not load tool entry point http_request",
        ]
