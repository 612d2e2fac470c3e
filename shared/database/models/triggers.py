"""Triggers: subscriptions that start runs of a workflow, and the events they received.

The trigger engine takes a subscription with a lease (so one scheduler process polls it at a
time), fires it when due, and records each incoming event before starting a run. An event's
``dedupe_key`` is unique per subscription: a webhook delivered twice or a poll that sees the
same item again starts one run, not two.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from shared.database.models._columns import public_id, tenant_key
from shared.ids import new_trigger_event_id, new_trigger_id

if TYPE_CHECKING:
    from shared.database.models.runs import WorkflowRun
    from shared.database.models.workflows import Workflow, WorkflowVersion

__all__ = ["TriggerEvent", "TriggerEventStatus", "TriggerKind", "TriggerSubscription"]


class TriggerKind(StrEnum):
    """How a subscription learns that it should start a run."""

    SCHEDULE = "schedule"
    """At the times of a cron expression, in a time zone."""
    INTERVAL = "interval"
    """Every N seconds."""
    WEBHOOK = "webhook"
    """When an HTTP request arrives at the subscription's URL."""
    HTTP_POLL = "http_poll"
    """By polling a URL and starting a run per new item; ``cursor`` remembers the position."""


class TriggerEventStatus(StrEnum):
    """What became of a received event."""

    RECEIVED = "received"
    """Stored; no run started yet."""
    STARTED = "started"
    """A run was started; ``run`` names it."""
    FILTERED = "filtered"
    """The subscription's filter rejected it; no run."""
    FAILED = "failed"
    """Starting the run failed; ``error`` says why."""


class TriggerSubscription(Model):
    """Starts runs of a workflow when its trigger fires."""

    id = public_id(new_trigger_id)
    tenant = tenant_key()
    workflow: fields.ForeignKeyRelation[Workflow] = fields.ForeignKeyField(
        "plait.Workflow", related_name="triggers", on_delete=fields.CASCADE
    )
    version: fields.ForeignKeyNullableRelation[WorkflowVersion] = fields.ForeignKeyField(
        "plait.WorkflowVersion", related_name=False, null=True, on_delete=fields.NO_ACTION
    )
    """A pinned version; null runs whichever version is published when the trigger fires.
    A pinned version cannot be deleted while the subscription exists."""
    name = fields.CharField(max_length=200, default="")
    kind = fields.CharEnumField(TriggerKind, max_length=16)
    config = fields.JSONField(default=dict)
    """Kind-specific settings: ``cron`` and ``timezone``, ``every_s``, the polled ``url``, …"""
    input_bindings = fields.JSONField(default=dict)
    """Workflow input name → template over the event (``{{ event.body.id }}``)."""
    filter_condition = fields.TextField(null=True)
    """A condition over the event; events for which it is false start no run."""
    enabled = fields.BooleanField(default=True)
    next_fire_at = fields.DatetimeField(null=True)
    """Schedule state: when a schedule, interval or poll is next due; null when not timed."""
    last_fired_at = fields.DatetimeField(null=True)
    cursor = fields.JSONField(null=True)
    """Where an ``http_poll`` left off (an id, a timestamp, an ETag)."""
    last_error = fields.TextField(null=True)
    """Why the last firing failed; cleared by the next success."""
    lease_owner = fields.CharField(max_length=255, null=True)
    """The scheduler process currently firing this subscription."""
    lease_expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "trigger_subscriptions"
        indexes = (
            Index(fields=("enabled", "next_fire_at"), name="trigger_subscriptions_due"),
            Index(fields=("tenant_id", "workflow_id"), name="trigger_subscriptions_workflow"),
        )


class TriggerEvent(Model):
    """One event a subscription received: a webhook call, a poll item, a scheduled tick."""

    id = public_id(new_trigger_event_id)
    tenant = tenant_key()
    subscription: fields.ForeignKeyRelation[TriggerSubscription] = fields.ForeignKeyField(
        "plait.TriggerSubscription", related_name="events", on_delete=fields.CASCADE
    )
    dedupe_key = fields.CharField(max_length=255)
    """Identifies the event at its source (a delivery id, an item id, the scheduled time)."""
    payload = fields.JSONField(default=dict)
    """The event as the input bindings and the filter see it, secrets masked."""
    status = fields.CharEnumField(
        TriggerEventStatus, max_length=16, default=TriggerEventStatus.RECEIVED
    )
    run: fields.ForeignKeyNullableRelation[WorkflowRun] = fields.ForeignKeyField(
        "plait.WorkflowRun", related_name="trigger_events", null=True, on_delete=fields.SET_NULL
    )
    """The run the event started."""
    error = fields.TextField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "trigger_events"
        unique_together = (("subscription", "dedupe_key"),)
        indexes = (Index(fields=("subscription_id", "received_at"), name="trigger_events_by_time"),)
