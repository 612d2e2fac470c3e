"""Who owns data and who may act on it: tenants, users, API keys, and the audit log.

A tenant is the unit of isolation: every user-owned row in every table carries ``tenant_id``
and every query filters on the caller's tenant (a row of another tenant reads as missing).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from shared.database.models._columns import public_id, tenant_key
from shared.ids import new_api_key_id, new_tenant_id, new_user_id

__all__ = ["ApiKey", "AuditEvent", "Role", "Tenant", "User"]


class Role(StrEnum):
    """What a principal (a user or an API key) may do; each role includes the ones above it."""

    VIEWER = "viewer"
    """Read workflows, runs, steps and events."""
    OPERATOR = "operator"
    """Also edit drafts, publish versions, start, resume, retry and cancel runs."""
    ADMIN = "admin"
    """Also manage secrets, API keys, users and triggers."""


class Tenant(Model):
    """An isolated space of workflows, runs, secrets and people.

    The embedded setup has a single tenant; the table exists so that the same schema serves
    a shared deployment.
    """

    id = public_id(new_tenant_id)
    name = fields.CharField(max_length=200)
    """Shown to people; not unique, the id is what names the tenant."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "tenants"


class User(Model):
    """A person who signs in to a tenant."""

    id = public_id(new_user_id)
    tenant = tenant_key()
    email = fields.CharField(max_length=320)
    """Unique within the tenant (RFC 5321 allows 320 characters); compared as stored, so the
    service lower-cases it before writing."""
    display_name = fields.CharField(max_length=200, default="")
    role = fields.CharEnumField(Role, max_length=16, default=Role.VIEWER)
    password_hash = fields.CharField(max_length=255, null=True)
    """A slow hash of the password; null for users who sign in another way."""
    is_active = fields.BooleanField(default=True)
    """False blocks sign-in without deleting the user's history."""
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"
        unique_together = (("tenant", "email"),)


class ApiKey(Model):
    """A credential for programs: shown once, when created, and stored only as a hash.

    A key looks like ``<prefix><secret>``: ``prefix`` is stored in clear so that people can
    recognize a key in a list and the server can find its row without scanning, and
    ``key_hash`` (SHA-256 of the whole key) is what a presented key is checked against.
    """

    id = public_id(new_api_key_id)
    tenant = tenant_key()
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "plait.User", related_name="api_keys", null=True, on_delete=fields.SET_NULL
    )
    """The person who created the key; the key outlives them."""
    name = fields.CharField(max_length=200)
    """What the key is for, chosen by its creator."""
    prefix = fields.CharField(max_length=32, unique=True)
    """The first characters of the key, shown in lists and used to look the key up."""
    key_hash = fields.CharField(max_length=64, unique=True)
    """Hex SHA-256 of the full key. A fast hash suffices: the key is long and random."""
    role = fields.CharEnumField(Role, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    """After this instant the key is refused; null never expires."""
    revoked_at = fields.DatetimeField(null=True)
    """Set when the key is revoked; revoked keys are kept so the audit log can name them."""

    class Meta:
        table = "api_keys"


class AuditEvent(Model):
    """One change made by a principal: who did what to which row, and when. Append-only."""

    id = fields.BigIntField(primary_key=True)
    tenant = tenant_key()
    actor = fields.CharField(max_length=64)
    """The id of the user or API key that acted (``usr_…``/``key_…``), or ``system``."""
    action = fields.CharField(max_length=64)
    """What was done, as ``<noun>.<verb>``: ``workflow.publish``, ``secret.delete``, …"""
    target_id = fields.CharField(max_length=64, null=True)
    """The public id of the row acted on, when there is one."""
    data = fields.JSONField(default=dict)
    """Details of the change; never secret values."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_events"
        indexes = (Index(fields=("tenant_id", "created_at"), name="audit_events_tenant_time"),)
