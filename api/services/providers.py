"""Model providers of a tenant: stored endpoints, their check, and the ``ModelProviders`` of a run.

A provider row names the tenant secret holding its API key (``api.services.secrets``); the key
is decrypted only where it is used (a run's providers, a check), and every decrypted key is
remembered by the process's ``Redactor`` so that it is masked wherever it would show.

Which provider an ``llm`` node without ``provider`` uses (``default_provider``)::

    the tenant's provider named ``openai``, if it has one
    else the tenant's only provider, if it has exactly one
    else ``openai`` from the server's environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
         ``OPENAI_MODEL``): the zero-configuration default

The environment's ``openai`` also answers a node that names ``openai`` while the tenant has no
provider of that name.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx
import openai
from openai import AsyncOpenAI
from tortoise.transactions import in_transaction

from api.services.audit import record_audit
from api.services.keys import Principal
from api.services.secrets import secret_value
from shared.crypto import SecretBox
from shared.database.models import ModelProvider, ProviderKind, Role, Secret
from shared.errors import NotFoundError
from shared.redaction import Redactor
from workflow_compiler.error_mapping import from_openai
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.registries.models import ModelProviders, ProviderHandle, StaticModelProviders

__all__ = [
    "CHECK_TIMEOUT_S",
    "ENV_PROVIDER",
    "NOT_A_MODELS_LIST",
    "OPENAI_BASE_URL",
    "CheckFailure",
    "CheckFailureKind",
    "ProviderCheck",
    "ProviderNotFoundError",
    "TenantModelProviders",
    "check_provider",
    "configured_secrets",
    "default_provider",
    "delete_provider",
    "get_provider",
    "list_providers",
    "put_provider",
    "tenant_model_providers",
]

ENV_PROVIDER = "openai"
"""The provider the server's environment configures, and the preferred default name."""

OPENAI_BASE_URL = "https://api.openai.com/v1"
"""Where a provider without ``base_url`` points. Passed explicitly: left unset, the openai
client would read the server's ``OPENAI_BASE_URL`` and send a tenant's key there."""

CHECK_TIMEOUT_S = 10.0
"""Bounds one check's request: a person waits for the answer."""

NOT_A_MODELS_LIST = "the endpoint's answer is not an OpenAI models list"
"""Why a check of an endpoint that answered 200 with something else did not connect: a web
page, a proxy's login form, another API."""

CheckFailureKind = Literal[
    "auth", "network", "timeout", "rate_limited", "provider_error", "secret_missing"
]
"""Why a check did not connect: the key was refused (``auth``), the endpoint could not be
reached (``network``) or did not answer in time (``timeout``), it asked to slow down
(``rate_limited``), it answered with another error (``provider_error``), or the secret the
provider names does not exist or cannot be read (``secret_missing``)."""

_FAILURE_KINDS: Mapping[ErrorKind, CheckFailureKind] = {
    ErrorKind.AUTH_ERROR: "auth",
    ErrorKind.NETWORK_ERROR: "network",
    ErrorKind.TIMEOUT: "timeout",
    ErrorKind.RATE_LIMITED: "rate_limited",
}


class ProviderNotFoundError(NotFoundError):
    """No provider of this name in the principal's tenant."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckFailure:
    """Why a provider check did not connect."""

    kind: CheckFailureKind
    message: str
    """What the endpoint answered, with the key masked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderCheck:
    """The outcome of listing a provider's models with its key."""

    connected: bool
    models: list[str] | None = None
    """The model ids the endpoint lists, sorted; None when not connected."""
    error: CheckFailure | None = None
    """None when connected."""


def default_provider(names: Collection[str]) -> str:
    """The provider an ``llm`` node without ``provider`` uses, given the tenant's provider
    names (see the module docstring)."""
    if ENV_PROVIDER not in names and len(names) == 1:
        (only,) = names
        return only
    return ENV_PROVIDER


async def list_providers(principal: Principal) -> list[ModelProvider]:
    """The tenant's providers, by name.

    Raises:
        PermissionDeniedError: the principal is a viewer.
    """
    principal.require(Role.OPERATOR)
    return await ModelProvider.filter(tenant_id=principal.tenant_id).order_by("name")


async def get_provider(principal: Principal, name: str) -> ModelProvider:
    """The tenant's provider called ``name``.

    Raises:
        ProviderNotFoundError: the tenant has none of this name.
    """
    provider = await ModelProvider.get_or_none(tenant_id=principal.tenant_id, name=name)
    if provider is None:
        raise ProviderNotFoundError(f"no model provider named '{name}'")
    return provider


