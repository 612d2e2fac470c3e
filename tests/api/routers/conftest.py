"""Fixtures of the route tests: an app on the test's database with a scriptable ``probe``
tool, a client talking to it in-process, a tenant and keys of every role, and a stranger (an
admin of another tenant)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.services import create_api_key
from shared.config import Settings
from shared.database.models import Role, Tenant
from tests.support.api import bearer
from tests.workflow_compiler.lowering.conftest import ProbeTool
from workflow_compiler.registries.builtin import default_tool_registry

KEY_CREATED_AT = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def probe() -> ProbeTool:
    """The ``probe`` tool of the app's registry; the key ``bad`` fails."""
    tool = ProbeTool()
    tool.broken.add("bad")
    return tool


@pytest.fixture
async def app(database: str, probe: ProbeTool, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(database_url=database, migrate_on_start=False, data_dir=tmp_path)
    app = create_app(settings)
    tools = default_tool_registry(load_plugins=False)
    tools.register(probe)
    app.state.tools = tools
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> Tenant:
    return await Tenant.create(name="acme")


async def key_headers(tenant: Tenant, role: Role) -> dict[str, str]:
    """Headers with a new key of ``role`` in ``tenant``."""
    _, plaintext = await create_api_key(tenant, role, name=str(role), at=KEY_CREATED_AT)
    return bearer(plaintext)


@pytest.fixture
async def admin(tenant: Tenant) -> dict[str, str]:
    return await key_headers(tenant, Role.ADMIN)


@pytest.fixture
async def operator(tenant: Tenant) -> dict[str, str]:
    return await key_headers(tenant, Role.OPERATOR)


@pytest.fixture
async def viewer(tenant: Tenant) -> dict[str, str]:
    return await key_headers(tenant, Role.VIEWER)


@pytest.fixture
async def stranger(client: httpx.AsyncClient) -> dict[str, str]:
    """An admin of another tenant."""
    return await key_headers(await Tenant.create(name="other"), Role.ADMIN)
