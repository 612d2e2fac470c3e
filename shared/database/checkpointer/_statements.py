"""The SQL of the saver's writes, built with Tortoise's query builder and cached.

A run saves a checkpoint and a task's writes at every superstep, so these inserts are the
saver's hot path. Building them through model instances and `bulk_create` costs more than
the database round trip; instead each statement is built once per dialect and row count
with the same builder Tortoise uses (`client.query_class`, which renders placeholders and
`ON CONFLICT` clauses for SQLite and PostgreSQL alike) and run with the client's
`execute_query`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from pypika_tortoise import Query, Table
from pypika_tortoise.queries import QueryBuilder
from pypika_tortoise.terms import Parameter
from tortoise.backends.base.client import BaseDBAsyncClient

from shared.database.checkpointer._codec import BLOB_COLUMNS, RECORD_COLUMNS, WRITE_COLUMNS
from shared.database.models.checkpoints import CheckpointBlob, CheckpointRecord, CheckpointWrite

MAX_ROWS = 200
"""Most rows one statement inserts: keeps the parameter count far below SQLite's and
asyncpg's limits (32766 and 32767) and the cache of built statements small."""

IN_CHUNK = 500
"""Most values one `IN (...)` filter lists, for the same parameter limits."""

_T = TypeVar("_T")

_BLOBS = Table(CheckpointBlob._meta.db_table)
_RECORDS = Table(CheckpointRecord._meta.db_table)
_WRITES = Table(CheckpointWrite._meta.db_table)

_RECORD_KEY = ("thread_id", "checkpoint_ns", "checkpoint_id")
_WRITE_KEY = ("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx")
_RECORD_UPDATES = ("type", "checkpoint", "metadata", "run_id")
_WRITE_UPDATES = ("channel", "type", "blob")


def chunked(items: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """`items` in slices of at most `size`, for multi-row inserts and `IN (...)` filters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def flatten(rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The values of rows in one list, as a multi-row insert takes its parameters."""
    return [value for row in rows for value in row]


def combines_statements(client: BaseDBAsyncClient) -> bool:
    """Whether the database runs several inserts as one statement (`put_checkpoint`).

    PostgreSQL does, with data-modifying `WITH` clauses; SQLite does not.
    """
    return client.capabilities.dialect == "postgres"


def insert_blobs(client: BaseDBAsyncClient, rows: int) -> str:
    """Insert `rows` blobs (`BLOB_COLUMNS` each); a blob that exists is kept as it is."""
    return _insert_blobs(client.query_class, rows, 1)


def upsert_record(client: BaseDBAsyncClient) -> str:
    """Insert a checkpoint (`RECORD_COLUMNS`), replacing one with the same id."""
    return _upsert_record(client.query_class, 1)


def put_checkpoint(client: BaseDBAsyncClient, blobs: int) -> str:
    """`insert_blobs` then `upsert_record` as one statement, atomic without a transaction.

    Parameters: the blob rows' values, then the record's. Only where
    `combines_statements(client)`.
    """
    return _put_checkpoint(client.query_class, blobs)


def insert_writes(client: BaseDBAsyncClient, rows: int, *, replace: bool) -> str:
    """Insert `rows` writes (`WRITE_COLUMNS` each).

    Args:
        client: The connection the statement is for.
        rows: How many writes.
        replace: Replace a stored write with the same (task, index); otherwise keep it.
    """
    return _insert_writes(client.query_class, rows, replace)


@lru_cache(maxsize=128)
def _insert_blobs(query_class: type[Query], rows: int, first: int) -> str:
    query = _values(query_class.into(_BLOBS).columns(*BLOB_COLUMNS), len(BLOB_COLUMNS), rows, first)
    return query.on_conflict().do_nothing().get_sql()


@lru_cache(maxsize=8)
def _upsert_record(query_class: type[Query], first: int) -> str:
    query = _values(
        query_class.into(_RECORDS).columns(*RECORD_COLUMNS), len(RECORD_COLUMNS), 1, first
    ).on_conflict(*_RECORD_KEY)
    for column in _RECORD_UPDATES:
        query = query.do_update(column)
    return query.get_sql()


@lru_cache(maxsize=128)
def _put_checkpoint(query_class: type[Query], blobs: int) -> str:
    record = _upsert_record(query_class, blobs * len(BLOB_COLUMNS) + 1)
    if not blobs:
        return record
    return f"WITH new_blobs AS ({_insert_blobs(query_class, blobs, 1)}) {record}"


@lru_cache(maxsize=128)
def _insert_writes(query_class: type[Query], rows: int, replace: bool) -> str:
    query = _values(query_class.into(_WRITES).columns(*WRITE_COLUMNS), len(WRITE_COLUMNS), rows, 1)
    if not replace:
        return query.on_conflict().do_nothing().get_sql()
    query = query.on_conflict(*_WRITE_KEY)
    for column in _WRITE_UPDATES:
        query = query.do_update(column)
    return query.get_sql()


def _values(query: QueryBuilder, columns: int, rows: int, first: int) -> QueryBuilder:
    """Add `rows` rows of placeholders numbered from `first` to an insert."""
    for row in range(rows):
        start = first + row * columns
        query = query.insert(*(Parameter(idx=start + i) for i in range(columns)))
    return query
