"""Connecting Tortoise to Plait's database and bringing its schema up to date.

One Tortoise app, ``plait``, holds every model module (``MODEL_MODULES``) on one connection,
``default``. Two backends are supported, with the same models and migrations:

- SQLite (``sqlite://<path>``), the embedded default. The file's directory is created when
  missing. Each connection sets WAL journaling (readers never wait for the writer),
  ``synchronous=NORMAL`` (safe with WAL: a power cut may lose the last commits, never corrupt
  the file), ``foreign_keys=ON`` (SQLite leaves them off by default) and a 5 s busy timeout
  (a second process waits for the write lock instead of failing at once). Pragmas given in
  the URL's query string win over these.
- PostgreSQL (``postgres://``, ``postgresql://`` or ``asyncpg://``) through asyncpg, with a
  connection pool bounded by ``pool_min``/``pool_max``.

The schema comes only from the migrations in ``shared.database.migrations``, never from
Tortoise's ``generate_schemas``: ``init_database`` applies pending migrations first (unless
told not to) and ``migrate`` does only that, for ``plait migrate``. Migrating holds a lock
(an advisory lock on PostgreSQL, a lock file beside a SQLite database), so that processes
starting together do not both try to create the same tables.

Tortoise binds the initialized ORM to the current ``contextvars`` context: tasks created
after ``init_database`` (LangGraph's node tasks among them) see it; tasks created before do
not.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext
from tortoise.exceptions import BaseORMException, ConfigurationError
from tortoise.migrations.executor import MigrationExecutor

from shared.database.errors import DatabaseConfigError, DatabaseUnavailableError

__all__ = [
    "APP_LABEL",
    "MIGRATIONS_MODULE",
    "MIGRATION_TOOL_CONFIG",
    "MODEL_MODULES",
    "close_database",
    "init_database",
    "migrate",
    "tortoise_config",
]

logger = logging.getLogger(__name__)

APP_LABEL = "plait"
"""The Tortoise app every Plait model belongs to (``Tortoise.apps["plait"]``)."""

CONNECTION_NAME = "default"

MODEL_MODULES: tuple[str, ...] = tuple(
    f"shared.database.models.{name}"
    for name in (
        "tenancy",
        "workflows",
        "runs",
        "secrets",
        "providers",
        "triggers",
        "agents",
        "checkpoints",
    )
)
"""Every module that defines models; a model outside these is unknown to Tortoise."""

MIGRATIONS_MODULE = "shared.database.migrations"

_SQLITE_ENGINE = "tortoise.backends.sqlite"
_POSTGRES_ENGINE = "tortoise.backends.asyncpg"
"""What ``postgres://``, ``postgresql://`` and ``asyncpg://`` URLs select."""

_SQLITE_PRAGMAS: dict[str, str | int] = {
    "busy_timeout": 5000,
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "foreign_keys": "ON",
}
"""Applied by Tortoise's SQLite client on each new connection (see the module docstring)."""

_MIGRATION_LOCK_ID = 0x706C_6169_745F_6D67
"""PostgreSQL advisory lock key held while migrating ("plait_mg" as bytes): any fixed 64-bit
number works as long as nothing else on the server uses it."""

