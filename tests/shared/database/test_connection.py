"""Configuring Tortoise for SQLite and PostgreSQL, connecting, and failing clearly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from shared.database import (
    DatabaseConfigError,
    DatabaseUnavailableError,
    close_database,
    init_database,
    migrate,
    tortoise_config,
)
from shared.database.connection import APP_LABEL, MODEL_MODULES, _keep_session
from shared.database.models import Tenant, Workflow
from tests.support.database import sqlite_url

UNREACHABLE_POSTGRES = "postgres://plait:s3cret-pw@127.0.0.1:1/plait"
"""Port 1 on the loopback interface: nothing listens there, so connecting fails at once."""


async def _pragma(name: str) -> object:
    _, rows = await Tortoise.get_connection("default").execute_query(f"PRAGMA {name}")
    return rows[0][0]


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Path]:
    """Tortoise on a migrated SQLite file in a directory that does not exist yet."""
    directory = tmp_path / "data" / "dir"
    await init_database(sqlite_url(directory))
    try:
        yield directory
    finally:
        await close_database()


class TestTortoiseConfig:
    def test_every_model_module_is_registered_under_one_app(self) -> None:
        config = tortoise_config("sqlite:///tmp/plait.db")

        app = config["apps"][APP_LABEL]
        assert app["models"] == list(MODEL_MODULES)
        assert app["migrations"] == "shared.database.migrations"
        assert config["use_tz"] is True

    def test_sqlite_gets_wal_and_its_other_pragmas(self) -> None:
        credentials = tortoise_config("sqlite:///tmp/plait.db")["connections"]["default"][
            "credentials"
        ]

        assert credentials["file_path"] == "/tmp/plait.db"
        assert credentials["journal_mode"] == "WAL"
        assert credentials["synchronous"] == "NORMAL"
        assert credentials["foreign_keys"] == "ON"
        assert credentials["busy_timeout"] == 5000

    def test_a_pragma_in_the_url_wins(self) -> None:
        credentials = tortoise_config("sqlite:///tmp/plait.db?synchronous=FULL")["connections"][
            "default"
        ]["credentials"]

        assert credentials["synchronous"] == "FULL"

    @pytest.mark.parametrize("scheme", ["postgres", "postgresql", "asyncpg"])
    def test_postgres_goes_through_asyncpg_with_the_pool_sizes(self, scheme: str) -> None:
        connection = tortoise_config(
            f"{scheme}://plait:pw@db.internal:6543/plait", pool_min=2, pool_max=7
        )["connections"]["default"]

        credentials = connection["credentials"]
        assert connection["engine"] == "tortoise.backends.asyncpg"
        assert (credentials["host"], credentials["port"], credentials["database"]) == (
            "db.internal",
            6543,
            "plait",
        )
        assert (credentials["user"], credentials["password"]) == ("plait", "pw")
        assert (credentials["minsize"], credentials["maxsize"]) == (2, 7)
        assert credentials["reset"] is _keep_session, "no session reset round trip per release"

    @pytest.mark.parametrize(
        "url", ["mysql://root:hidden-pw@localhost/plait", "oracle://x@y/z", "nosuch://x"]
    )
    def test_other_databases_are_refused_without_showing_the_password(self, url: str) -> None:
        with pytest.raises(DatabaseConfigError) as caught:
            tortoise_config(url)

        assert "hidden-pw" not in caught.value.message


class TestInitDatabase:
    async def test_a_migrated_database_stores_and_reads_rows(self, database: str) -> None:
        tenant = await Tenant.create(name="Acme")

        assert (await Tenant.get(id=tenant.id)).name == "Acme"

    async def test_foreign_keys_are_enforced(self, database: str) -> None:
        with pytest.raises(IntegrityError):
            await Workflow.create(tenant_id="ten_does_not_exist", name="orphan")

    async def test_sqlite_runs_in_wal_mode_with_its_pragmas(self, sqlite_database: Path) -> None:
        assert await _pragma("journal_mode") == "wal"
        assert await _pragma("synchronous") == 1  # NORMAL
        assert await _pragma("foreign_keys") == 1
        assert await _pragma("busy_timeout") == 5000

    async def test_the_sqlite_directory_is_created(self, sqlite_database: Path) -> None:
        assert (sqlite_database / "plait.db").is_file()

    async def test_without_migrate_the_schema_is_left_alone(self, tmp_path: Path) -> None:
        url = sqlite_url(tmp_path)
        await init_database(url, migrate=False)
        await close_database()

        assert await migrate(url) == [
            "0001_initial",
            "0002_model_providers",
            "0003_pending_actions",
        ]

    @pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite://file:x?mode=memory"])
    async def test_an_in_memory_sqlite_database_is_refused(self, url: str) -> None:
        with pytest.raises(DatabaseConfigError, match="in-memory database"):
            await init_database(url)
        with pytest.raises(DatabaseConfigError, match="in-memory database"):
            await migrate(url)

    async def test_an_unreachable_server_is_one_clear_error(self) -> None:
        with pytest.raises(DatabaseUnavailableError) as caught:
            await init_database(UNREACHABLE_POSTGRES, migrate=False)

        message = caught.value.message
        assert message.startswith("cannot connect to the database postgres://plait:***@")
        assert "s3cret-pw" not in message
        assert "\n" not in message

    async def test_a_sqlite_file_that_cannot_be_opened_is_one_clear_error(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "plait.db").mkdir()  # a directory where the file should be

        with pytest.raises(DatabaseUnavailableError, match="cannot open the database sqlite://"):
            await init_database(sqlite_url(tmp_path), migrate=False)

    async def test_a_data_dir_that_cannot_be_created_is_one_clear_error(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "file").write_text("not a directory")

        with pytest.raises(DatabaseUnavailableError, match="cannot create the directory"):
            await init_database(sqlite_url(tmp_path / "file" / "data"))
