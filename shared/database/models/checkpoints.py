"""The tables behind the Tortoise checkpointer (`shared.database.checkpointer`).

LangGraph saves one checkpoint per superstep. Storing every channel's value inside each
checkpoint would make a run's storage grow with (steps x state size); instead the layout
follows the official PostgreSQL saver:

- `CheckpointRecord` holds the checkpoint *without* its channel values: ids, the parent link,
  the serialized rest of the checkpoint (channel versions, versions seen, ...) and metadata.
- `CheckpointBlob` holds one channel value per (channel, version). A checkpoint finds its
  values through its `channel_versions`, so a channel that did not change between two
  checkpoints is stored once and shared by both.
- `CheckpointWrite` holds the pending writes of a task against a checkpoint: what a node
  produced before the next checkpoint was saved, so a failed or interrupted superstep resumes
  without running the finished tasks again.

Rows are keyed by `thread_id` (Plait uses the run id) and `checkpoint_ns` (empty for the root
graph, `node:task_id` paths for subgraphs). Payloads are bytes produced by the saver's
serializer (`type` names the encoding, e.g. `msgpack`). The tables carry no foreign keys: a
checkpoint's blobs are shared with its siblings and its writes may be saved before it, so
integrity is kept by the saver (it writes blobs before the checkpoint that reads them, and
deletes in transactions) rather than by the database.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class CheckpointRecord(Model):
    """One saved checkpoint of a thread, without its channel values."""

    id = fields.BigIntField(primary_key=True)
    thread_id = fields.CharField(max_length=255)
    """The thread the checkpoint belongs to (a Plait run id)."""
    checkpoint_ns = fields.CharField(max_length=1024, default="")
    """Empty for the root graph; the subgraph path for checkpoints of subgraphs."""
    checkpoint_id = fields.CharField(max_length=255)
    """LangGraph's id (a uuid6): unique per thread and namespace, sorts by creation time."""
    parent_checkpoint_id = fields.CharField(max_length=255, null=True)
    """The checkpoint this one was derived from; null for the first of a namespace."""
    run_id = fields.CharField(max_length=255, null=True)
    """`metadata["run_id"]` (LangGraph's id of the invocation), kept in a column so that
    deleting the checkpoints of given runs needs no scan of the metadata."""
    type = fields.CharField(max_length=64)
    """The serializer's encoding of `checkpoint`."""
    checkpoint = fields.BinaryField()
    """The checkpoint minus `channel_values`, serialized by the saver's serde."""
    metadata = fields.JSONField(default=dict)
    """LangGraph's checkpoint metadata (source, step, parents, run_id, ...); JSON so that
    operators can read it."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "workflow_run_checkpoints"
        # The unique index also serves "newest first per thread and namespace" (a backward
        # scan) and "every checkpoint of a thread" (its prefix).
        unique_together = (("thread_id", "checkpoint_ns", "checkpoint_id"),)
        indexes = (Index(fields=("run_id",), name="workflow_run_checkpoints_run_id_idx"),)


class CheckpointBlob(Model):
    """The value of one channel at one version, shared by every checkpoint that has it."""

    id = fields.BigIntField(primary_key=True)
    thread_id = fields.CharField(max_length=255)
    checkpoint_ns = fields.CharField(max_length=1024, default="")
    channel = fields.CharField(max_length=255)
    version = fields.CharField(max_length=128)
    """The channel version as a string (LangGraph versions may also be ints or floats)."""
    type = fields.CharField(max_length=64)
    """The serializer's encoding of `blob`."""
    blob = fields.BinaryField(null=True)

    class Meta:
        table = "workflow_run_checkpoint_blobs"
        unique_together = (("thread_id", "checkpoint_ns", "channel", "version"),)


class CheckpointWrite(Model):
    """One pending write of a task against a checkpoint."""

    id = fields.BigIntField(primary_key=True)
    thread_id = fields.CharField(max_length=255)
    checkpoint_ns = fields.CharField(max_length=1024, default="")
    checkpoint_id = fields.CharField(max_length=255)
    task_id = fields.CharField(max_length=255)
    task_path = fields.TextField(default="")
    """The task's path in the graph; with `task_id` and `idx` it orders a superstep's writes."""
    idx = fields.IntField()
    """The write's index within its task; negative for the special channels (error,
    interrupt, scheduled, resume), so that they are replaced rather than duplicated."""
    channel = fields.CharField(max_length=255)
    type = fields.CharField(max_length=64)
    blob = fields.BinaryField()

    class Meta:
        table = "workflow_run_checkpoint_writes"
        unique_together = (("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"),)
