"""Fixtures of the service tests: an executor of runs on the test's database, a fresh compile
cache, and the scriptable ``probe`` tool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from api.services.run_executor import RunExecutor
from shared.database.checkpointer import TortoiseSaver
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import clear_cache


@pytest.fixture
def changed() -> list[str]:
    """The run ids the ``executor`` reported a status change of, in order."""
    return []


@pytest.fixture
async def executor(
    database: str, services: RuntimeServices, changed: list[str]
) -> AsyncIterator[RunExecutor]:
    """Executes runs with ``services`` (events to its ``CollectingSink``), checkpoints in the
    test's database; stops what is still running at the end of the test."""
    executor = RunExecutor(
        services,
        checkpointer=TortoiseSaver(),
        events_for=lambda run: services.events,
        on_change=changed.append,
    )
    yield executor
    await executor.aclose()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test compiles its own graphs, so a run continued in a test never reuses a graph
    compiled by another."""
    clear_cache()


@pytest.fixture
def probe(services: RuntimeServices) -> ProbeTool:
    """The ``probe`` tool, registered in the test's services: it counts its calls."""
    tool = ProbeTool()
    services.tools.register(tool)
    return tool
