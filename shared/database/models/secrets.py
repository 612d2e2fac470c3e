"""Secrets that workflows reference as ``{{ secrets.NAME }}``, stored encrypted.

A value is encrypted with Fernet (``MultiFernet``: the first key encrypts, every configured key
decrypts) before it reaches this table, and is never returned by the API, logged,
checkpointed or stored in run inputs and outputs.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from shared.database.models._columns import public_id, tenant_key
from shared.ids import new_secret_id

__all__ = ["Secret", "SecretProvider"]


class SecretProvider(StrEnum):
    """Where a secret's value lives."""

    LOCAL = "local"
    """In this table, as Fernet ciphertext."""
    ENV = "env"
    """In the server's environment (``PLAIT_SECRET_<NAME>``); the row only records the name."""


class Secret(Model):
    """A named secret of a tenant."""

    id = public_id(new_secret_id)
    tenant = tenant_key()
    name = fields.CharField(max_length=128)
    """The name specs use; unique within the tenant."""
    provider = fields.CharEnumField(SecretProvider, max_length=16, default=SecretProvider.LOCAL)
    ciphertext = fields.BinaryField(null=True)
    """The Fernet token of the value; null for providers that keep the value elsewhere."""
    key_id = fields.CharField(max_length=64, null=True)
    """Which encryption key made ``ciphertext``, so that rotation re-encrypts only what an
    old key made."""
    description = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    last_used_at = fields.DatetimeField(null=True)
    """When a node last resolved the secret; helps find unused ones."""

    class Meta:
        table = "secrets"
        unique_together = (("tenant", "name"),)
