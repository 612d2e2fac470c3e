"""The tool registry: built-in tools plus third-party ones from the ``plait.tools`` entry points.

A third-party package exposes a tool with, in its ``pyproject.toml``::

    [project.entry-points."plait.tools"]
    my_tool = "my_package.tools:my_tool"

where ``my_tool`` is an object satisfying ``Tool`` (or a zero-argument callable returning one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import httpx

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "plait.tools"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolContext:
    """What a tool gets besides its arguments."""

    run_id: str
    node_id: str
    idempotency_key: str
    """``run_id:node_id:attempt``: stable across a retry of the whole run, new per attempt."""
    http: httpx.AsyncClient
    """Shared client; tools must not create their own, so pooling and test mocks apply."""
    timeout_s: float | None
    """The node's remaining bound, for tools that pass a timeout down."""


@runtime_checkable
class Tool(Protocol):
    """A callable the ``tool`` node and the ``llm`` tool-calling loop can invoke."""

    name: str
    """Registry name, as written in specs."""
    description: str
    """What the tool does; shown to models that may call it."""
    args_schema: Mapping[str, Any]
    """JSON Schema of the arguments; checked before every call."""
    result_schema: Mapping[str, Any] | None
    """JSON Schema of the result when known, for the static type checks of references."""
    side_effecting: bool
    """Whether calling it changes the world (and so must honour the idempotency key)."""

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> Any:
        """Run the tool; raise ``NodeError`` with a fitting kind on failure."""
        ...


class ToolRegistry:
    """Tools by name. Registering a name twice is an error: a spec must mean one thing."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self.revision = 0
        """Counts registrations: a spec checked against this registry stays checked while
        the revision is the same (caches of checked specs key on it)."""
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool '{tool.name}' is registered twice")
        self._tools[tool.name] = tool
        self.revision += 1

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def load_entry_points(self) -> None:
        """Register every tool published under the ``plait.tools`` entry-point group.

        A broken plugin is logged and skipped rather than taking the whole engine down.
        """
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
                tool = loaded if isinstance(loaded, Tool) else loaded()
                self.register(tool)
            except Exception:
                logger.exception("could not load tool entry point %s", ep.name)