async def put_provider(
    principal: Principal,
    name: str,
    *,
    kind: ProviderKind,
    base_url: str | None,
    secret_name: str,
    default_model: str | None,
    at: datetime,
) -> tuple[ModelProvider, bool]:
    """Create the provider ``name``, or replace every setting of the existing one.

    The secret need not exist yet: a check, and the runs using the provider, then say that it
    is missing.

    Returns:
        The provider, and whether it was created.

    Raises:
        PermissionDeniedError: the principal is not an admin.
    """
    principal.require(Role.ADMIN)
    settings = {
        "kind": kind,
        "base_url": base_url,
        "secret_name": secret_name,
        "default_model": default_model,
    }
    async with in_transaction():
        provider, created = await ModelProvider.get_or_create(
            defaults=settings, tenant_id=principal.tenant_id, name=name
        )
        changes = {
            field: value for field, value in settings.items() if getattr(provider, field) != value
        }
        if changes:
            provider.update_from_dict(changes)
            await provider.save(update_fields=[*changes, "updated_at"])
        if created or changes:
            action = "provider.create" if created else "provider.update"
            detail = {"name": name, **(settings if created else changes)}
            await record_audit(principal, action, None, at=at, detail=detail)
    return provider, created


async def delete_provider(principal: Principal, name: str, *, at: datetime) -> None:
    """Delete the provider ``name``; the secret it names is kept.

    Raises:
        PermissionDeniedError: the principal is not an admin.
        ProviderNotFoundError: the tenant has none of this name.
    """
    principal.require(Role.ADMIN)
    provider = await get_provider(principal, name)
    async with in_transaction():
        await provider.delete()
        await record_audit(principal, "provider.delete", None, at=at, detail={"name": name})


async def check_provider(
    principal: Principal,
    name: str,
    *,
    box: SecretBox,
    redactor: Redactor,
    http: httpx.AsyncClient,
    env_secrets: Collection[str] = (),
) -> ProviderCheck:
    """List the provider's models with its key: whether it connects, and if not, why.

    A failed connection is an answer, not an error: the check ran. So is an endpoint that
    answers 200 with something else than a models list (``provider_error``).

    Args:
        env_secrets: The names an ``env`` secret may have (``PLAIT_ENV_SECRETS``), for a key
            held in one.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        ProviderNotFoundError: the tenant has none of this name.
    """
    principal.require(Role.OPERATOR)
    provider = await get_provider(principal, name)
    try:
        key = await _api_key(provider, box=box, redactor=redactor, env_secrets=env_secrets)
    except NodeError as exc:
        return ProviderCheck(
            connected=False, error=CheckFailure(kind="secret_missing", message=exc.message)
        )
    client = _client(provider, key, http=http, timeout_s=CHECK_TIMEOUT_S)
    try:
        answer = await client.models.with_raw_response.list()
    except openai.OpenAIError as exc:
        failure = from_openai(exc, provider=name, api_key=key)
        return ProviderCheck(
            connected=False,
            error=CheckFailure(
                kind=_FAILURE_KINDS.get(failure.kind, "provider_error"),
                message=redactor.text(failure.message),
            ),
        )
    models = _model_ids(answer.http_response)
    if models is None:
        return ProviderCheck(
            connected=False,
            error=CheckFailure(
                kind="provider_error", message=f"model provider '{name}': {NOT_A_MODELS_LIST}"
            ),
        )
    return ProviderCheck(connected=True, models=models)


def _model_ids(response: httpx.Response) -> list[str] | None:
    """The sorted model ids of an OpenAI models list (``{"data": [{"id": ...}, ...]}``), or
    None when ``response`` holds none.

    Read here rather than by the openai client, which fails on such bodies with whatever
    ``AttributeError`` or ``TypeError`` its parsing meets. Entries without a string id are
    left out, but a list in which no entry has one is not a models list.
    """
    try:
        body = response.json()
    except ValueError:  # not JSON, or not UTF-8
        return None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    ids = [
        entry["id"]
        for entry in data
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]
    if data and not ids:
        return None
    return sorted(ids)


async def configured_secrets(tenant_id: str, names: Collection[str]) -> set[str]:
    """Which of ``names`` are secrets of the tenant: a provider naming one can be called."""
    found = await Secret.filter(tenant_id=tenant_id, name__in=list(names)).values_list(
        "name", flat=True
    )
    return {str(name) for name in found}