_MIGRATION_POOL_MAX = 2
"""Migrating holds one pooled connection for the advisory lock and runs DDL on another."""


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release a pooled connection without asyncpg's session reset.

    The default reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) costs a
    round trip on every release, i.e. on every statement outside a transaction. Plait keeps no
    session state on pooled connections (the migration lock is unlocked explicitly, and the
    migrations run on a pool of their own that is closed afterwards), and
    asyncpg still rolls back a transaction left open before calling this.
    """


def tortoise_config(url: str, *, pool_min: int = 1, pool_max: int = 10) -> dict[str, Any]:
    """The Tortoise configuration for Plait's models on the database at ``url``.

    Args:
        url: ``sqlite://<path>`` or ``postgres://user:password@host:port/database``.
        pool_min: Connections a PostgreSQL pool keeps open (ignored for SQLite).
        pool_max: Most connections a PostgreSQL pool opens (ignored for SQLite).

    Returns:
        A dict for ``Tortoise.init(config=...)`` and Tortoise's migration tools.

    Raises:
        DatabaseConfigError: When the URL is malformed or names another kind of database.
    """
    try:
        connection = expand_db_url(url)
    except (ConfigurationError, ValueError) as exc:
        raise DatabaseConfigError(f"unusable database URL {display_url(url)}: {exc}") from exc
    credentials: dict[str, Any] = connection["credentials"]
    if connection["engine"] == _SQLITE_ENGINE:
        for pragma, value in _SQLITE_PRAGMAS.items():
            credentials.setdefault(pragma, value)
    elif connection["engine"] == _POSTGRES_ENGINE:
        credentials.setdefault("minsize", pool_min)
        credentials.setdefault("maxsize", pool_max)
        credentials.setdefault("reset", _keep_session)
    else:
        raise DatabaseConfigError(
            f"unsupported database {display_url(url)}: use a sqlite:// or postgres:// URL"
        )
    return {
        "connections": {CONNECTION_NAME: connection},
        "apps": {
            APP_LABEL: {
                "models": list(MODEL_MODULES),
                "default_connection": CONNECTION_NAME,
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


MIGRATION_TOOL_CONFIG = tortoise_config("sqlite://:memory:")
"""For Tortoise's own CLI (``tortoise -c shared.database.connection.MIGRATION_TOOL_CONFIG
makemigrations``): making migrations compares models with migration files and never opens
the database, so any URL will do."""


async def init_database(
    url: str,
    *,
    migrate: bool = True,
    create: bool = True,
    pool_min: int = 1,
    pool_max: int = 10,
) -> None:
    """Initialize Tortoise on ``url`` for this context, after applying pending migrations.

    Args:
        url: The database URL (see ``tortoise_config``).
        migrate: Apply pending migrations first. Turn off when they are applied separately
            (``plait migrate``), e.g. when several processes share one PostgreSQL server.
        pool_min: Connections a PostgreSQL pool keeps open.
        pool_max: Most connections a PostgreSQL pool opens.
        create: Create a SQLite file that does not exist yet. Off for commands that only
            make sense on an existing database (``plait runs resume``), so a mistyped path
            is an error rather than a new, empty database.

    Raises:
        DatabaseConfigError: When the URL is unusable.
        DatabaseUnavailableError: When the database cannot be reached or opened.
    """
    config = tortoise_config(url, pool_min=pool_min, pool_max=pool_max)
    _refuse_in_memory(config, url)
    path = _sqlite_file(config)
    if not create and path is not None and not path.exists():
        raise DatabaseUnavailableError(f"no database at {display_url(url)}")
    if migrate:
        await _apply_migrations(url)
    await _prepare_sqlite_file(config, url)
    # Tortoise caches each model's INSERT/UPDATE/DELETE SQL per connection *name*, across
    # inits: after SQLite, PostgreSQL would get statements with SQLite's placeholders.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config)
    try:
        await _check_reachable(Tortoise.get_connection(CONNECTION_NAME), url)
    except DatabaseUnavailableError:
        await Tortoise.close_connections()
        raise


async def close_database() -> None:
    """Close the connections ``init_database`` opened in this context."""
    await Tortoise.close_connections()


async def migrate(url: str) -> list[str]:
    """Apply the migrations the database at ``url`` has not had yet.

    Runs in a Tortoise context of its own, so it neither needs nor disturbs an initialized
    one.

    Args:
        url: The database URL (see ``tortoise_config``).

    Returns:
        The names of the migrations applied, in order; empty when the schema was current.

    Raises:
        DatabaseConfigError: When the URL is unusable.
        DatabaseUnavailableError: When the database cannot be reached or opened.
    """
    return await _apply_migrations(url)


async def _apply_migrations(url: str) -> list[str]:
    config = tortoise_config(url, pool_max=_MIGRATION_POOL_MAX)
    _refuse_in_memory(config, url)
    await _prepare_sqlite_file(config, url)
    applied: list[str] = []

    def on_progress(event: str, _app_label: str, name: str) -> None:
        if event == "apply_done":
            logger.info("applied migration %s", name)
            applied.append(name)

    async with TortoiseContext() as context:
        await context.init(config=config)
        client = context.db(CONNECTION_NAME)
        # SQLite opens its connection (and switches the file to WAL) on the first query,
        # which fails at once, busy timeout or not, while another migrator writes: there the
        # first query waits for the lock file. PostgreSQL needs the connection for its lock.
        on_sqlite = _sqlite_file(config) is not None
        if not on_sqlite:
            await _check_reachable(client, url)
        async with _migration_lock(client, config):
            if on_sqlite:
                await _check_reachable(client, url)
            executor = MigrationExecutor(client, {APP_LABEL: config["apps"][APP_LABEL]})
            await executor.migrate(progress=on_progress)
    return applied


@asynccontextmanager
async def _migration_lock(client: BaseDBAsyncClient, config: dict[str, Any]) -> AsyncIterator[None]:
    """Let one migrator at a time, across processes, check and apply migrations.

    PostgreSQL: a session advisory lock, held on a pooled connection of its own. SQLite: an
    exclusive ``flock`` on ``<database file>.migrate-lock`` beside the database (taken in a
    thread, since waiting for it blocks).
    """
    if client.capabilities.dialect == "postgres":
        async with client.acquire_connection() as connection:
            await connection.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
            try:
                yield
            finally:
                await connection.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
        return
    path = _sqlite_file(config)
    if path is None:
        yield
        return
    lock_file = await asyncio.to_thread(Path(f"{path}.migrate-lock").open, "a")
    try:
        await asyncio.to_thread(fcntl.flock, lock_file.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        lock_file.close()  # releases the lock


async def _check_reachable(client: BaseDBAsyncClient, url: str) -> None:
    """Open a connection now, so that a wrong URL fails here with one clear message."""
    try:
        await client.execute_query("SELECT 1")
    except (OSError, BaseORMException, asyncpg.PostgresError, sqlite3.Error) as exc:
        raise DatabaseUnavailableError(
            f"cannot connect to the database {display_url(url)}: {_reason(exc)}"
        ) from exc


async def _prepare_sqlite_file(config: dict[str, Any], url: str) -> None:
    """Create the SQLite file's directory, and check that the file opens.

    Opening it once with the ``sqlite3`` module first turns a file that cannot be opened
    into one clear error; through aiosqlite, a failed open leaves its worker thread to report
    the failure later, possibly after the event loop has closed.
    """
    path = _sqlite_file(config)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailableError(
            f"cannot create the directory of the database {display_url(url)}: {_reason(exc)}"
        ) from exc
    try:
        await asyncio.to_thread(_open_and_close, path)
    except sqlite3.Error as exc:
        raise DatabaseUnavailableError(
            f"cannot open the database {display_url(url)}: {_reason(exc)}"
        ) from exc


def _open_and_close(path: Path) -> None:
    sqlite3.connect(path).close()


def _refuse_in_memory(config: dict[str, Any], url: str) -> None:
    """An in-memory SQLite database lives in one connection: the migrations would build their
    tables in another, and the application would find none."""
    connection = config["connections"][CONNECTION_NAME]
    if connection["engine"] == _SQLITE_ENGINE and _sqlite_file(config) is None:
        raise DatabaseConfigError(
            f"{display_url(url)} is an in-memory database, which Plait cannot migrate and "
            "use: give a file, e.g. sqlite://.plait/plait.db"
        )


def _sqlite_file(config: dict[str, Any]) -> Path | None:
    """The database file of a SQLite configuration; None for PostgreSQL and in-memory SQLite."""
    connection = config["connections"][CONNECTION_NAME]
    if connection["engine"] != _SQLITE_ENGINE:
        return None
    path = str(connection["credentials"]["file_path"])
    if path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def display_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return url
    if not password:
        return url
    return url.replace(f":{password}@", ":***@", 1)


def _reason(exc: BaseException) -> str:
    """The innermost useful text of a driver error, on one line."""
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
