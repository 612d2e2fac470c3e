"""Fixtures shared by the whole suite: a virtual clock, runtime services, test databases, a
fresh compile cache, and the scriptable ``probe`` tool."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clock import FakeClock
from tests.support.database import DatabaseFactory, database_backends
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import CollectingSink
from workflow_compiler.lowering import clear_cache
from workflow_compiler.registries.models import StaticModelProviders
from workflow_compiler.secrets import MappingSecrets

TEST_OPENAI_BASE_URL = "https://llm.test/v1"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings made without a data dir keep their files (the key file above all) in the
    test's own directory, never in the checkout's ``.plait``."""
    monkeypatch.setenv("PLAIT_DATA_DIR", str(tmp_path / "plait-data"))


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


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """Makes per-test databases; holds the migrated templates for the whole session."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("migrated-template"))
    yield factory
    factory.close()


@pytest.fixture(params=database_backends())
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, database_factory: DatabaseFactory
) -> AsyncIterator[str]:
    """The URL of a database of this test's own: a SQLite file in ``tmp_path``, or (only when
    PLAIT_TEST_DATABASE_URL is set) a PostgreSQL database created for it and dropped after.

    Empty, unless the test also uses ``database``: then it is created already migrated, as a
    copy of a template migrated once per session, which is much faster than migrating.
    """
    migrated = "database" in request.fixturenames
    async with database_factory.fresh(request.param, tmp_path, migrated=migrated) as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    """Tortoise initialized on ``database_url`` with every migration applied; yields the URL."""
    from shared.database import close_database, init_database

    await init_database(database_url)
    try:
        yield database_url
    finally:
        await close_database()


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
