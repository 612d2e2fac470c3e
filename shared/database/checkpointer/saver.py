"""`TortoiseSaver`: a LangGraph checkpointer on the project's own database (Tortoise ORM).

The same code runs on SQLite (the embedded default) and PostgreSQL. Layout and semantics
follow the official PostgreSQL saver (see `shared.database.models.checkpoints`): a
checkpoint row without its values, one blob per (channel, version) written only when the
channel changed, and the pending writes of each task.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, NoReturn

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from shared.database.checkpointer import _codec, _maintenance, _reading, _statements
from shared.database.models.checkpoints import CheckpointRecord

_LIST_PAGE = 100
"""Checkpoints read per query while listing; bounds memory on long histories."""

_PRUNE_STRATEGIES = ("keep_latest", "delete")


class TortoiseSaver(BaseCheckpointSaver[str]):
    """Checkpointer that stores LangGraph checkpoints in the Plait database.

    Tortoise must be initialized (`shared.database.connection.init_database`, or use
    `open_saver`) before the saver is used; the saver holds no connection itself, so one
    instance can be shared by every run of the process.

    The saver is async-only: use `aget_tuple`, `alist`, `aput`, `aput_writes`, ... and run
    graphs with `ainvoke`/`astream`. The synchronous methods raise `NotImplementedError`
    (see `get_tuple`).

    Args:
        serde: The serializer of checkpoints, values and writes; LangGraph's
            `JsonPlusSerializer` by default.
    """

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)

    # -- reading --------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Fetch one checkpoint with its channel values and pending writes.

        Args:
            config: `thread_id`, optional `checkpoint_ns` (default root) and optional
                `checkpoint_id` (default: the newest checkpoint of the namespace).

        Returns:
            The checkpoint tuple, or `None` if there is no such checkpoint.
        """
        configurable = config["configurable"]
        query = CheckpointRecord.filter(
            thread_id=str(configurable["thread_id"]),
            checkpoint_ns=configurable.get("checkpoint_ns", ""),
        )
        if checkpoint_id := get_checkpoint_id(config):
            query = query.filter(checkpoint_id=checkpoint_id)
        else:
            query = query.order_by("-checkpoint_id").limit(1)
        records = await query.values(*_codec.RECORD_FIELDS)
        if not records:
            return None
        (loaded,) = await _reading.load_tuples(self.serde, records)
        return loaded

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """List checkpoints, newest first (by checkpoint id).

        Args:
            config: `thread_id` and optionally `checkpoint_ns` / `checkpoint_id` to narrow
                the listing; `None` lists the checkpoints of every thread.
            filter: Metadata that listed checkpoints must have: each key must be present
                with an equal value.
            before: Only checkpoints older than this config's `checkpoint_id`.
            limit: The most checkpoints to return.

        Yields:
            Checkpoint tuples with their channel values and pending writes.
        """
        if limit is not None and limit <= 0:
            return
        query = _reading.list_query(config, filter, before)
        wanted = dict(filter or {})
        remaining = limit
        page_size = min(limit, _LIST_PAGE) if limit is not None and not wanted else _LIST_PAGE
        cursor: tuple[str, int] | None = None
        while True:
            page = query
            if cursor is not None:
                page = page.filter(
                    Q(checkpoint_id__lt=cursor[0]) | Q(checkpoint_id=cursor[0], id__lt=cursor[1])
                )
            records = (
                await page.order_by("-checkpoint_id", "-id")
                .limit(page_size)
                .values(*_codec.RECORD_FIELDS)
            )
            matching = [r for r in records if _reading.metadata_matches(r["metadata"], wanted)]
            if remaining is not None:
                matching = matching[:remaining]
                remaining -= len(matching)
            for loaded in await _reading.load_tuples(self.serde, matching):
                yield loaded
            if len(records) < page_size or remaining == 0:
                return
            cursor = (records[-1]["checkpoint_id"], records[-1]["id"])

    # -- writing --------------------------------------------------------------------

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of the channels that changed.

        Only the channels in `new_versions` get a blob; the others are read, when the
        checkpoint is loaded, from the blob their unchanged version already has.

        The blobs are written before the checkpoint, so a checkpoint is never visible
        without its values. On PostgreSQL both go in one statement, atomically. On SQLite
        they are two statements without a transaction: SQLite's driver runs each statement
        in a worker thread, and a transaction (BEGIN, the inserts, COMMIT) would double the
        thread round trips of the hottest call a run makes. A crash between the two leaves
        only blobs that no checkpoint reads; they go when the thread is deleted.

        Args:
            config: The thread, namespace and (as `checkpoint_id`) the parent checkpoint.
            checkpoint: The checkpoint to store.
            metadata: Its metadata; keys from the config's metadata are merged in.
            new_versions: The channel versions created since the parent checkpoint.

        Returns:
            The config addressing the stored checkpoint.
        """
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = configurable.get("checkpoint_ns", "")
        blobs = _codec.blob_values(
            self.serde,
            thread_id=thread_id,
            checkpoint_ns=checkpoint_ns,
            values=checkpoint["channel_values"],
            new_versions=new_versions,
        )
        record = _codec.record_values(
            self.serde,
            thread_id=thread_id,
            checkpoint_ns=checkpoint_ns,
            parent_checkpoint_id=configurable.get("checkpoint_id"),
            checkpoint=checkpoint,
            metadata=get_serializable_checkpoint_metadata(config, metadata),
        )
        client = self._client()
        if _statements.combines_statements(client) and len(blobs) <= _statements.MAX_ROWS:
            sql = _statements.put_checkpoint(client, len(blobs))
            await client.execute_query(sql, [*_statements.flatten(blobs), *record])
        else:
            for chunk in _statements.chunked(blobs, _statements.MAX_ROWS):
                sql = _statements.insert_blobs(client, len(chunk))
                await client.execute_query(sql, _statements.flatten(chunk))
            await client.execute_query(_statements.upsert_record(client), record)
        return _codec.config_of(thread_id, checkpoint_ns, checkpoint["id"])

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes against a checkpoint, idempotently.

        Saving the same (task, index) again keeps the first write, so a task retried after
        a crash does not duplicate its output. When every write is to a special channel
        (error, interrupt, scheduled, resume), the writes replace the stored ones instead:
        a task's latest error or interrupt is the one that counts. This is the official
        savers' rule.

        Args:
            config: Addresses the checkpoint the writes belong to.
            writes: (channel, value) pairs.
            task_id: The task that produced the writes.
            task_path: The task's path, which orders a superstep's writes.
        """
        if not writes:
            return
        configurable = config["configurable"]
        rows = _codec.write_values(
            self.serde,
            thread_id=str(configurable["thread_id"]),
            checkpoint_ns=configurable.get("checkpoint_ns", ""),
            checkpoint_id=configurable["checkpoint_id"],
            task_id=task_id,
            task_path=task_path,
            writes=writes,
        )
        replace = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        client = self._client()
        if len(rows) <= _statements.MAX_ROWS:
            await client.execute_query(
                _statements.insert_writes(client, len(rows), replace=replace),
                _statements.flatten(rows),
            )
            return
        # A task's writes land together: LangGraph takes a task with writes as done.
        async with self._transaction() as transaction:
            for chunk in _statements.chunked(rows, _statements.MAX_ROWS):
                sql = _statements.insert_writes(transaction, len(chunk), replace=replace)
                await transaction.execute_query(sql, _statements.flatten(chunk))

    def get_next_version(self, current: str | None, channel: None) -> str:
        """The version after `current`, as the official savers make it.

        A zero-padded counter (so versions sort as strings) and a random fraction, which
        keeps versions created concurrently for the same channel distinct.
        """
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # -- deleting and copying -------------------------------------------------------

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and pending write of a thread.

        Args:
            thread_id: The thread to delete; a thread that does not exist is no error.
        """
        async with self._transaction():
            await _maintenance.delete_threads([str(thread_id)])

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints saved by the given runs (`metadata["run_id"]`).

        Their pending writes go with them, and so do the blobs no remaining checkpoint
        reads. Checkpoints whose parent is deleted lose their parent link.

        Args:
            run_ids: LangGraph run ids; unknown ids are ignored.
        """
        if not run_ids:
            return
        async with self._transaction():
            await _maintenance.delete_for_runs(self.serde, [str(r) for r in run_ids])

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread's whole history (checkpoints, blobs and writes) to another thread.

        Args:
            source_thread_id: The thread to copy; copying a missing thread copies nothing.
            target_thread_id: The thread to copy to.
        """
        async with self._transaction():
            await _maintenance.copy_thread(str(source_thread_id), str(target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune the checkpoints of threads.

        Args:
            thread_ids: The threads to prune.
            strategy: `"keep_latest"` keeps the newest checkpoint of each namespace (see
                `_maintenance.keep_latest`); `"delete"` deletes the threads.

        Raises:
            TypeError: If `thread_ids` is a single string.
            ValueError: If `strategy` is unknown.
            NotImplementedError: If `strategy` is `"keep_latest"` and a thread uses a
                `DeltaChannel`.
        """
        if isinstance(thread_ids, str):
            raise TypeError("thread_ids must be a sequence of thread IDs, not a str")
        if strategy not in _PRUNE_STRATEGIES:
            raise ValueError(f"Unknown prune strategy: {strategy!r}")
        ids = [str(t) for t in thread_ids]
        if strategy == "delete":
            async with self._transaction():
                await _maintenance.delete_threads(ids)
            return
        for thread_id in ids:
            async with self._transaction() as connection:
                await _maintenance.set_repeatable_read(connection)
                await _maintenance.keep_latest(self.serde, thread_id)

    # -- the synchronous API --------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Not supported: use `aget_tuple`.

        Tortoise's connections belong to the event loop that opened them, and Plait runs
        graphs only with `ainvoke`/`astream`. A blocking bridge (as the official async
        savers have) would deadlock when called from that loop's thread and is never
        needed, so every synchronous method raises instead.

        Raises:
            NotImplementedError: Always.
        """
        _async_only("aget_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Not supported: use `alist` (see `get_tuple`)."""
        _async_only("alist")

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Not supported: use `aput` (see `get_tuple`)."""
        _async_only("aput")

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Not supported: use `aput_writes` (see `get_tuple`)."""
        _async_only("aput_writes")

    def delete_thread(self, thread_id: str) -> None:
        """Not supported: use `adelete_thread` (see `get_tuple`)."""
        _async_only("adelete_thread")

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Not supported: use `adelete_for_runs` (see `get_tuple`)."""
        _async_only("adelete_for_runs")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Not supported: use `acopy_thread` (see `get_tuple`)."""
        _async_only("acopy_thread")

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Not supported: use `aprune` (see `get_tuple`)."""
        _async_only("aprune")

    # -- helpers --------------------------------------------------------------------

    def _transaction(self) -> TransactionContext:
        return in_transaction(CheckpointRecord._meta.default_connection)

    @staticmethod
    def _client() -> BaseDBAsyncClient:
        """The connection of the checkpoint tables (a transaction's, inside one)."""
        return CheckpointRecord._meta.db


def _async_only(method: str) -> NoReturn:
    raise NotImplementedError(
        f"TortoiseSaver is async-only: use `await saver.{method}(...)` and run graphs with "
        "`ainvoke`/`astream` (Tortoise connections belong to their event loop)."
    )
