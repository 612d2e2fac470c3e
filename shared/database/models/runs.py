"""Runs and what happened in them: the run row, one row per node attempt, the event stream.

The run row is written before the run is enqueued and is the source of truth for its status;
LangGraph's checkpoints (``checkpoints.py``, keyed by the run id as thread id) hold its state.
A worker owns a running run through a lease (owner, expiry, fencing token): every status
write is ``WHERE fencing_token = <mine>``, so a worker whose lease was taken over cannot
overwrite the new owner's progress.

Tags are stored twice on purpose: ``WorkflowRun.tags`` (JSON) is what the API returns, and one
``RunTag`` row per tag is what "runs tagged X" filters through, with a plain B-tree index
that works the same on SQLite and PostgreSQL (a GIN index on the JSON would be PostgreSQL
only). The service that sets a run's tags writes both in one transaction.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from shared.database.models._columns import public_id, tenant_key
from shared.database.models.workflows import SPEC_HASH_LENGTH
from shared.ids import new_run_id

if TYPE_CHECKING:
    from shared.database.models.workflows import Workflow, WorkflowVersion

__all__ = [
    "RunEventRecord",
    "RunSource",
    "RunStatus",
    "RunStep",
    "RunTag",
    "StepStatus",
    "WorkflowRun",
]

ERROR_CODE_LENGTH = 64


class RunStatus(StrEnum):
    """Where a run is in its life. ``completed``, ``failed`` and ``canceled`` are final."""

    QUEUED = "queued"
    """Written and enqueued; no worker has taken it yet."""
    RUNNING = "running"
    """A worker holds its lease and executes nodes."""
    WAITING_HUMAN = "waiting_human"
    """Paused at a human node until someone answers; holds no lease."""
    COMPLETED = "completed"
    """Every node finished; ``outputs`` holds the result."""
    FAILED = "failed"
    """A node failed for good; ``error_code``/``error_message`` say why. Can be retried."""
    CANCELED = "canceled"
    """Stopped on request before it finished."""


class RunSource(StrEnum):
    """What started a run."""

    MANUAL = "manual"
    """A person, from the UI or the CLI."""
    TRIGGER = "trigger"
    """A trigger subscription (schedule, interval, webhook, poll)."""
    AGENT = "agent"
    """The chat agent, test-running a spec."""
    API = "api"
    """A program calling the HTTP API."""
    REPLAY = "replay"
    """A rerun or a fork of an earlier run (``parent_run`` names it)."""


class StepStatus(StrEnum):
    """The state of one attempt of one node."""

    RUNNING = "running"
    """Started and not finished (or the worker died during it)."""
    COMPLETED = "completed"
    """Finished with an output."""
    FAILED = "failed"
    """Raised an error; a later attempt may follow as another row."""
    WAITING_HUMAN = "waiting_human"
    """A human node waiting for its answer."""
    CANCELED = "canceled"
    """Stopped because the run was canceled."""


class WorkflowRun(Model):
    """One execution of a workflow version, or of an ad-hoc spec.

    Exactly one of ``version`` and ``spec`` is set: runs of saved workflows name their
    immutable version, runs of a spec that was never saved (the agent's test runs, ``plait
    run``) keep a snapshot of it. ``spec_hash`` is always set and keys the compiled-graph
    cache.
    """

    id = public_id(new_run_id)
    tenant = tenant_key()
    workflow: fields.ForeignKeyNullableRelation[Workflow] = fields.ForeignKeyField(
        "plait.Workflow", related_name="runs", null=True, on_delete=fields.CASCADE
    )
    """Null for ad-hoc runs. Deleting a workflow deletes its runs."""
    version: fields.ForeignKeyNullableRelation[WorkflowVersion] = fields.ForeignKeyField(
        "plait.WorkflowVersion", related_name="runs", null=True, on_delete=fields.NO_ACTION
    )
    """The version executed. A version that runs used cannot be deleted on its own; the check
    waits for the end of the statement (``NO ACTION``, not ``RESTRICT``), so deleting the
    workflow, which deletes its versions and its runs together, works."""
    spec = fields.JSONField(null=True)
    """Snapshot of an ad-hoc spec; null when ``version`` is set."""
    spec_hash = fields.CharField(max_length=SPEC_HASH_LENGTH)
    """SHA-256 of the spec's canonical JSON, as on ``WorkflowVersion``."""
    inputs = fields.JSONField(default=dict)
    """The validated inputs, defaults applied, secrets masked."""
    outputs = fields.JSONField(null=True)
    """The spec's ``output`` once completed."""
    status = fields.CharEnumField(RunStatus, max_length=16, default=RunStatus.QUEUED)
    source = fields.CharEnumField(RunSource, max_length=16)
    parent_run: fields.ForeignKeyNullableRelation[WorkflowRun] = fields.ForeignKeyField(
        "plait.WorkflowRun", related_name="child_runs", null=True, on_delete=fields.SET_NULL
    )
    """Lineage: the run this one reruns, replays or forks."""
    forked_from_checkpoint_id = fields.CharField(max_length=64, null=True)
    """For a fork: the parent's checkpoint it starts from."""
    tags = fields.JSONField(default=list)
    """A list of strings; mirrored in ``RunTag`` for filtering."""
    annotations = fields.JSONField(default=dict)
    """Free-form string keys and values set by callers (ticket numbers, customer ids)."""
    business_event_id = fields.CharField(max_length=255, null=True)
    """The caller's id for what caused the run (an order, an email), to find its runs."""
    idempotency_key = fields.CharField(max_length=255, null=True)
    """The ``Idempotency-Key`` the run was created with; unique per tenant, so a retried
    request finds the first run instead of starting a second one."""
    error_code = fields.CharField(max_length=ERROR_CODE_LENGTH, null=True)
    """The failure's stable code (a node error kind such as ``tool_error``)."""
    error_message = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    """When a worker first took the run."""
    ended_at = fields.DatetimeField(null=True)
    """When it reached a final status."""
    updated_at = fields.DatetimeField(auto_now=True)
    cancel_requested_at = fields.DatetimeField(null=True)
    """Set by a cancel request; the worker stops between nodes when it sees it."""
    lease_owner = fields.CharField(max_length=255, null=True)
    """The worker holding the run (host, process and a random part); null when none does."""
    lease_expires_at = fields.DatetimeField(null=True)
    """Heartbeats push this forward; past it, the reaper re-enqueues the run."""
    fencing_token = fields.BigIntField(default=0)
    """Incremented each time a worker takes the lease; status writes must carry the current
    value."""
    attempt = fields.IntField(default=0)
    """How many times a worker has taken the run (1 on the first execution)."""
    pending_answers = fields.JSONField(null=True)
    """Answers a resume hands to the next execution, by question id: a worker takes the run
    from its row alone. Kept until that execution records an outcome, so an execution that
    dies mid-resume leaves them to the next."""
    pending_patch = fields.JSONField(null=True)
    """For a replay not yet forked: the state patch (channel → value) to fork
    ``forked_from_checkpoint_id`` of the parent's thread with. Cleared once the forked
    checkpoint is stored; from then on the run continues like any other."""

    class Meta:
        table = "workflow_runs"
        unique_together = (("tenant", "idempotency_key"),)
        indexes = (
            Index(fields=("tenant_id", "created_at"), name="workflow_runs_tenant_time"),
            Index(fields=("tenant_id", "status", "created_at"), name="workflow_runs_tenant_status"),
            Index(
                fields=("tenant_id", "workflow_id", "created_at"),
                name="workflow_runs_tenant_workflow",
            ),
            Index(fields=("tenant_id", "business_event_id"), name="workflow_runs_business_event"),
            Index(fields=("status", "lease_expires_at"), name="workflow_runs_status_lease"),
            Index(fields=("parent_run_id",), name="workflow_runs_parent"),
        )


