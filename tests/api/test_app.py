"""The app factory: lifespan, /v1/health, and the database behind it going away."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from tortoise import Tortoise

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from shared.config import Settings
from shared.crypto import SecretKeysError, new_key
from shared.database import DatabaseUnavailableError
from shared.database.models import Tenant
from tests.support.secrets import make_box, store_secret


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan around an httpx client talking to it in process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def client(database: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=database, migrate_on_start=False))
    async with serving(app) as client:
        yield client


def _replace_with_directory(path: Path) -> None:
    """Delete a SQLite database (and its WAL files) and put a directory in its place, which
    SQLite cannot open: a real unreachable database, not a mocked one."""
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()
    path.mkdir()


class TestCreateApp:
    def test_settings_are_kept_on_the_app(self) -> None:
        settings = Settings(database_url="sqlite:///tmp/never-opened.db")
        assert create_app(settings).state.settings is settings

    async def test_lifespan_migrates_a_fresh_database(self, tmp_path: Path) -> None:
        url = f"sqlite://{tmp_path}/fresh.db"
        app = create_app(Settings(database_url=url, migrate_on_start=True))
        async with serving(app) as client:
            response = await client.get("/v1/health")
        assert response.status_code == 200
        with sqlite3.connect(tmp_path / "fresh.db") as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        assert {"tenants", "api_keys"} <= tables

    async def test_startup_fails_when_the_database_is_unreachable(self) -> None:
        url = "postgres://plait:secret@127.0.0.1:1/plait"
        app = create_app(Settings(database_url=url, migrate_on_start=False))
        with pytest.raises(DatabaseUnavailableError) as raised:
            async with app.router.lifespan_context(app):
                pass
        assert "secret" not in str(raised.value)

    async def test_startup_fails_clearly_when_the_keys_cannot_read_the_secrets(
        self, database: str
    ) -> None:
        tenant = await Tenant.create(name="acme")
        await store_secret(tenant.id, "TOKEN", "v-1", box=make_box())
        other_key = SecretStr(new_key())
        app = create_app(
            Settings(database_url=database, migrate_on_start=False, secret_keys=other_key)
        )

        with pytest.raises(SecretKeysError) as raised:
            async with app.router.lifespan_context(app):
                pass

        assert "PLAIT_SECRET_KEYS" in str(raised.value)
        assert other_key.get_secret_value() not in str(raised.value)

    async def test_openapi_lists_the_health_route(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert "/v1/health" in response.json()["paths"]


class TestHealth:
    async def test_ok_with_a_working_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}

    async def test_503_when_the_database_goes_away(self, tmp_path: Path) -> None:
        path = tmp_path / "plait.db"
        app = create_app(Settings(database_url=f"sqlite://{path}", migrate_on_start=True))
        async with serving(app) as client:
            assert (await client.get("/v1/health")).status_code == 200
            await Tortoise.get_connection("default").close()
            _replace_with_directory(path)

            response = await client.get("/v1/health")

        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.headers["retry-after"] == "1"
        body = response.json()
        assert body["type"] == PROBLEM_TYPE_BASE + "database_unavailable"
        assert body["status"] == 503
