"""What the runtime hands to node executors.

``RuntimeServices`` are long-lived collaborators (one set per process or per test);
``RunContext`` adds what belongs to one run. Both travel as LangGraph's run ``context``,
which is never checkpointed, so clients and secrets stay out of stored state.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from workflow_compiler.clock import Clock, SystemClock
from workflow_compiler.events import EventSink, NullSink
from workflow_compiler.registries.models import ModelProviders
from workflow_compiler.registries.tools import ToolRegistry


class SecretResolver(Protocol):
    """Turns ``secrets.NAME`` references into values, only when a node executes."""

    async def resolve(self, names: Iterable[str]) -> dict[str, str]:
        """Values of the named secrets.

        Raises:
            NodeError: kind ``secret_missing`` naming the first secret that does not exist.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRunRequest:
    """What a ``workflow`` node asks of ``ChildRuns``: one child run, identified by its key."""

    parent_run_id: str
    """The run the node belongs to; the child's ``parent_run_id``."""
    node_id: str
    """The ``workflow`` node, for messages."""
    idempotency_key: str
    """Stable for one attempt of one execution of the node (``Invocation.idempotency_key``):
    the child's identity, so executing the node again finds the child it started."""
    workflow_id: str
    """The workflow to run, in the parent run's tenant."""
    version: int | Literal["published"]
    """``"published"`` or a version number."""
    inputs: Mapping[str, Any]
    """The rendered inputs, not yet validated against the child's spec."""


class ChildRuns(Protocol):
    """Starts and finds the child runs of ``workflow`` nodes; the Plait server provides it."""

    async def run_child(self, request: ChildRunRequest) -> Any:
        """Run the child until it stops and return its outputs; when the request's key already
        has a child, take that one up instead of starting another.

        Raises:
            NodeError: the workflow or version does not exist (``config_error``), the inputs
                fail the child's schema (``validation_error``), the child failed or waits for
                a person (``child_run_failed``), or child runs nest too deep
                (``limit_exceeded``).
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeServices:
    """Collaborators shared by every run of a process."""

    tools: ToolRegistry
    models: ModelProviders
    secrets: SecretResolver
    http: httpx.AsyncClient
    """Shared client for HTTP tools."""
    events: EventSink = field(default_factory=NullSink)
    clock: Clock = field(default_factory=SystemClock)
    secrets_in_use: Callable[[], Sequence[str]] | None = None
    """Every secret value the run's tenant has in use (the server's redactor); a node's output
    and errors have them masked too, not only the secrets the node itself read. None: only
    those (the CLI)."""
    rng: random.Random = field(default_factory=random.Random)
    """Source of retry jitter; tests seed it."""
    child_runs: ChildRuns | None = None
    """Runs ``workflow`` nodes; None where there is no server (``plait run``), and such a
    node then fails with a ``config_error``."""


@dataclass(slots=True, kw_only=True)
class RunContext:
    """One run's view of the services, passed as LangGraph's ``context``."""

    run_id: str
    services: RuntimeServices
    run: Mapping[str, Any] = field(default_factory=dict)
    """What expressions see as ``run``: ids, version, trigger event."""
    semaphores: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    """Per for_each instance, bounding how many items run at once."""