class RunTag(Model):
    """One tag of one run: the index behind filtering the run list by tag."""

    id = fields.BigIntField(primary_key=True)
    tenant = tenant_key()
    run: fields.ForeignKeyRelation[WorkflowRun] = fields.ForeignKeyField(
        "plait.WorkflowRun", related_name="tag_rows", on_delete=fields.CASCADE
    )
    tag = fields.CharField(max_length=100)

    class Meta:
        table = "workflow_run_tags"
        unique_together = (("run", "tag"),)
        indexes = (Index(fields=("tenant_id", "tag", "run_id"), name="workflow_run_tags_lookup"),)


class RunStep(Model):
    """One attempt of one node of a run: what went in, what came out, how long it took.

    Inputs and outputs are stored after secret values were masked. A node inside a
    ``for_each`` body runs once per item, which ``scope`` tells apart.
    """

    id = fields.BigIntField(primary_key=True)
    tenant = tenant_key()
    run: fields.ForeignKeyRelation[WorkflowRun] = fields.ForeignKeyField(
        "plait.WorkflowRun", related_name="steps", on_delete=fields.CASCADE
    )
    scope = fields.CharField(max_length=255, default="")
    """Empty at the top level; inside loop bodies, the path of the pass (e.g. ``items[3]``)."""
    node_id = fields.CharField(max_length=128)
    attempt = fields.IntField()
    """1-based, as in the node's retry policy."""
    status = fields.CharEnumField(StepStatus, max_length=16, default=StepStatus.RUNNING)
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    duration_ms = fields.FloatField(null=True)
    """Measured on the monotonic clock, so it is right even when the wall clock jumps."""
    input = fields.JSONField(null=True)
    """What the node was given (rendered arguments, prompt), secrets masked."""
    output = fields.JSONField(null=True)
    """What it produced, secrets masked."""
    error_code = fields.CharField(max_length=ERROR_CODE_LENGTH, null=True)
    """The node error's kind (``timeout``, ``tool_error``, …)."""
    error_message = fields.TextField(null=True)
    prompt_tokens = fields.IntField(null=True)
    """Token usage of the model calls the attempt made; null for nodes that made none."""
    completion_tokens = fields.IntField(null=True)
    total_tokens = fields.IntField(null=True)

    class Meta:
        table = "workflow_run_steps"
        unique_together = (("run", "scope", "node_id", "attempt"),)


class RunEventRecord(Model):
    """One event of a run's append-only stream (``workflow_compiler.events.RunEvent``).

    ``seq`` numbers a run's events 1, 2, 3, … without gaps; it is unique per run, so two
    writers cannot both append event n, and a client that saw event n resumes its stream
    with ``seq > n``.
    """

    id = fields.BigIntField(primary_key=True)
    tenant = tenant_key()
    run: fields.ForeignKeyRelation[WorkflowRun] = fields.ForeignKeyField(
        "plait.WorkflowRun", related_name="events", on_delete=fields.CASCADE
    )
    seq = fields.IntField()
    kind = fields.CharField(max_length=32)
    """``run_started``, ``node_completed``, … A string rather than an enum column: new kinds
    are added with the runtime and need no migration."""
    node_id = fields.CharField(max_length=128, null=True)
    attempt = fields.IntField(null=True)
    at = fields.DatetimeField()
    """When it happened, by the runtime's clock (not when the row was written)."""
    data = fields.JSONField(default=dict)
    """Kind-specific details, secrets masked."""

    class Meta:
        table = "run_events"
        unique_together = (("run", "seq"),)
