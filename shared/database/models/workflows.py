"""Workflows and their specs: one mutable draft, many immutable versions.

A person (or the agent) edits the draft; freezing it makes a version, and one version is
published: that is what triggers and plain "run this workflow" calls execute. Versions never
change, so a run that names a version can always be explained and replayed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from shared.database.models._columns import public_id, tenant_key
from shared.ids import new_version_id, new_workflow_id

if TYPE_CHECKING:
    from shared.database.models.runs import WorkflowRun

__all__ = ["VersionStatus", "Workflow", "WorkflowDraft", "WorkflowVersion"]

SPEC_HASH_LENGTH = 64
"""Hex SHA-256."""


class VersionStatus(StrEnum):
    """Where a version is in its life; only the status changes, never the spec."""

    DRAFT = "draft"
    """Frozen but not published: can be test-run and compared, triggers ignore it."""
    PUBLISHED = "published"
    """The version the workflow runs by default; at most one per workflow."""
    ARCHIVED = "archived"
    """Kept for the runs that used it; cannot be published again without a new version."""


class Workflow(Model):
    """The stable handle of a workflow: its name, its draft, its versions and its runs."""

    id = public_id(new_workflow_id)
    tenant = tenant_key()
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    tags = fields.JSONField(default=list)
    """A list of strings. A tenant has few workflows, so filtering by tag reads them all."""
    published_version_number = fields.IntField(null=True)
    """The ``version_number`` of the published version (the one runs use when none is
    named); null until one is published. A number rather than a foreign key: it cannot name
    another workflow's version, and versions already point at their workflow, so a key back
    would make a cycle that the two tables could not be created in. The service that
    publishes sets it and the versions' ``status`` in one transaction."""
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    versions: fields.ReverseRelation[WorkflowVersion]
    runs: fields.ReverseRelation[WorkflowRun]

    class Meta:
        table = "workflows"


class WorkflowDraft(Model):
    """The editable spec of a workflow, one per workflow.

    Writes use optimistic locking: a client sends the ``revision`` it read, the update is
    ``WHERE revision = <sent>`` and increments it, and a write based on an older revision
    changes nothing and is answered 409.
    """

    id = fields.BigIntField(primary_key=True)
    tenant = tenant_key()
    workflow: fields.OneToOneRelation[Workflow] = fields.OneToOneField(
        "plait.Workflow", related_name="draft", on_delete=fields.CASCADE
    )
    spec = fields.JSONField()
    """The spec as last saved; it may fail the static checks (drafts are work in progress)."""
    revision = fields.IntField(default=1)
    """Incremented by every write; what optimistic locking compares."""
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "workflow_drafts"


class WorkflowVersion(Model):
    """A frozen spec. Rows are never updated except for ``status``.

    ``(workflow, spec_hash)`` is unique so that freezing an unchanged spec returns the
    existing version instead of making a copy; ``(workflow, version_number)`` is unique so
    that two concurrent freezes cannot both take the same number (one fails and retries).
    """

    id = public_id(new_version_id)
    tenant = tenant_key()
    workflow: fields.ForeignKeyRelation[Workflow] = fields.ForeignKeyField(
        "plait.Workflow", related_name="versions", on_delete=fields.CASCADE
    )
    version_number = fields.IntField()
    """1, 2, 3, … per workflow, in the order versions were made."""
    spec = fields.JSONField()
    spec_hash = fields.CharField(max_length=SPEC_HASH_LENGTH)
    """SHA-256 of the spec's canonical JSON (sorted keys, no whitespace)."""
    status = fields.CharEnumField(VersionStatus, max_length=16, default=VersionStatus.DRAFT)
    created_from_draft_revision = fields.IntField(null=True)
    """The draft revision this version was frozen from; null when made another way (import)."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "workflow_versions"
        unique_together = (("workflow", "version_number"), ("workflow", "spec_hash"))
