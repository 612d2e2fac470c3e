"""Deleting, pruning and copying threads in the checkpoint tables.

The subtle part is blob garbage: a blob is shared by every checkpoint whose
`channel_versions` names it, so dropping checkpoints may delete only the blobs that no
remaining checkpoint of the namespace still reads. Each operation runs in one transaction
per thread; none of them should run on a thread while a run is writing to it (a checkpoint
saved meanwhile may read a blob that is being collected).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from shared.database.checkpointer._codec import BlobKey, load_payload, referenced_blobs
from shared.database.checkpointer._statements import chunked
from shared.database.models.checkpoints import CheckpointBlob, CheckpointRecord, CheckpointWrite

_COPY_PAGE = 500
"""Rows read and inserted at a time when copying a thread."""

_DELTA_METADATA_KEYS = ("counters_since_delta_snapshot", "delta_writes_versioned")
"""Metadata keys that mark a thread as using a `DeltaChannel` (see `keep_latest`)."""

_TABLES: tuple[type[Model], ...] = (CheckpointRecord, CheckpointBlob, CheckpointWrite)


async def delete_threads(thread_ids: Sequence[str]) -> None:
    """Delete every checkpoint, blob and write of the threads."""
    for model in _TABLES:
        for chunk in chunked(thread_ids):
            await model.filter(thread_id__in=chunk).delete()


async def delete_for_runs(serde: SerializerProtocol, run_ids: Sequence[str]) -> None:
    """Delete the checkpoints saved by the runs, with their writes and unshared blobs."""
    doomed: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for chunk in chunked(run_ids):
        rows = await CheckpointRecord.filter(run_id__in=chunk).values_list(
            "thread_id", "checkpoint_ns", "checkpoint_id"
        )
        for thread_id, checkpoint_ns, checkpoint_id in rows:
            doomed[(thread_id, checkpoint_ns)].add(checkpoint_id)
    for (thread_id, checkpoint_ns), checkpoint_ids in doomed.items():
        await _drop_checkpoints(serde, thread_id, checkpoint_ns, checkpoint_ids)


async def keep_latest(serde: SerializerProtocol, thread_id: str) -> None:
    """Keep only the newest checkpoint of each namespace of a thread.

    Follows the official PostgreSQL saver: the kept checkpoints keep their pending writes
    and lose their parent link; a subgraph call's namespace (`node:task_id`) whose root
    checkpoint is saved but not kept is deleted whole, since its state cannot be reached
    from the kept root any more. Threads using a `DeltaChannel` are refused: their values
    are rebuilt from the writes of ancestor checkpoints, which pruning would remove.

    Raises:
        NotImplementedError: If the thread uses a `DeltaChannel`.
    """
    records = await CheckpointRecord.filter(thread_id=thread_id).values(
        "checkpoint_ns", "checkpoint_id", "metadata"
    )
    if any(key in record["metadata"] for record in records for key in _DELTA_METADATA_KEYS):
        raise NotImplementedError(
            f"keep_latest can't prune threads that use a DeltaChannel: {thread_id}"
        )
    by_ns: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_ns[record["checkpoint_ns"]].append(record)
    heads = {ns: max(rows, key=lambda r: r["checkpoint_id"]) for ns, rows in by_ns.items()}
    root_ids = {record["checkpoint_id"] for record in by_ns.get("", [])}
    root_head = heads[""]["checkpoint_id"] if "" in heads else None
    for checkpoint_ns, head in heads.items():
        root = (head["metadata"].get("parents") or {}).get("")
        if ":" in checkpoint_ns and root in root_ids and root != root_head:
            await _delete_namespace(thread_id, checkpoint_ns)
            continue
        doomed = {r["checkpoint_id"] for r in by_ns[checkpoint_ns]} - {head["checkpoint_id"]}
        await _drop_checkpoints(serde, thread_id, checkpoint_ns, doomed)


async def copy_thread(source_thread_id: str, target_thread_id: str) -> None:
    """Copy every checkpoint, blob and write of a thread to another thread id.

    Rows the target already has (same keys) are left as they are.
    """
    for model in _TABLES:
        columns = [name for name in model._meta.fields_db_projection if name != "id"]
        last_id = 0
        while True:
            rows = (
                await model.filter(thread_id=source_thread_id, id__gt=last_id)
                .order_by("id")
                .limit(_COPY_PAGE)
                .values("id", *columns)
            )
            if not rows:
                break
            last_id = rows[-1]["id"]
            copies = [
                model(**{**{c: row[c] for c in columns}, "thread_id": target_thread_id})
                for row in rows
            ]
            await model.bulk_create(copies, ignore_conflicts=True)


async def set_repeatable_read(connection: BaseDBAsyncClient) -> None:
    """Make a PostgreSQL transaction read one snapshot, as a SQLite transaction does.

    Pruning reads a thread's checkpoints and then deletes by what it read; under
    PostgreSQL's default READ COMMITTED, a checkpoint committed between the two would be
    deleted unseen. Must be the first statement of the transaction.
    """
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


async def _drop_checkpoints(
    serde: SerializerProtocol, thread_id: str, checkpoint_ns: str, doomed: Collection[str]
) -> None:
    """Delete some checkpoints of a namespace, their writes and the blobs only they read.

    Kept checkpoints whose parent is deleted lose their parent link, so that no config
    points at a checkpoint that is gone.
    """
    if not doomed:
        return
    records = await CheckpointRecord.filter(
        thread_id=thread_id, checkpoint_ns=checkpoint_ns
    ).values("checkpoint_id", "type", "checkpoint")
    freed: set[BlobKey] = set()
    kept: set[BlobKey] = set()
    for record in records:
        blobs = referenced_blobs(load_payload(serde, record))
        (freed if record["checkpoint_id"] in doomed else kept).update(blobs)
    scope = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    doomed_ids = sorted(doomed)
    for chunk in chunked(doomed_ids):
        await CheckpointWrite.filter(**scope, checkpoint_id__in=chunk).delete()
        await CheckpointRecord.filter(**scope, checkpoint_id__in=chunk).delete()
        await CheckpointRecord.filter(**scope, parent_checkpoint_id__in=chunk).update(
            parent_checkpoint_id=None
        )
    garbage: defaultdict[str, list[str]] = defaultdict(list)
    for channel, version in freed - kept:
        garbage[channel].append(version)
    for channel, versions in garbage.items():
        for chunk in chunked(versions):
            await CheckpointBlob.filter(**scope, channel=channel, version__in=chunk).delete()


async def _delete_namespace(thread_id: str, checkpoint_ns: str) -> None:
    for model in _TABLES:
        await model.filter(thread_id=thread_id, checkpoint_ns=checkpoint_ns).delete()
