"""Conversion between LangGraph checkpoints and the rows of the checkpoint tables.

Pure functions over the saver's serializer: no database access, so the saver's queries and
the maintenance operations (prune, copy, delete by run) share one definition of what a row
holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeAlias

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from tortoise import timezone

from shared.database.models.checkpoints import CheckpointRecord

RECORD_FIELDS = (
    "id",
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "type",
    "checkpoint",
    "metadata",
)
"""The `CheckpointRecord` columns a read needs (`QuerySet.values(*RECORD_FIELDS)`)."""

WRITE_FIELDS = ("checkpoint_id", "task_id", "task_path", "idx", "channel", "type", "blob")
"""The `CheckpointWrite` columns a read needs, in the order `StoredWrite` holds them."""

BlobKey: TypeAlias = tuple[str, str]
"""(channel, version as a string): the key of a blob within a thread and namespace."""


class StoredWrite(NamedTuple):
    """A pending write as read from `CheckpointWrite` (`values_list(*WRITE_FIELDS)`)."""

    checkpoint_id: str
    task_id: str
    task_path: str
    idx: int
    channel: str
    type: str
    blob: bytes


def version_key(version: str | int | float) -> str:
    """The stored form of a channel version.

    LangGraph versions are strings for this saver, but a caller may pass ints or floats
    (the conformance suite does); storing `str(version)` and looking up with the same
    function keeps both forms working.
    """
    return str(version)


def referenced_blobs(payload: Mapping[str, Any]) -> set[BlobKey]:
    """The blobs a stored checkpoint reads its channel values from."""
    versions: ChannelVersions = payload.get("channel_versions", {})
    return {(channel, version_key(version)) for channel, version in versions.items()}


BLOB_COLUMNS = ("thread_id", "checkpoint_ns", "channel", "version", "type", "blob")
RECORD_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "run_id",
    "type",
    "checkpoint",
    "metadata",
    "created_at",
)
WRITE_COLUMNS = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "task_path",
    "idx",
    "channel",
    "type",
    "blob",
)
"""The columns the saver inserts, in the order of the value tuples built below."""

_METADATA_FIELD = CheckpointRecord._meta.fields_map["metadata"]
_CREATED_AT_FIELD = CheckpointRecord._meta.fields_map["created_at"]


def record_values(
    serde: SerializerProtocol,
    *,
    thread_id: str,
    checkpoint_ns: str,
    parent_checkpoint_id: str | None,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
) -> tuple[Any, ...]:
    """The `RECORD_COLUMNS` of a checkpoint; its channel values go to `blob_values`."""
    payload = {key: value for key, value in checkpoint.items() if key != "channel_values"}
    type_, data = serde.dumps_typed(payload)
    run_id = metadata.get("run_id")
    return (
        thread_id,
        checkpoint_ns,
        checkpoint["id"],
        parent_checkpoint_id,
        None if run_id is None else str(run_id),
        type_,
        data,
        _METADATA_FIELD.to_db_value(metadata, CheckpointRecord),
        _CREATED_AT_FIELD.to_db_value(timezone.now(), CheckpointRecord),
    )


def blob_values(
    serde: SerializerProtocol,
    *,
    thread_id: str,
    checkpoint_ns: str,
    values: Mapping[str, Any],
    new_versions: ChannelVersions,
) -> list[tuple[Any, ...]]:
    """The `BLOB_COLUMNS` of the channels that changed (`new_versions`), one row each.

    A channel in `new_versions` without a value was cleared: it gets no row, and loading
    finds no blob for its new version, so the value is absent from then on (as in the
    official PostgreSQL saver).
    """
    return [
        (
            thread_id,
            checkpoint_ns,
            channel,
            version_key(version),
            *serde.dumps_typed(values[channel]),
        )
        for channel, version in new_versions.items()
        if channel in values
    ]


def write_values(
    serde: SerializerProtocol,
    *,
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    task_id: str,
    task_path: str,
    writes: Sequence[tuple[str, Any]],
) -> list[tuple[Any, ...]]:
    """The `WRITE_COLUMNS` of a task's writes, one row each.

    A write's index is its position in `writes`, except for the special channels of
    `WRITES_IDX_MAP` (error, interrupt, scheduled, resume), which have a fixed negative
    index: a task has at most one of each, and saving it again replaces it.
    """
    rows = []
    for idx, (channel, value) in enumerate(writes):
        type_, data = serde.dumps_typed(value)
        rows.append(
            (
                thread_id,
                checkpoint_ns,
                checkpoint_id,
                task_id,
                task_path,
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                type_,
                data,
            )
        )
    return rows


def load_payload(serde: SerializerProtocol, record: Mapping[str, Any]) -> dict[str, Any]:
    """The stored checkpoint of a record row (without channel values)."""
    return serde.loads_typed((record["type"], record["checkpoint"]))


def load_blobs(
    serde: SerializerProtocol, rows: Iterable[tuple[str, str, str, bytes | None]]
) -> dict[BlobKey, Any]:
    """Deserialized blob values by (channel, version)."""
    return {
        (channel, version): serde.loads_typed((type_, data or b""))
        for channel, version, type_, data in rows
    }


def pending_writes(serde: SerializerProtocol, writes: Iterable[StoredWrite]) -> list[PendingWrite]:
    """A checkpoint's pending writes in the order LangGraph applies them."""
    ordered = sorted(writes, key=lambda w: writes_sort_key(w.task_path, w.task_id, w.idx))
    return [(w.task_id, w.channel, serde.loads_typed((w.type, w.blob))) for w in ordered]


def checkpoint_tuple(
    record: Mapping[str, Any],
    payload: Mapping[str, Any],
    values: Mapping[BlobKey, Any],
    writes: list[PendingWrite],
) -> CheckpointTuple:
    """Assemble the tuple LangGraph reads from a record and its blobs and writes.

    Args:
        record: The `CheckpointRecord` row (`RECORD_FIELDS`).
        payload: The record's deserialized checkpoint.
        values: Loaded blobs of the record's thread and namespace; at least those the
            checkpoint's `channel_versions` name.
        writes: The checkpoint's pending writes, ordered.
    """
    channel_values = {}
    for channel, version in payload.get("channel_versions", {}).items():
        key = (channel, version_key(version))
        if key in values:
            channel_values[channel] = values[key]
    thread_id = record["thread_id"]
    checkpoint_ns = record["checkpoint_ns"]
    parent_id = record["parent_checkpoint_id"]
    return CheckpointTuple(
        config=config_of(thread_id, checkpoint_ns, record["checkpoint_id"]),
        checkpoint={**payload, "channel_values": channel_values},  # type: ignore[typeddict-item]
        metadata=record["metadata"],
        parent_config=config_of(thread_id, checkpoint_ns, parent_id) if parent_id else None,
        pending_writes=writes,
    )


def config_of(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    """The config that addresses one checkpoint."""
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }
