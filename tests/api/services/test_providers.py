"""Model providers: stored settings per tenant, the connection check, and a run's providers."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from api.services import Principal
from api.services.providers import (
    NOT_A_MODELS_LIST,
    OPENAI_BASE_URL,
    CheckFailure,
    ProviderCheck,
    ProviderNotFoundError,
    TenantModelProviders,
    check_provider,
    default_provider,
    delete_provider,
    list_providers,
    put_provider,
    tenant_model_providers,
)
from shared.crypto import SecretBox
from shared.database.models import (
    AuditEvent,
    ModelProvider,
    ProviderKind,
    Role,
    Secret,
    SecretProvider,
    Tenant,
)
from shared.errors import PermissionDeniedError
from shared.redaction import Redactor
from tests.support.principals import principal
from tests.support.secrets import make_box, store_secret
from tests.workflow_compiler.executors.test_llm import completion, llm_node
from workflow_compiler.context import RunContext, RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.executors.base import Invocation
from workflow_compiler.executors.llm import LlmExecutor

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = "sk-local-9f8e7d6c5b4a"
BASE_URL = "https://llm.acme.test/v1"
MODELS_URL = f"{BASE_URL}/models"
ENVIRON = {"OPENAI_API_KEY": "sk-env-0a1b2c3d", "OPENAI_BASE_URL": "https://env.test/v1"}


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


@pytest.fixture
def admin(tenant: Tenant) -> Principal:
    return principal(tenant)


@pytest.fixture
async def stranger(database: str) -> Principal:
    return principal(await Tenant.create(name="other"))


@pytest.fixture
def box() -> SecretBox:
    return make_box()


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    """Every outbound request is mocked; an unrouted one fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def local_key(admin: Principal, box: SecretBox) -> None:
    """The admin's tenant has the secret ``LOCAL_KEY``, holding ``KEY``."""
    await store_secret(admin.tenant_id, "LOCAL_KEY", KEY, box=box)


Check = Callable[[Principal], Awaitable[ProviderCheck]]
"""Checks the provider ``local`` as the given principal."""


@pytest.fixture
def check(box: SecretBox, redactor: Redactor, http: httpx.AsyncClient) -> Check:
    async def check_local(who: Principal) -> ProviderCheck:
        return await check_provider(who, "local", box=box, redactor=redactor, http=http)

    return check_local


Providers = Callable[[Principal], Awaitable[TenantModelProviders]]
"""The model providers of a run of the given principal's tenant, with ``ENVIRON``."""


@pytest.fixture
def providers(box: SecretBox, redactor: Redactor, http: httpx.AsyncClient) -> Providers:
    async def of_tenant(who: Principal) -> TenantModelProviders:
        return await tenant_model_providers(
            who.tenant_id, box=box, redactor=redactor, environ=ENVIRON, http=http
        )

    return of_tenant


async def put_local(admin: Principal, name: str = "local", **settings: Any) -> ModelProvider:
    """The provider ``name`` at ``BASE_URL`` with its key in the secret ``LOCAL_KEY``."""
    fields: dict[str, Any] = {
        "kind": ProviderKind.OPENAI,
        "base_url": BASE_URL,
        "secret_name": "LOCAL_KEY",
        "default_model": "llama3",
        **settings,
    }
    provider, _created = await put_provider(admin, name, at=AT, **fields)
    return provider


def models_page(*ids: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "object": "list",
            "data": [
                {"id": model_id, "object": "model", "created": 0, "owned_by": "acme"}
                for model_id in ids
            ],
        },
    )


