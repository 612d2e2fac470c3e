"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database, for every test.

PostgreSQL tests run only when ``PLAIT_TEST_DATABASE_URL`` names a server (``.ci/run`` sets
it, e.g. ``postgres://postgres@127.0.0.1:5432/postgres``); that URL is used to create a
database ``plait_test_<random>`` per test and to drop it afterwards, so tests never see each
other's rows and can run in any order.

Applying the migrations to an empty database takes Tortoise about half a second (it rebuilds
its model state once per table), so migrated databases are copied from a template migrated
once per session: a SQLite file copy, or PostgreSQL's ``CREATE DATABASE … TEMPLATE``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.database import migrate

TEST_DATABASE_ENV = "PLAIT_TEST_DATABASE_URL"
"""Names the PostgreSQL server to test against; unset, only SQLite is tested."""

_SQLITE_SCHEME = "sqlite://"


def database_backends() -> list[str]:
    """The backends to run database tests on: SQLite always, PostgreSQL when configured.

    Without the variable the PostgreSQL parameter does not exist at all, rather than being
    skipped, so a plain ``pytest`` run reports no skips.
    """
    return ["sqlite", "postgres"] if os.environ.get(TEST_DATABASE_ENV) else ["sqlite"]


def sqlite_url(directory: Path) -> str:
    """The URL of a SQLite database file in ``directory`` (created on first connection)."""
    return f"{_SQLITE_SCHEME}{directory}/plait.db"


def server_url() -> str:
    """The PostgreSQL server URL from the environment.

    Raises:
        KeyError: When ``PLAIT_TEST_DATABASE_URL`` is unset.
    """
    return os.environ[TEST_DATABASE_ENV]


def with_database(url: str, name: str) -> str:
    """``url`` with its database name replaced by ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class DatabaseFactory:
    """Makes each test's database, empty or already migrated.

    A migrated one is a copy of a template migrated once per backend and session (made in
    whichever test first needs it); ``close`` drops the PostgreSQL template at the end.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite_template: Path | None = None
        self._postgres_template: str | None = None

    @asynccontextmanager
    async def fresh(self, backend: str, directory: Path, *, migrated: bool) -> AsyncIterator[str]:
        """Yield the URL of a new database, dropped afterwards (a file in ``directory`` for
        SQLite, ``plait_test_<random>`` on the test server for PostgreSQL).

        Args:
            backend: ``sqlite`` or ``postgres``.
            directory: An existing directory for the SQLite file.
            migrated: Copy the migrated template instead of starting empty.
        """
        if backend == "sqlite":
            url = sqlite_url(directory)
            if migrated:
                shutil.copyfile(await self._sqlite_file(), _sqlite_path(url))
            yield url
            return
        name = f"plait_test_{secrets.token_hex(6)}"
        template = f' TEMPLATE "{await self._postgres_name()}"' if migrated else ""
        await _execute_on_server(server_url(), f'CREATE DATABASE "{name}"{template}')
        try:
            yield with_database(server_url(), name)
        finally:
            # FORCE (PostgreSQL 13+): a connection a failing test left open must not keep
            # the database alive.
            await _execute_on_server(server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop the PostgreSQL template, if one was made."""
        if self._postgres_template is not None:
            statement = f'DROP DATABASE IF EXISTS "{self._postgres_template}" WITH (FORCE)'
            asyncio.run(_execute_on_server(server_url(), statement))
            self._postgres_template = None

    async def _sqlite_file(self) -> Path:
        if self._sqlite_template is None:
            url = sqlite_url(self._directory)
            await migrate(url)
            path = _sqlite_path(url)
            # Fold the write-ahead log into the file, so that copying the file copies it all.
            with closing(sqlite3.connect(path)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite_template = path
        return self._sqlite_template

    async def _postgres_name(self) -> str:
        if self._postgres_template is None:
            name = f"plait_template_{secrets.token_hex(6)}"
            await _execute_on_server(server_url(), f'CREATE DATABASE "{name}"')
            await migrate(with_database(server_url(), name))
            self._postgres_template = name
        return self._postgres_template


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix(_SQLITE_SCHEME))


async def _execute_on_server(url: str, statement: str) -> None:
    # asyncpg understands postgres:// and postgresql:// DSNs, not Tortoise's asyncpg://.
    dsn = urlunsplit(urlsplit(url)._replace(scheme="postgresql"))
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
