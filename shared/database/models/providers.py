"""Model providers: the OpenAI-compatible endpoints a tenant's ``llm`` nodes call.

A provider row never holds a key: it names the tenant secret (``secrets``) that does, so the key
is encrypted, rotated and redacted like every other secret, and one key may serve several
providers.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from shared.database.models._columns import tenant_key

__all__ = ["ModelProvider", "ProviderKind"]


class ProviderKind(StrEnum):
    """The API a provider speaks."""

    OPENAI = "openai"
    """OpenAI's chat completions and models API, at api.openai.com or any compatible base URL
    (vLLM, Ollama, LiteLLM, OpenRouter, Azure's OpenAI-compatible endpoint, …)."""


class ModelProvider(Model):
    """A named model provider of a tenant, as an ``llm`` node's ``provider`` names it."""

    id = fields.IntField(primary_key=True)
    tenant = tenant_key()
    name = fields.CharField(max_length=64)
    """The name specs use; unique within the tenant."""
    kind = fields.CharEnumField(ProviderKind, max_length=16, default=ProviderKind.OPENAI)
    base_url = fields.CharField(max_length=2048, null=True)
    """The API's base URL (``https://host/v1``); null means the kind's public endpoint."""
    secret_name = fields.CharField(max_length=128)
    """The tenant secret holding the API key; it may be created after the provider."""
    default_model = fields.CharField(max_length=200, null=True)
    """The model of ``llm`` nodes that name none."""
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "model_providers"
        unique_together = (("tenant", "name"),)