class TestPutProvider:
    async def test_creates_then_replaces_with_an_audit_event_each(self, admin: Principal) -> None:
        created = await put_local(admin)
        replaced, was_created = await put_provider(
            admin,
            "local",
            kind=ProviderKind.OPENAI,
            base_url=None,
            secret_name="OTHER_KEY",
            default_model=None,
            at=AT,
        )

        assert not was_created
        assert replaced.id == created.id
        stored = await ModelProvider.get(id=created.id)
        assert (stored.base_url, stored.secret_name, stored.default_model) == (
            None,
            "OTHER_KEY",
            None,
        )
        events = await AuditEvent.filter(tenant_id=admin.tenant_id).order_by("id")
        assert [(e.action, e.data) for e in events] == [
            (
                "provider.create",
                {
                    "name": "local",
                    "kind": "openai",
                    "base_url": BASE_URL,
                    "secret_name": "LOCAL_KEY",
                    "default_model": "llama3",
                },
            ),
            (
                "provider.update",
                {
                    "name": "local",
                    "base_url": None,
                    "secret_name": "OTHER_KEY",
                    "default_model": None,
                },
            ),
        ]

    async def test_an_unchanged_put_records_nothing(self, admin: Principal) -> None:
        await put_local(admin)
        await put_local(admin)

        assert await AuditEvent.filter(tenant_id=admin.tenant_id).count() == 1

    async def test_the_same_name_in_two_tenants_is_two_providers(
        self, admin: Principal, stranger: Principal
    ) -> None:
        await put_local(admin)
        await put_local(stranger, base_url="https://other.test/v1")

        assert [p.base_url for p in await list_providers(admin)] == [BASE_URL]
        assert [p.base_url for p in await list_providers(stranger)] == ["https://other.test/v1"]

    @pytest.mark.parametrize("role", [Role.OPERATOR, Role.VIEWER])
    async def test_only_an_admin_writes(self, tenant: Tenant, role: Role) -> None:
        with pytest.raises(PermissionDeniedError):
            await put_local(principal(tenant, role))

        assert await ModelProvider.all().count() == 0


class TestListProviders:
    async def test_by_name(self, admin: Principal) -> None:
        await put_local(admin, "zeta")
        await put_local(admin, "alpha")

        assert [p.name for p in await list_providers(admin)] == ["alpha", "zeta"]

    async def test_a_viewer_may_not(self, tenant: Tenant) -> None:
        with pytest.raises(PermissionDeniedError):
            await list_providers(principal(tenant, Role.VIEWER))


class TestDeleteProvider:
    async def test_deletes_and_audits(self, admin: Principal) -> None:
        await put_local(admin)

        await delete_provider(admin, "local", at=AT)

        assert await list_providers(admin) == []
        last = await AuditEvent.filter(tenant_id=admin.tenant_id).order_by("-id").first()
        assert last is not None
        assert (last.action, last.data) == ("provider.delete", {"name": "local"})

    async def test_another_tenants_provider_is_not_found(
        self, admin: Principal, stranger: Principal
    ) -> None:
        await put_local(admin)

        with pytest.raises(ProviderNotFoundError, match="'local'"):
            await delete_provider(stranger, "local", at=AT)

        assert len(await list_providers(admin)) == 1

    async def test_an_operator_may_not(self, admin: Principal, tenant: Tenant) -> None:
        await put_local(admin)

        with pytest.raises(PermissionDeniedError):
            await delete_provider(principal(tenant, Role.OPERATOR), "local", at=AT)


