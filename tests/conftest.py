"""Fixtures shared by the whole suite: a virtual clock and runtime services."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.clock import FakeClock
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import CollectingSink
from workflow_compiler.registries.models import StaticModelProviders
from workflow_compiler.secrets import MappingSecrets

TEST_OPENAI_BASE_URL = "https://llm.test/v1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def events() -> CollectingSink:
    return CollectingSink()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def services(clock: FakeClock, events: CollectingSink, http: httpx.AsyncClient) -> RuntimeServices:
    """Services as the CLI builds them, with a virtual clock and a test OpenAI endpoint."""
    from workflow_compiler.registries.builtin import default_tool_registry

    return RuntimeServices(
        tools=default_tool_registry(load_plugins=False),
        models=StaticModelProviders.from_env(
            {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": TEST_OPENAI_BASE_URL}
        ),
        secrets=MappingSecrets({"HOOK_TOKEN": "tok-123"}),
        http=http,
        events=events,
        clock=clock,
        rng=random.Random(7),
    )
