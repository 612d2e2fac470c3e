"""The catalogs: node types from the spec models, tools from a registry, providers' readiness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
import pytest
from openai import AsyncOpenAI

from api.services import (
    ModelProviderInfo,
    ToolInfo,
    list_model_providers,
    list_node_types,
    list_tools,
)
from shared.database.models import ModelProvider, ProviderKind, Tenant
from tests.support.secrets import make_box, store_secret
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


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


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
    @staticmethod
    def environment(name: str, *, configured: bool, **fields: Any) -> ModelProviderInfo:
        values: dict[str, Any] = {"base_url": None, "default_model": None, "default": False}
        return ModelProviderInfo(
            name=name,
            kind=ProviderKind.OPENAI,
            source="environment",
            configured=configured,
            **{**values, **fields},
        )

    async def test_openai_without_a_key_is_listed_as_not_configured(self, tenant: Tenant) -> None:
        providers = StaticModelProviders.from_env({})

        assert await list_model_providers(tenant.id, environment=providers) == [
            self.environment("openai", configured=False, default=True)
        ]

    async def test_openai_with_a_key_is_configured_with_its_endpoint_and_model(
        self, tenant: Tenant
    ) -> None:
        environ = {
            "OPENAI_API_KEY": "sk-secret",
            "OPENAI_MODEL": "gpt-4o-mini",
            "OPENAI_BASE_URL": "https://user:pw@env.test/v1?token=t",
        }

        infos = await list_model_providers(
            tenant.id, environment=StaticModelProviders.from_env(environ)
        )

        assert infos == [
            self.environment(
                "openai",
                configured=True,
                base_url="https://env.test/v1",
                default_model="gpt-4o-mini",
                default=True,
            )
        ]
        assert "sk-secret" not in repr(infos)

    async def test_each_environment_provider_is_checked(self, tenant: Tenant) -> None:
        assert await list_model_providers(tenant.id, environment=_TwoProviders()) == [
            self.environment("hosted", configured=False),
            self.environment(
                "local",
                configured=True,
                base_url="https://api.openai.com/v1",
                default_model="llama",
            ),
        ]

    async def test_the_tenants_providers_with_whether_their_secret_exists(
        self, tenant: Tenant
    ) -> None:
        box = make_box()
        await ModelProvider.create(
            tenant=tenant, name="local", base_url="http://gpu.test/v1", secret_name="LOCAL_KEY"
        )
        await ModelProvider.create(tenant=tenant, name="hosted", secret_name="HOSTED_KEY")
        await store_secret(tenant.id, "LOCAL_KEY", "sk-local", box=box)
        other = await Tenant.create(name="other")
        await ModelProvider.create(tenant=other, name="theirs", secret_name="LOCAL_KEY")

        infos = await list_model_providers(tenant.id, environment=StaticModelProviders.from_env({}))

        assert [(i.name, i.source, i.configured, i.default) for i in infos] == [
            ("hosted", "tenant", False, False),
            ("local", "tenant", True, False),
            ("openai", "environment", False, True),
        ]
        assert infos[1].base_url == "http://gpu.test/v1"

    async def test_a_tenant_provider_hides_the_environments_of_the_same_name(
        self, tenant: Tenant
    ) -> None:
        await ModelProvider.create(
            tenant=tenant, name="openai", secret_name="KEY", default_model="gpt-5"
        )
        environ = {"OPENAI_API_KEY": "sk-env"}

        infos = await list_model_providers(
            tenant.id, environment=StaticModelProviders.from_env(environ)
        )

        assert infos == [
            ModelProviderInfo(
                name="openai",
                kind=ProviderKind.OPENAI,
                base_url=None,
                source="tenant",
                configured=False,
                default_model="gpt-5",
                default=True,
            )
        ]
