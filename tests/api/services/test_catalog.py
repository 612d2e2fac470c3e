"""The catalogs: node types from the spec models, tools from a registry, providers' readiness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from openai import AsyncOpenAI

from api.services import (
    ModelProviderInfo,
    ToolInfo,
    list_model_providers,
    list_node_types,
    list_tools,
)
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.registries.models import ProviderHandle, StaticModelProviders
from workflow_compiler.registries.tools import ToolContext, ToolRegistry

SPEC_NODE_TYPES = [
    "set", "llm", "tool", "if", "switch", "parallel", "for_each", "loop", "human", "workflow"
]  # fmt: skip


class _EchoTool:
    """A tool that answers its arguments back."""

    def __init__(self, name: str, *, result_schema: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.description = f"{name} answers its arguments"
        self.args_schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
        self.result_schema = result_schema
        self.side_effecting = False

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> Any:
        return args


class _TwoProviders:
    """``local`` is ready; ``hosted`` is listed but has no key."""

    def __init__(self) -> None:
        self._local = ProviderHandle(
            name="local", client=AsyncOpenAI(api_key="sk-local"), default_model="llama"
        )

    def get(self, name: str | None) -> ProviderHandle:
        if name == "local":
            return self._local
        raise NodeError(ErrorKind.CONFIG_ERROR, f"provider '{name}' has no key")

    def names(self) -> list[str]:
        return ["hosted", "local"]


class TestListNodeTypes:
    def test_every_spec_node_type_in_union_order(self) -> None:
        assert [info.type for info in list_node_types()] == SPEC_NODE_TYPES

    def test_each_schema_is_valid_json_schema_with_its_properties_at_the_top(self) -> None:
        for info in list_node_types():
            jsonschema.Draft202012Validator.check_schema(info.json_schema)
            assert info.json_schema["properties"]["type"]["const"] == info.type

    def test_schemas_use_the_spec_field_names(self) -> None:
        schemas = {info.type: info.json_schema for info in list_node_types()}

        assert "else" in schemas["if"]["properties"]
        assert {"as", "index_as", "body"} <= set(schemas["for_each"]["properties"])
        assert "schema" in schemas["human"]["properties"]
        assert {"workflow_id", "version", "inputs"} <= set(schemas["workflow"]["properties"])
        assert not any(
            "else_" in s["properties"] or "as_" in s["properties"] for s in schemas.values()
        )

    def test_a_recursive_schema_keeps_its_definitions(self) -> None:
        loop = next(info for info in list_node_types() if info.type == "loop")

        validator = jsonschema.Draft202012Validator(loop.json_schema)
        body_node = {"id": "inner", "type": "set", "value": 1}
        good = {"id": "l", "type": "loop", "condition": "true", "max_iterations": 2}
        assert validator.is_valid({**good, "body": [body_node]})
        assert not validator.is_valid({**good, "body": [{**body_node, "id": "Not-An-Id"}]})

    def test_descriptions_are_the_first_docstring_line(self) -> None:
        descriptions = {info.type: info.description for info in list_node_types()}

        assert descriptions["set"] == "Produces a value; templates inside it are rendered."
        assert all(text and "\n" not in text for text in descriptions.values())


class TestListTools:
    def test_every_tool_by_name_with_its_schemas(self) -> None:
        result = {"type": "object"}
        registry = ToolRegistry([_EchoTool("zeta", result_schema=result), _EchoTool("alpha")])

        tools = list_tools(registry)

        assert tools == [
            ToolInfo(
                name="alpha",
                description="alpha answers its arguments",
                args_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
                result_schema=None,
                side_effecting=False,
            ),
            ToolInfo(
                name="zeta",
                description="zeta answers its arguments",
                args_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
                result_schema=result,
                side_effecting=False,
            ),
        ]

    def test_an_empty_registry_lists_nothing(self) -> None:
        assert list_tools(ToolRegistry()) == []


class TestListModelProviders:
    def test_openai_without_a_key_is_listed_as_not_configured(self) -> None:
        providers = StaticModelProviders.from_env({})

        assert list_model_providers(providers) == [
            ModelProviderInfo(name="openai", configured=False, default_model=None)
        ]

    def test_openai_with_a_key_is_configured_with_its_default_model(self) -> None:
        environ = {"OPENAI_API_KEY": "sk-secret", "OPENAI_MODEL": "gpt-4o-mini"}

        infos = list_model_providers(StaticModelProviders.from_env(environ))

        assert infos == [
            ModelProviderInfo(name="openai", configured=True, default_model="gpt-4o-mini")
        ]
        assert "sk-secret" not in repr(infos)

    def test_each_provider_of_any_source_is_checked(self) -> None:
        assert list_model_providers(_TwoProviders()) == [
            ModelProviderInfo(name="hosted", configured=False, default_model=None),
            ModelProviderInfo(name="local", configured=True, default_model="llama"),
        ]