class TenantModelProviders:
    """One tenant's providers, as a run resolves ``llm`` nodes with them.

    Keys are decrypted when the object is built (``tenant_model_providers``), because ``get``
    is synchronous; a provider whose secret could not be read is kept with that failure, so
    that only the nodes using it fail, each with the failure's kind (``secret_missing``).
    """

    def __init__(
        self,
        handles: Mapping[str, ProviderHandle],
        *,
        unavailable: Mapping[str, NodeError],
        fallback: ModelProviders,
    ) -> None:
        """
        Args:
            handles: The tenant's callable providers, by name.
            unavailable: The tenant's providers that cannot be called, with why.
            fallback: Answers every other name (the environment's ``openai``).
        """
        self._handles = dict(handles)
        self._unavailable = dict(unavailable)
        self._fallback = fallback
        self._default = default_provider([*self._handles, *self._unavailable])

    def get(self, name: str | None) -> ProviderHandle:
        wanted = name or self._default
        handle = self._handles.get(wanted)
        if handle is not None:
            return handle
        cause = self._unavailable.get(wanted)
        if cause is not None:
            raise NodeError(cause.kind, f"model provider '{wanted}': {cause.message}")
        return self._fallback.get(wanted)

    def names(self) -> list[str]:
        return sorted({*self._handles, *self._unavailable, *self._fallback.names()})


async def tenant_model_providers(
    tenant_id: str,
    *,
    box: SecretBox,
    redactor: Redactor,
    environ: Mapping[str, str],
    http: httpx.AsyncClient,
    env_secrets: Collection[str] = (),
) -> TenantModelProviders:
    """The model providers of one run of the tenant: its configured providers, their keys
    decrypted and remembered by ``redactor``, and the environment's ``openai`` unless the
    tenant configured a provider of that name.

    Args:
        tenant_id: Whose providers.
        box: Decrypts the secrets holding the keys.
        redactor: Remembers every key handed out, the environment's included.
        environ: The server's environment, for the ``openai`` default and ``env`` secrets.
        http: The process's client; every provider's requests go through it, so a run opens
            no connection pool of its own.
        env_secrets: The names an ``env`` secret may have (``PLAIT_ENV_SECRETS``), for keys
            held in one.
    """
    handles: dict[str, ProviderHandle] = {}
    unavailable: dict[str, NodeError] = {}
    for provider in await ModelProvider.filter(tenant_id=tenant_id).order_by("name"):
        try:
            key = await _api_key(
                provider, box=box, redactor=redactor, environ=environ, env_secrets=env_secrets
            )
        except NodeError as exc:
            unavailable[provider.name] = exc
            continue
        handles[provider.name] = ProviderHandle(
            name=provider.name,
            client=_client(provider, key, http=http),
            default_model=provider.default_model,
        )
    if ENV_PROVIDER in handles or ENV_PROVIDER in unavailable:
        fallback = StaticModelProviders({}, None)
    else:
        fallback = StaticModelProviders.from_env(environ, http_client=http)
        redactor.remember(key for key in [environ.get("OPENAI_API_KEY")] if key)
    return TenantModelProviders(handles, unavailable=unavailable, fallback=fallback)


async def _api_key(
    provider: ModelProvider,
    *,
    box: SecretBox,
    redactor: Redactor,
    environ: Mapping[str, str] = os.environ,
    env_secrets: Collection[str],
) -> str:
    """The provider's key, from the secret it names (an ``env`` secret is read from
    ``environ`` if ``env_secrets`` lists it), remembered by ``redactor``.

    Raises:
        NodeError: ``secret_missing``: the secret does not exist or cannot be read; the
            message names it.
    """
    key = await secret_value(
        provider.tenant_id,
        provider.secret_name,
        box=box,
        environ=environ,
        env_secrets=env_secrets,
    )
    redactor.remember([key])
    return key


def _client(
    provider: ModelProvider,
    key: str,
    *,
    http: httpx.AsyncClient,
    timeout_s: float | openai.NotGiven = openai.NOT_GIVEN,
) -> AsyncOpenAI:
    """A client of ``provider`` on the process's HTTP client. ``max_retries=0``: a node's retry
    policy decides about retries, and a check reports the first failure."""
    return AsyncOpenAI(
        api_key=key,
        base_url=provider.base_url or OPENAI_BASE_URL,
        http_client=http,
        timeout=timeout_s,
        max_retries=0,
    )
