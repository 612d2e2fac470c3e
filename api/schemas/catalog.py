"""Response bodies of ``/v1/catalog/*``: the node types, tools and model providers specs use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from api.services.catalog import ProviderSource
from shared.database.models import ProviderKind


class _Public(BaseModel):
    """Read from the service's dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class NodeTypePublic(_Public):
    """One node type of spec v1."""

    type: str
    """The node's ``type`` value, e.g. ``for_each``."""
    description: str
    """One line: what a node of this type does."""
    json_schema: dict[str, Any]
    """JSON Schema of one node of this type, with the spec's field names (``else``, ``as``)."""


class NodeTypeList(BaseModel):
    """Every node type, in the order of the spec's ``Node`` union."""

    items: list[NodeTypePublic]


class ToolPublic(_Public):
    """One tool a ``tool`` node (or an ``llm`` node's ``tools``) may name."""

    name: str
    description: str
    args_schema: dict[str, Any]
    """JSON Schema of the arguments; a ``tool`` node's ``args`` must match it."""
    result_schema: dict[str, Any] | None
    """JSON Schema of the result, when the tool declares one."""
    side_effecting: bool
    """Whether calling it changes the world; it then receives an idempotency key."""


class ToolList(BaseModel):
    """Every registered tool, by name."""

    items: list[ToolPublic]


class ModelProviderPublic(_Public):
    """One model provider an ``llm`` node may name. Never carries the provider's key."""

    name: str
    """What an ``llm`` node's ``provider`` says to use it."""
    kind: ProviderKind
    """The API it speaks."""
    base_url: str | None
    """Where its API is; null for the kind's public endpoint (or unknown)."""
    source: ProviderSource
    """``tenant``: configured with ``PUT /v1/providers/{name}``; ``environment``: by the
    server's environment (``OPENAI_API_KEY``), for every tenant without a provider of that
    name."""
    configured: bool
    """Whether it can be called: the secret holding its key exists (or its key is set in the
    environment). Nodes using an unconfigured provider fail."""
    default_model: str | None
    """The model used when a node names none; null when unknown."""
    default: bool
    """Whether ``llm`` nodes without ``provider`` use it."""


class ModelProviderList(BaseModel):
    """Every model provider the caller's ``llm`` nodes may name, by name."""

    items: list[ModelProviderPublic]
