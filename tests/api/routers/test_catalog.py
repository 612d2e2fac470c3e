"""``GET /v1/catalog/{node-types,tools,models}``: any valid key reads them; no key is 401."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.problems import PROBLEM_TYPE_BASE
from api.services import create_api_key
from shared.config import Settings
from shared.database.models import ModelProvider, Role, Tenant
from tests.api.test_app import serving
from tests.support.secrets import make_box, store_secret
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.tools.http_request import ARGS_SCHEMA, RESULT_SCHEMA

ROUTES = ["/v1/catalog/node-types", "/v1/catalog/tools", "/v1/catalog/models"]


@pytest.fixture
def app(database: str) -> FastAPI:
    return create_app(Settings(database_url=database, migrate_on_start=False))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as client:
        yield client


@pytest.fixture
async def viewer(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers with a viewer's key: the lowest role, which may read every catalog."""
    tenant = await Tenant.create(name="acme")
    _row, plaintext = await create_api_key(tenant, Role.VIEWER, name="t", at=datetime.now(UTC))
    return {"Authorization": f"Bearer {plaintext}"}


class TestAuthentication:
    @pytest.mark.parametrize("route", ROUTES)
    async def test_401_without_a_key(self, client: httpx.AsyncClient, route: str) -> None:
        response = await client.get(route)

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["type"] == PROBLEM_TYPE_BASE + "unauthenticated"

    @pytest.mark.parametrize("route", ROUTES)
    async def test_401_with_an_unknown_key(self, client: httpx.AsyncClient, route: str) -> None:
        response = await client.get(route, headers={"Authorization": "Bearer plait_00_nope"})

        assert response.status_code == 401


class TestNodeTypes:
    async def test_every_node_type_with_schema_and_description(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.get("/v1/catalog/node-types", headers=viewer)

        assert response.status_code == 200
        items = {item["type"]: item for item in response.json()["items"]}
        assert set(items) == {
            "set", "llm", "tool", "if", "switch", "parallel", "for_each", "loop", "human",
            "workflow",
        }  # fmt: skip
        assert "else" in items["if"]["json_schema"]["properties"]
        assert "schema" in items["human"]["json_schema"]["properties"]
        assert items["tool"]["description"] == "Calls a registry tool with rendered ``args``."


class TestTools:
    async def test_http_request_is_listed_with_its_schemas(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.get("/v1/catalog/tools", headers=viewer)

        assert response.status_code == 200
        tools = {tool["name"]: tool for tool in response.json()["items"]}
        http = tools["http_request"]
        assert http["args_schema"] == ARGS_SCHEMA
        assert http["result_schema"] == RESULT_SCHEMA
        assert http["side_effecting"] is True
        assert http["description"].startswith("Send an HTTP request.")

    async def test_the_registry_is_built_once_per_app(
        self, app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        await client.get("/v1/catalog/tools", headers=viewer)
        first = app.state.tools

        await client.get("/v1/catalog/tools", headers=viewer)

        assert isinstance(first, ToolRegistry)
        assert app.state.tools is first

    async def test_the_apps_registry_is_what_is_listed(
        self, app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        app.state.tools = ToolRegistry()

        response = await client.get("/v1/catalog/tools", headers=viewer)

        assert response.json() == {"items": []}


def provider_item(**fields: Any) -> dict[str, Any]:
    """An item of ``/v1/catalog/models``: the environment's ``openai`` without a key, as the
    default, unless ``fields`` say otherwise."""
    item = {
        "name": "openai",
        "kind": "openai",
        "base_url": None,
        "source": "environment",
        "configured": False,
        "default_model": None,
        "default": True,
    }
    return {**item, **fields}


class TestModels:
    """The environment's providers are read when the app starts, so each test sets the
    environment (``openai_env``, requested first) before ``client`` starts the app."""

    @pytest.fixture
    def openai_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak-1234")
        monkeypatch.setenv("OPENAI_MODEL", "gpt-4o-mini")
        monkeypatch.setenv("OPENAI_BASE_URL", "https://env.test/v1")

    @pytest.fixture
    def no_openai_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    async def test_the_environments_provider_with_its_key_is_configured_never_shown(
        self, openai_env: None, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.get("/v1/catalog/models", headers=viewer)

        assert response.status_code == 200
        assert response.json() == {
            "items": [
                provider_item(
                    base_url="https://env.test/v1", configured=True, default_model="gpt-4o-mini"
                )
            ]
        }
        assert "sk-do-not-leak" not in response.text

    async def test_a_provider_without_a_key_is_not_configured(
        self, no_openai_env: None, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.get("/v1/catalog/models", headers=viewer)

        assert response.json() == {"items": [provider_item()]}

    async def test_the_callers_tenant_providers_become_configured_with_their_secret(
        self, no_openai_env: None, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        tenant = await Tenant.get(name="acme")
        await ModelProvider.create(
            tenant=tenant, name="local", base_url="http://gpu.test/v1", secret_name="LOCAL_KEY"
        )
        await ModelProvider.create(
            tenant=await Tenant.create(name="other"), name="theirs", secret_name="KEY"
        )
        before = await client.get("/v1/catalog/models", headers=viewer)
        await store_secret(tenant.id, "LOCAL_KEY", "sk-local-abc", box=make_box())

        after = await client.get("/v1/catalog/models", headers=viewer)

        local = provider_item(name="local", base_url="http://gpu.test/v1", source="tenant")
        environment = provider_item(default=False)
        assert before.json()["items"] == [local, environment]
        assert after.json()["items"] == [{**local, "configured": True}, environment]
        assert "sk-local-abc" not in after.text


class TestOpenApi:
    async def test_each_route_documents_its_body_and_401(self, client: httpx.AsyncClient) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]

        for route, model in zip(
            ROUTES, ["NodeTypeList", "ToolList", "ModelProviderList"], strict=True
        ):
            responses = paths[route]["get"]["responses"]
            ok = responses["200"]["content"]["application/json"]["schema"]
            assert ok == {"$ref": f"#/components/schemas/{model}"}
            assert "401" in responses
