"""``/v1/providers``: admins write, operators list and check; never a key in any answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from shared.crypto import SecretBox
from shared.database.models import Role, Secret, SecretProvider, Tenant
from tests.api.routers.conftest import key_headers
from tests.support.api import assert_problem, paths
from tests.support.secrets import make_box, store_secret

KEY = "sk-route-5e6f7a8b9c0d"
BASE_URL = "https://llm.acme.test/v1"
MODELS_URL = f"{BASE_URL}/models"
SETTINGS: dict[str, Any] = {
    "kind": "openai",
    "base_url": BASE_URL,
    "secret_name": "LOCAL_KEY",
    "default_model": "llama3",
}


@pytest.fixture
def box(app: FastAPI) -> SecretBox:
    """The app's secret box, made known to the test so that it can store secrets."""
    box = make_box()
    app.state.secret_box = box
    return box


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    """Every outbound request of the app is mocked; an unrouted one fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def local(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, Any]:
    """The provider ``local``, its key's secret not stored yet."""
    response = await client.put("/v1/providers/local", json=SETTINGS, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def check(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/v1/providers/local/check", headers=headers)


class TestPut:
    async def test_201_then_200_with_the_settings(
        self, client: httpx.AsyncClient, admin: dict[str, str], local: dict[str, Any]
    ) -> None:
        assert {k: local[k] for k in SETTINGS} == SETTINGS
        assert local["name"] == "local"

        response = await client.put(
            "/v1/providers/local", json={"secret_name": "OTHER_KEY"}, headers=admin
        )

        assert response.status_code == 200
        body = response.json()
        assert (body["kind"], body["base_url"], body["secret_name"], body["default_model"]) == (
            "openai",
            None,
            "OTHER_KEY",
            None,
        )
        assert body["created_at"] == local["created_at"]

    async def test_a_base_url_is_kept_without_its_trailing_slash(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        body = {**SETTINGS, "base_url": "http://localhost:11434/v1/"}

        response = await client.put("/v1/providers/ollama", json=body, headers=admin)

        assert response.json()["base_url"] == "http://localhost:11434/v1"

    @pytest.mark.parametrize("role", [Role.OPERATOR, Role.VIEWER])
    async def test_403_below_admin(
        self, client: httpx.AsyncClient, tenant: Tenant, role: Role
    ) -> None:
        headers = await key_headers(tenant, role)

        response = await client.put("/v1/providers/local", json=SETTINGS, headers=headers)

        assert_problem(response, 403, "forbidden")

    @pytest.mark.parametrize(
        ("change", "path"),
        [
            ({"kind": "anthropic"}, "body.kind"),
            ({"base_url": "ftp://llm.test/v1"}, "body.base_url"),
            ({"base_url": "not a url"}, "body.base_url"),
            ({"base_url": "https://user:pass@llm.test/v1"}, "body.base_url"),
            ({"base_url": "https://llm.test/v1?key=abc"}, "body.base_url"),
            ({"secret_name": "1KEY"}, "body.secret_name"),
            ({"secret_name": "my-key"}, "body.secret_name"),
            ({"secret_name": None}, "body.secret_name"),
            ({"default_model": ""}, "body.default_model"),
            ({"api_key": KEY}, "body.api_key"),
        ],
    )
    async def test_422_names_the_bad_field(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        change: dict[str, Any],
        path: str,
    ) -> None:
        response = await client.put(
            "/v1/providers/local", json={**SETTINGS, **change}, headers=admin
        )

        assert paths(assert_problem(response, 422, "validation_failed")) == [path]
        assert KEY not in response.text

    async def test_422_without_the_secret_name(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        response = await client.put("/v1/providers/local", json={}, headers=admin)

        assert paths(assert_problem(response, 422, "validation_failed")) == ["body.secret_name"]

    @pytest.mark.parametrize("name", ["-local", "lo cal", "lo:cal", "x" * 65, "é"])
    async def test_422_for_a_bad_name(
        self, client: httpx.AsyncClient, admin: dict[str, str], name: str
    ) -> None:
        response = await client.put(f"/v1/providers/{name}", json=SETTINGS, headers=admin)

        assert paths(assert_problem(response, 422, "validation_failed")) == ["path.name"]


class TestList:
    async def test_operators_see_settings_and_never_a_key(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        local: dict[str, Any],
        box: SecretBox,
        tenant: Tenant,
    ) -> None:
        await store_secret(tenant.id, "LOCAL_KEY", KEY, box=box)

        response = await client.get("/v1/providers", headers=operator)

        assert response.status_code == 200
        assert response.json() == {"items": [local]}
        assert KEY not in response.text

    async def test_403_for_a_viewer(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        assert_problem(await client.get("/v1/providers", headers=viewer), 403, "forbidden")

    async def test_another_tenant_sees_none(
        self, client: httpx.AsyncClient, stranger: dict[str, str], local: dict[str, Any]
    ) -> None:
        response = await client.get("/v1/providers", headers=stranger)

        assert response.json() == {"items": []}


class TestDelete:
    async def test_204_then_404(
        self, client: httpx.AsyncClient, admin: dict[str, str], local: dict[str, Any]
    ) -> None:
        first = await client.delete("/v1/providers/local", headers=admin)
        again = await client.delete("/v1/providers/local", headers=admin)

        assert first.status_code == 204
        assert_problem(again, 404, "not_found")

    async def test_404_for_another_tenant(
        self, client: httpx.AsyncClient, stranger: dict[str, str], local: dict[str, Any]
    ) -> None:
        response = await client.delete("/v1/providers/local", headers=stranger)

        assert_problem(response, 404, "not_found")

    async def test_403_for_an_operator(
        self, client: httpx.AsyncClient, operator: dict[str, str], local: dict[str, Any]
    ) -> None:
        response = await client.delete("/v1/providers/local", headers=operator)

        assert_problem(response, 403, "forbidden")


class TestCheck:
    @pytest.fixture
    async def stored_key(self, local: dict[str, Any], box: SecretBox, tenant: Tenant) -> None:
        await store_secret(tenant.id, "LOCAL_KEY", KEY, box=box)

    async def test_connected_with_the_model_ids(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        stored_key: None,
        mock_http: respx.MockRouter,
    ) -> None:
        route = mock_http.get(MODELS_URL).mock(
            return_value=httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": [
                        {"id": "qwen", "object": "model", "created": 0, "owned_by": "x"},
                        {"id": "llama3", "object": "model", "created": 0, "owned_by": "x"},
                    ],
                },
            )
        )

        response = await check(client, operator)

        assert response.status_code == 200
        assert response.json() == {"connected": True, "models": ["llama3", "qwen"]}
        assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"

    @pytest.mark.parametrize(
        ("answer", "kind"),
        [
            (httpx.Response(401, json={"error": {"message": f"Bad key {KEY}"}}), "auth"),
            (httpx.Response(429, json={"error": {"message": "slow down"}}), "rate_limited"),
            (httpx.ReadTimeout("timed out"), "timeout"),
            (httpx.ConnectError("refused"), "network"),
        ],
    )
    async def test_not_connected_with_the_kind_and_never_the_key(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        stored_key: None,
        mock_http: respx.MockRouter,
        answer: httpx.Response | Exception,
        kind: str,
    ) -> None:
        route = mock_http.get(MODELS_URL)
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)

        response = await check(client, operator)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"connected", "error"}
        assert body["connected"] is False
        assert body["error"]["kind"] == kind
        assert KEY not in response.text

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(200, text="<html>Sign in</html>", headers={"content-type": "text/html"}),
            httpx.Response(200, json={"data": None}),
            httpx.Response(200, json=[{"id": "gpt-4o"}]),
            httpx.Response(200, json={"data": [{"object": "model"}]}),
            httpx.Response(200, json={"data": [{"id": None}]}),
        ],
    )
    async def test_an_answer_that_is_not_a_models_list_is_not_connected(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        stored_key: None,
        mock_http: respx.MockRouter,
        answer: httpx.Response,
    ) -> None:
        mock_http.get(MODELS_URL).mock(return_value=answer)

        response = await check(client, operator)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "connected": False,
            "error": {
                "kind": "provider_error",
                "message": "model provider 'local': the endpoint's answer is not an OpenAI "
                "models list",
            },
        }

    async def test_a_key_in_an_env_secret_the_operator_lists(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        local: dict[str, Any],
        tenant: Tenant,
        box: SecretBox,
        mock_http: respx.MockRouter,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("PLAIT_SECRET_LOCAL_KEY", KEY)
        await Secret.create(tenant_id=tenant.id, name="LOCAL_KEY", provider=SecretProvider.ENV)
        route = mock_http.get(MODELS_URL).mock(
            return_value=httpx.Response(200, json={"data": [{"id": "llama3"}]})
        )

        unlisted = await check(client, operator)
        app.state.settings = app.state.settings.model_copy(update={"env_secrets": ("LOCAL_KEY",)})
        listed = await check(client, operator)

        assert unlisted.json()["error"]["kind"] == "secret_missing"
        assert "PLAIT_ENV_SECRETS" in unlisted.json()["error"]["message"]
        assert listed.json() == {"connected": True, "models": ["llama3"]}
        assert route.call_count == 1
        assert KEY not in unlisted.text + listed.text

    async def test_a_missing_secret_is_not_connected_naming_it(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        local: dict[str, Any],
        box: SecretBox,
        mock_http: respx.MockRouter,
    ) -> None:
        response = await check(client, operator)

        assert response.status_code == 200
        error = response.json()["error"]
        assert error["kind"] == "secret_missing"
        assert "LOCAL_KEY" in error["message"]
        assert not mock_http.calls

    async def test_404_for_another_tenant(
        self,
        client: httpx.AsyncClient,
        stranger: dict[str, str],
        stored_key: None,
        mock_http: respx.MockRouter,
    ) -> None:
        assert_problem(await check(client, stranger), 404, "not_found")
        assert not mock_http.calls

    async def test_403_for_a_viewer(
        self, client: httpx.AsyncClient, viewer: dict[str, str], stored_key: None
    ) -> None:
        assert_problem(await check(client, viewer), 403, "forbidden")
