"""Fixtures for executor tests: a run context and mocked HTTP, the model endpoint included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from tests.conftest import TEST_OPENAI_BASE_URL
from workflow_compiler.context import RunContext, RuntimeServices


@pytest.fixture
def run(services: RuntimeServices) -> RunContext:
    return RunContext(run_id="run_test", services=services)


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    """Every outbound request is mocked; an unrouted one fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def chat_api(mock_http: respx.MockRouter) -> respx.Route:
    """The chat completions route of the test provider; tests set its responses."""
    return mock_http.post(f"{TEST_OPENAI_BASE_URL}/chat/completions")
