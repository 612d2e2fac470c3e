"""Fixtures of the service tests: an executor of runs on the test's database (the fresh
compile cache and the scriptable ``probe`` tool are the suite's, in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from api.services.run_executor import RunExecutor
from shared.database.checkpointer import TortoiseSaver
from workflow_compiler.context import RuntimeServices


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
