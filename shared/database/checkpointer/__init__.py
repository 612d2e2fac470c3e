"""LangGraph's checkpointer on Plait's database: `TortoiseSaver` and `open_saver`.

Key contracts:

- Channel values are stored per (thread, namespace, channel, version): a checkpoint stores
  only the channels in `new_versions`, and reads the others through its
  `channel_versions`. Storage therefore grows with what changed, not with the whole state at
  every step.
- `aput` writes the blobs before the checkpoint (in one statement on PostgreSQL), so a
  checkpoint is never visible without its values; `aput_writes` is idempotent per
  (task, index), the special error/interrupt/scheduled/resume writes replacing the stored
  ones, and a task's writes land together.
- Async only: the synchronous methods raise `NotImplementedError`.
- Tortoise must be initialized in the current context (`open_saver` does it, or
  `shared.database.connection.init_database`); the saver holds no connection itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.serde.base import SerializerProtocol

from shared.database.checkpointer.saver import TortoiseSaver
from shared.database.connection import close_database, init_database

__all__ = ["TortoiseSaver", "open_saver"]


@asynccontextmanager
async def open_saver(
    database_url: str, *, serde: SerializerProtocol | None = None
) -> AsyncIterator[TortoiseSaver]:
    """Open the database at `database_url` and yield a saver on it.

    Initializes Tortoise for the URL in the current context (applying pending migrations
    first) and closes its connections on exit. For tests, benchmarks and tools that own the
    whole database session; the API and workers initialize the database once and build a
    `TortoiseSaver` directly.

    Args:
        database_url: `sqlite://<path>` or `postgres://...`.
        serde: The serializer for the saver (LangGraph's default when omitted).

    Yields:
        A ready `TortoiseSaver`.

    Raises:
        DatabaseConfigError: When the URL is unusable.
        DatabaseUnavailableError: When the database cannot be reached or opened.
    """
    await init_database(database_url, migrate=True)
    try:
        yield TortoiseSaver(serde=serde)
    finally:
        await close_database()
