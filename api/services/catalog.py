"""The catalogs: what a spec may use, as a workflow editor (or an agent writing specs) sees it.

Three lists, each read from the source the compiler itself uses, so the catalog cannot drift
from what a spec is checked against:

- node types, from the pydantic models of spec v1 (``workflow_compiler.spec.Node``): each
  type's JSON Schema uses the spec's field names (``else``, ``as``, ``schema``), not Python's;
- tools, from the tool registry the runs use;
- model providers, from the same sources as a run's (``api.services.providers``): the
  tenant's stored providers, with whether the secret holding each one's key exists, and the
  server's environment providers whose names the tenant did not take. Keys never leave the
  providers: only names, endpoints, readiness and default models are listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel

from api.services.providers import configured_secrets, default_provider
from shared.database.models import ModelProvider, ProviderKind
from workflow_compiler.error_mapping import display_url
from workflow_compiler.errors import NodeError
from workflow_compiler.registries.models import ModelProviders, ProviderHandle
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import Node

__all__ = [
    "ModelProviderInfo",
    "NodeTypeInfo",
    "ProviderSource",
    "ToolInfo",
    "list_model_providers",
    "list_node_types",
    "list_tools",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeTypeInfo:
    """One node type of spec v1."""

    type: str
    """The value of the node's ``type`` field, e.g. ``for_each``."""
    description: str
    """One line: what a node of this type does."""
    json_schema: Mapping[str, Any]
    """JSON Schema of one node of this type, with the spec's field names."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolInfo:
    """One registered tool, as a ``tool`` node or an ``llm`` node's ``tools`` names it."""

    name: str
    description: str
    args_schema: Mapping[str, Any]
    result_schema: Mapping[str, Any] | None
    side_effecting: bool


ProviderSource = Literal["tenant", "environment"]
"""Where a provider is configured: stored for the tenant (``PUT /v1/providers/{name}``), or in
the server's environment (``OPENAI_API_KEY``, …), shared by every tenant."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelProviderInfo:
    """One model provider an ``llm`` node may name."""

    name: str
    kind: ProviderKind
    base_url: str | None
    """Where its API is; None for the kind's public endpoint (or unknown, for an
    unconfigured environment provider)."""
    source: ProviderSource
    configured: bool
    """Whether it can be called now (its key's secret exists, or its key is set in the
    environment); an unconfigured one fails the nodes that use it."""
    default_model: str | None
    """The model used when a node names none; unknown for an unconfigured environment
    provider."""
    default: bool
    """Whether ``llm`` nodes without ``provider`` use it."""


def list_node_types() -> list[NodeTypeInfo]:
    """Every node type of spec v1, in the order of the ``Node`` union."""
    return [_node_type(model) for model in _node_models()]


def list_tools(registry: ToolRegistry) -> list[ToolInfo]:
    """Every tool in ``registry``, by name."""
    tools = []
    for name in registry.names():
        tool = registry.get(name)
        assert tool is not None, f"the registry lists '{name}' but does not hold it"
        tools.append(
            ToolInfo(
                name=tool.name,
                description=tool.description,
                args_schema=tool.args_schema,
                result_schema=tool.result_schema,
                side_effecting=tool.side_effecting,
            )
        )
    return tools


async def list_model_providers(
    tenant_id: str, *, environment: ModelProviders
) -> list[ModelProviderInfo]:
    """Every provider the tenant's ``llm`` nodes may name, by name, with whether each is ready.

    Args:
        tenant_id: Whose stored providers to list.
        environment: The server's providers (``StaticModelProviders.from_env``); those whose
            name the tenant took are hidden, as a run does not see them either.
    """
    stored = await ModelProvider.filter(tenant_id=tenant_id)
    secrets = await configured_secrets(tenant_id, {p.secret_name for p in stored})
    default = default_provider([p.name for p in stored])
    infos = [
        ModelProviderInfo(
            name=p.name,
            kind=p.kind,
            base_url=p.base_url,
            source="tenant",
            configured=p.secret_name in secrets,
            default_model=p.default_model,
            default=p.name == default,
        )
        for p in stored
    ]
    taken = {p.name for p in stored}
    infos += [
        _environment_info(environment, name, default=name == default)
        for name in environment.names()
        if name not in taken
    ]
    return sorted(infos, key=lambda info: info.name)


def _node_models() -> tuple[type[BaseModel], ...]:
    """The node classes of ``Node``: ``Annotated[A | B | ..., Field(discriminator=...)]``."""
    union, *_metadata = get_args(Node)
    return get_args(union)


def _node_type(model: type[BaseModel]) -> NodeTypeInfo:
    (type_name,) = get_args(model.model_fields["type"].annotation)
    return NodeTypeInfo(
        type=type_name,
        description=_first_line(model.__doc__),
        json_schema=_hoisted(model.model_json_schema(by_alias=True)),
    )


def _hoisted(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the node's own definition at the top.

    Pydantic writes a recursive model (``if``, ``loop``: nodes holding nodes) as a bare
    ``{"$ref": "#/$defs/IfNode", "$defs": ...}``; moving the referenced definition up gives
    every node type's properties at the same place, and the ``$defs`` stay for the recursion.
    """
    ref = schema.get("$ref")
    if ref is None:
        return schema
    defs = schema["$defs"]
    return {**defs[ref.removeprefix("#/$defs/")], "$defs": defs}


def _first_line(doc: str | None) -> str:
    assert doc, "every node model has a docstring: it is the catalog's description"
    return doc.strip().splitlines()[0]


def _environment_info(providers: ModelProviders, name: str, *, default: bool) -> ModelProviderInfo:
    """Resolving a provider is how the protocol tells a ready one from one without a key.
    Its base URL is shown without user info or query, where credentials may travel."""
    try:
        handle: ProviderHandle | None = providers.get(name)
    except NodeError:
        handle = None
    return ModelProviderInfo(
        name=name,
        kind=ProviderKind.OPENAI,
        base_url=None if handle is None else display_url(handle.client.base_url).rstrip("/"),
        source="environment",
        configured=handle is not None,
        default_model=None if handle is None else handle.default_model,
        default=default,
    )