class TestCheckProvider:
    async def test_connected_lists_the_model_ids_sorted_with_the_key_sent(
        self,
        admin: Principal,
        local_key: None,
        check: Check,
        redactor: Redactor,
        mock_http: respx.MockRouter,
    ) -> None:
        await put_local(admin)
        route = mock_http.get(MODELS_URL).mock(return_value=models_page("qwen", "llama3"))

        result = await check(admin)

        assert result == ProviderCheck(connected=True, models=["llama3", "qwen"])
        assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"
        assert redactor.text(f"key={KEY}") == "key=***"

    async def test_without_base_url_it_asks_openai_whatever_the_environment_says(
        self,
        admin: Principal,
        local_key: None,
        check: Check,
        mock_http: respx.MockRouter,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", "https://elsewhere.test/v1")
        await put_local(admin, base_url=None)
        mock_http.get(f"{OPENAI_BASE_URL}/models").mock(return_value=models_page("gpt-4o"))

        result = await check(admin)

        assert result.models == ["gpt-4o"]

    @pytest.mark.parametrize(
        ("answer", "kind"),
        [
            (
                httpx.Response(401, json={"error": {"message": f"Incorrect API key: {KEY}"}}),
                "auth",
            ),
            (httpx.Response(403, json={"error": {"message": "not allowed"}}), "auth"),
            (httpx.Response(429, json={"error": {"message": "slow down"}}), "rate_limited"),
            (httpx.Response(500, json={"error": {"message": "boom"}}), "provider_error"),
            (httpx.ReadTimeout("read timed out"), "timeout"),
            (httpx.ConnectTimeout("connect timed out"), "timeout"),
            (httpx.ConnectError("connection refused"), "network"),
        ],
    )
    async def test_a_failure_is_an_answer_with_its_kind_and_never_the_key(
        self,
        admin: Principal,
        local_key: None,
        check: Check,
        mock_http: respx.MockRouter,
        answer: httpx.Response | Exception,
        kind: str,
    ) -> None:
        await put_local(admin)
        route = mock_http.get(MODELS_URL)
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)

        result = await check(admin)

        assert not result.connected
        assert result.models is None
        assert result.error is not None
        assert result.error.kind == kind
        assert "'local'" in result.error.message
        assert KEY not in result.error.message
        assert route.call_count == 1, "a check is never retried"

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(200, text="<html>Sign in</html>", headers={"content-type": "text/html"}),
            httpx.Response(200, text="<html>", headers={"content-type": "application/json"}),
            httpx.Response(200, content=b"\xff\xfe\x00", headers={"content-type": "text/plain"}),
            httpx.Response(200, json={"data": None}),
            httpx.Response(200, json={"object": "list"}),
            httpx.Response(200, json=[{"id": "gpt-4o"}]),
            httpx.Response(200, json="gpt-4o"),
            httpx.Response(200, json={"data": "gpt-4o"}),
            httpx.Response(200, json={"data": [{"object": "model"}]}),
            httpx.Response(200, json={"data": [{"id": None}]}),
            httpx.Response(200, json={"data": [{"id": 3}, ["x"], "gpt-4o"]}),
        ],
    )
    async def test_an_answer_that_is_not_a_models_list_is_a_provider_error(
        self,
        admin: Principal,
        local_key: None,
        check: Check,
        mock_http: respx.MockRouter,
        answer: httpx.Response,
    ) -> None:
        await put_local(admin)
        mock_http.get(MODELS_URL).mock(return_value=answer)

        result = await check(admin)

        assert result == ProviderCheck(
            connected=False,
            error=CheckFailure(
                kind="provider_error", message=f"model provider 'local': {NOT_A_MODELS_LIST}"
            ),
        )

    @pytest.mark.parametrize(
        ("data", "models"),
        [
            ([], []),
            ([{"id": "b"}, {"id": None}, {"id": 7}, {"object": "model"}, {"id": "a"}], ["a", "b"]),
        ],
    )
    async def test_only_string_ids_are_listed(
        self,
        admin: Principal,
        local_key: None,
        check: Check,
        mock_http: respx.MockRouter,
        data: list[Any],
        models: list[str],
    ) -> None:
        await put_local(admin)
        mock_http.get(MODELS_URL).mock(return_value=httpx.Response(200, json={"data": data}))

        assert await check(admin) == ProviderCheck(connected=True, models=models)

    async def test_a_key_in_an_env_secret_only_when_the_operator_lists_it(
        self,
        admin: Principal,
        box: SecretBox,
        redactor: Redactor,
        http: httpx.AsyncClient,
        mock_http: respx.MockRouter,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("PLAIT_SECRET_LOCAL_KEY", KEY)
        await Secret.create(
            tenant_id=admin.tenant_id, name="LOCAL_KEY", provider=SecretProvider.ENV
        )
        await put_local(admin)
        route = mock_http.get(MODELS_URL).mock(return_value=models_page("llama3"))

        unlisted = await check_provider(admin, "local", box=box, redactor=redactor, http=http)
        listed = await check_provider(
            admin, "local", box=box, redactor=redactor, http=http, env_secrets=["LOCAL_KEY"]
        )

        assert unlisted.error is not None
        assert unlisted.error.kind == "secret_missing"
        assert "PLAIT_ENV_SECRETS" in unlisted.error.message
        assert listed == ProviderCheck(connected=True, models=["llama3"])
        assert route.call_count == 1
        assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"

    async def test_a_missing_secret_is_an_answer_naming_it(
        self, admin: Principal, check: Check, mock_http: respx.MockRouter
    ) -> None:
        await put_local(admin)

        result = await check(admin)

        assert result.connected is False
        assert result.error is not None
        assert result.error.kind == "secret_missing"
        assert "LOCAL_KEY" in result.error.message
        assert not mock_http.calls

    async def test_another_tenants_provider_is_not_found(
        self, admin: Principal, stranger: Principal, check: Check
    ) -> None:
        await put_local(admin)

        with pytest.raises(ProviderNotFoundError):
            await check(stranger)

    async def test_a_viewer_may_not(self, admin: Principal, tenant: Tenant, check: Check) -> None:
        await put_local(admin)

        with pytest.raises(PermissionDeniedError):
            await check(principal(tenant, Role.VIEWER))


class TestDefaultProvider:
    @pytest.mark.parametrize(
        ("names", "default"),
        [
            ([], "openai"),
            (["local"], "local"),
            (["openai"], "openai"),
            (["local", "openai"], "openai"),
            (["local", "remote"], "openai"),
        ],
    )
    def test_openai_else_the_only_one_else_the_environments(
        self, names: list[str], default: str
    ) -> None:
        assert default_provider(names) == default


class TestTenantModelProviders:
    async def test_an_llm_node_calls_the_tenants_provider_with_its_key(
        self,
        admin: Principal,
        local_key: None,
        providers: Providers,
        redactor: Redactor,
        services: RuntimeServices,
        mock_http: respx.MockRouter,
    ) -> None:
        await put_local(admin)
        chat = mock_http.post(f"{BASE_URL}/chat/completions").mock(return_value=completion("hello"))
        models = await providers(admin)
        run = RunContext(run_id="run_test", services=dataclasses.replace(services, models=models))
        node = llm_node(provider="local", model=None)

        result = await LlmExecutor(node)(
            Invocation(run=run, node_id=node.id, attempt=1, scope={}, timeout_s=None)
        )

        assert result.output == "hello"
        request = chat.calls.last.request
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert json.loads(request.content)["model"] == "llama3"
        assert redactor.text(KEY) == "***"

    async def test_the_only_provider_is_the_default(
        self, admin: Principal, local_key: None, providers: Providers, redactor: Redactor
    ) -> None:
        await put_local(admin)

        models = await providers(admin)

        assert models.get(None).name == "local"
        assert models.get("openai").client.api_key == ENVIRON["OPENAI_API_KEY"]
        assert models.names() == ["local", "openai"]
        assert redactor.text(ENVIRON["OPENAI_API_KEY"]) == "***"

    async def test_a_tenant_provider_named_openai_replaces_the_environments(
        self, admin: Principal, local_key: None, providers: Providers
    ) -> None:
        await put_local(admin, "openai")
        await put_local(admin, "other")

        models = await providers(admin)

        handle = models.get(None)
        assert (handle.name, handle.client.api_key) == ("openai", KEY)
        assert str(handle.client.base_url) == f"{BASE_URL}/"
        assert models.names() == ["openai", "other"]

    async def test_without_providers_the_environment_is_the_default(
        self, admin: Principal, providers: Providers
    ) -> None:
        models = await providers(admin)

        handle = models.get(None)
        assert (handle.name, str(handle.client.base_url)) == ("openai", "https://env.test/v1/")

    async def test_a_provider_whose_secret_is_missing_fails_only_its_nodes(
        self, admin: Principal, local_key: None, providers: Providers
    ) -> None:
        await put_local(admin, "broken", secret_name="NOT_THERE")
        await put_local(admin, "local")

        models = await providers(admin)

        with pytest.raises(NodeError) as failure:
            models.get("broken")
        assert failure.value.kind == ErrorKind.SECRET_MISSING
        assert "'broken'" in failure.value.message
        assert "NOT_THERE" in failure.value.message
        assert models.get("local").client.api_key == KEY

    async def test_another_tenants_providers_are_unknown(
        self, admin: Principal, stranger: Principal, local_key: None, providers: Providers
    ) -> None:
        await put_local(admin)

        models = await providers(stranger)

        with pytest.raises(NodeError, match="unknown model provider 'local'"):
            models.get("local")

    async def test_a_key_in_an_env_secret_is_read_only_when_listed(
        self, admin: Principal, box: SecretBox, redactor: Redactor, http: httpx.AsyncClient
    ) -> None:
        await Secret.create(
            tenant_id=admin.tenant_id, name="LOCAL_KEY", provider=SecretProvider.ENV
        )
        await put_local(admin)
        environ = {**ENVIRON, "PLAIT_SECRET_LOCAL_KEY": KEY}

        listed, unlisted = [
            await tenant_model_providers(
                admin.tenant_id,
                box=box,
                redactor=redactor,
                environ=environ,
                http=http,
                env_secrets=names,
            )
            for names in (["LOCAL_KEY"], [])
        ]

        assert listed.get("local").client.api_key == KEY
        with pytest.raises(NodeError, match="PLAIT_ENV_SECRETS") as failure:
            unlisted.get("local")
        assert failure.value.kind == ErrorKind.SECRET_MISSING
