"""The catalogs: what a spec may use, as a workflow editor (or an agent writing specs) sees it.

Three lists, each read from the source the compiler itself uses, so the catalog cannot drift
from what a spec is checked against:

- node types, from the pydantic models of spec v1 (``workflow_compiler.spec.Node``): each
  type's JSON Schema uses the spec's field names (``else``, ``as``, ``schema``), not Python's;
- tools, from the tool registry the runs use;
- model providers, from the ``ModelProviders`` the runs use, with whether each is ready to
  call (its key is set). Keys never leave the providers: only the name, readiness and
  default model are listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel

from workflow_compiler.errors import NodeError
from workflow_compiler.registries.models import ModelProviders
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import Node

__all__ = [
    "ModelProviderInfo",
    "NodeTypeInfo",
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelProviderInfo:
    """One model provider an ``llm`` node may name."""

    name: str
    configured: bool
    """Whether it can be called now (its key is set); an unconfigured one fails the node."""
    default_model: str | None
    """The model used when a node names none; unknown for an unconfigured provider."""


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


def list_model_providers(providers: ModelProviders) -> list[ModelProviderInfo]:
    """Every provider ``providers`` knows, by name, with whether it is ready to call.

    Args:
        providers: The providers runs resolve ``llm`` nodes with (from the environment for
            now; from the database once providers are stored per tenant).
    """
    return [_provider_info(providers, name) for name in providers.names()]


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


def _provider_info(providers: ModelProviders, name: str) -> ModelProviderInfo:
    """Resolving a provider is how the protocol tells a ready one from one without a key."""
    try:
        handle = providers.get(name)
    except NodeError:
        return ModelProviderInfo(name=name, configured=False, default_model=None)
    return ModelProviderInfo(name=name, configured=True, default_model=handle.default_model)
