"""Reading checkpoints back: the listing query and the assembly of checkpoint tuples.

A checkpoint tuple needs three tables: the record, the blobs its `channel_versions` name
and its pending writes. `load_tuples` reads the blobs and writes of a whole page of
records with one query each per thread and namespace, rather than two per checkpoint.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, PendingWrite, get_checkpoint_id
from langgraph.checkpoint.serde.base import SerializerProtocol
from tortoise.queryset import QuerySet

from shared.database.checkpointer import _codec
from shared.database.checkpointer._statements import chunked
from shared.database.models.checkpoints import CheckpointBlob, CheckpointRecord, CheckpointWrite


def list_query(
    config: RunnableConfig | None,
    filter: Mapping[str, Any] | None,
    before: RunnableConfig | None,
) -> QuerySet[CheckpointRecord]:
    """The records `alist` may return, before the metadata filter and ordering.

    `filter` narrows the query only through `run_id`, the one metadata key with a column;
    `metadata_matches` applies the whole filter to the rows read.
    """
    query = CheckpointRecord.all()
    if config is not None:
        configurable = config["configurable"]
        query = query.filter(thread_id=str(configurable["thread_id"]))
        if (checkpoint_ns := configurable.get("checkpoint_ns")) is not None:
            query = query.filter(checkpoint_ns=checkpoint_ns)
        if checkpoint_id := get_checkpoint_id(config):
            query = query.filter(checkpoint_id=checkpoint_id)
    if before is not None and (before_id := get_checkpoint_id(before)):
        query = query.filter(checkpoint_id__lt=before_id)
    if filter and isinstance(run_id := filter.get("run_id"), str):
        query = query.filter(run_id=run_id)
    return query


def metadata_matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether `metadata` has every key of `wanted` with an equal value."""
    return all(key in metadata and metadata[key] == value for key, value in wanted.items())


async def load_tuples(
    serde: SerializerProtocol, records: Sequence[Mapping[str, Any]]
) -> list[CheckpointTuple]:
    """The checkpoint tuples of records (`_codec.RECORD_FIELDS` rows), in their order."""
    groups: defaultdict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["thread_id"], record["checkpoint_ns"])].append(record)
    loaded: dict[int, CheckpointTuple] = {}
    for (thread_id, checkpoint_ns), group in groups.items():
        payloads = [_codec.load_payload(serde, record) for record in group]
        wanted = set().union(*(_codec.referenced_blobs(payload) for payload in payloads))
        values = await _read_blobs(serde, thread_id, checkpoint_ns, wanted)
        writes = await _read_writes(
            serde, thread_id, checkpoint_ns, [record["checkpoint_id"] for record in group]
        )
        for record, payload in zip(group, payloads, strict=True):
            loaded[record["id"]] = _codec.checkpoint_tuple(
                record, payload, values, writes.get(record["checkpoint_id"], [])
            )
    return [loaded[record["id"]] for record in records]


async def _read_blobs(
    serde: SerializerProtocol, thread_id: str, checkpoint_ns: str, wanted: set[_codec.BlobKey]
) -> dict[_codec.BlobKey, Any]:
    """The values of the wanted (channel, version) blobs of a namespace.

    Filters on channels and on versions separately (an `IN` of pairs is not portable) and
    keeps the exact pairs; versions carry a random part, so extra rows are rare.
    """
    if not wanted:
        return {}
    channels = sorted({channel for channel, _ in wanted})
    versions = sorted({version for _, version in wanted})
    rows: list[tuple[str, str, str, bytes | None]] = []
    for channel_chunk in chunked(channels):
        for version_chunk in chunked(versions):
            rows.extend(
                await CheckpointBlob.filter(
                    thread_id=thread_id,
                    checkpoint_ns=checkpoint_ns,
                    channel__in=channel_chunk,
                    version__in=version_chunk,
                ).values_list("channel", "version", "type", "blob")
            )
    return _codec.load_blobs(serde, (row for row in rows if (row[0], row[1]) in wanted))


async def _read_writes(
    serde: SerializerProtocol, thread_id: str, checkpoint_ns: str, checkpoint_ids: Sequence[str]
) -> dict[str, list[PendingWrite]]:
    """The pending writes of the checkpoints, by checkpoint id, in application order."""
    by_checkpoint: defaultdict[str, list[_codec.StoredWrite]] = defaultdict(list)
    for chunk in chunked(checkpoint_ids):
        rows = await CheckpointWrite.filter(
            thread_id=thread_id, checkpoint_ns=checkpoint_ns, checkpoint_id__in=chunk
        ).values_list(*_codec.WRITE_FIELDS)
        for row in rows:
            stored = _codec.StoredWrite(*row)
            by_checkpoint[stored.checkpoint_id].append(stored)
    return {
        checkpoint_id: _codec.pending_writes(serde, stored)
        for checkpoint_id, stored in by_checkpoint.items()
    }
