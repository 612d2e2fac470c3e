"""Dependencies that routers declare with ``Annotated``: who is calling, and what they may do.

    @router.get("/audit")
    async def list_audit(principal: Admin) -> ...

where ``Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]``. Failures are domain
errors (``UnauthenticatedError``, ``PermissionDeniedError``), which the problem handler table turns
into 401 (with ``WWW-Authenticate: Bearer``) and 403 responses, like every other error.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import State

from api.services import Principal, UnauthenticatedError, authenticate
from api.services.run_events import RunEventHub
from shared.crypto import SecretBox
from shared.database.models import Role
from shared.redaction import Redactor
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.models import ModelProviders, StaticModelProviders
from workflow_compiler.registries.tools import ToolRegistry

__all__ = [
    "Admin",
    "CurrentPrincipal",
    "EnvSecretsDep",
    "HttpDep",
    "Operator",
    "ProvidersDep",
    "RedactorDep",
    "RunEventHubDep",
    "SecretBoxDep",
    "SseHeartbeatDep",
    "ToolsDep",
    "app_model_providers",
    "app_tools",
    "require_role",
]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Bearer plait_…`")
"""Reads ``Authorization: Bearer <token>``; gives None for a missing or non-Bearer header so
that the refusal is ours (a problem document) rather than FastAPI's own error body."""


async def _current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of the API key in the ``Authorization`` header.

    Raises:
        UnauthenticatedError: no Bearer credential, or not an active key.
    """
    if credentials is None:
        raise UnauthenticatedError("an API key is required: send 'Authorization: Bearer <key>'")
    principal = await authenticate(credentials.credentials, at=datetime.now(UTC))
    request.state.tenant_id = principal.tenant_id  # problem details mask this tenant's secrets
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]
"""The authenticated caller, of any role."""


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency giving the caller if its role includes ``role``.

    Raises (from the dependency):
        UnauthenticatedError: the caller is not authenticated.
        PermissionDeniedError: the caller's role is lower than ``role``.
    """

    async def principal_with_role(principal: CurrentPrincipal) -> Principal:
        principal.require(role)
        return principal

    return principal_with_role


Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
"""The caller, who must be an operator or an admin (writes, starting and acting on runs)."""

Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
"""The caller, who must be an admin."""


def app_tools(state: State) -> ToolRegistry:
    """The app's tool registry, built on first use and kept on ``app.state.tools``.

    Loading the plugins' entry points is slow and must give every request the same tools, so
    it happens once per app. A test may put its own registry on ``app.state.tools`` first.
    """
    registry: ToolRegistry | None = getattr(state, "tools", None)
    if registry is None:
        registry = state.tools = default_tool_registry()
    return registry


async def _tools(request: Request) -> ToolRegistry:
    # The dependencies reading app.state are ``async def``: FastAPI would run a plain ``def``
    # in its thread pool, a hand-off per dependency per request for an attribute read.
    return app_tools(request.app.state)


ToolsDep = Annotated[ToolRegistry, Depends(_tools)]
"""The tools specs may call, the same registry for every request of the app."""


def app_model_providers(state: State) -> ModelProviders:
    """The app's model providers, kept on ``app.state.model_providers``.

    Read from the process environment (``OPENAI_API_KEY``, …) on first use, like the CLI;
    providers stored per tenant will replace this source.
    """
    providers: ModelProviders | None = getattr(state, "model_providers", None)
    if providers is None:
        providers = state.model_providers = StaticModelProviders.from_env(os.environ)
    return providers


async def _model_providers(request: Request) -> ModelProviders:
    return app_model_providers(request.app.state)


ProvidersDep = Annotated[ModelProviders, Depends(_model_providers)]
"""The model providers ``llm`` nodes resolve their ``provider`` with."""


async def _http(request: Request) -> httpx.AsyncClient:
    """The app's client (``app.state.http``, opened by the lifespan)."""
    http: httpx.AsyncClient = request.app.state.http
    return http


HttpDep = Annotated[httpx.AsyncClient, Depends(_http)]
"""The process's outbound HTTP client: requests to model providers share its connections."""


async def _redactor(request: Request) -> Redactor:
    """The app's redactor (``app.state.redactor``, made by ``create_app``)."""
    redactor: Redactor = request.app.state.redactor
    return redactor


RedactorDep = Annotated[Redactor, Depends(_redactor)]
"""Remembers the secret values the process uses, so that they are masked wherever they show."""


async def _secret_box(request: Request) -> SecretBox:
    """The app's box (``app.state.secret_box``, opened and checked by the lifespan)."""
    box: SecretBox = request.app.state.secret_box
    return box


SecretBoxDep = Annotated[SecretBox, Depends(_secret_box)]
"""Encrypts secret values before they are stored, and decrypts them where they are used."""


async def _env_secrets(request: Request) -> tuple[str, ...]:
    """The names ``env`` secrets may have (``PLAIT_ENV_SECRETS`` of the app's settings)."""
    names: tuple[str, ...] = request.app.state.settings.env_secrets
    return names


EnvSecretsDep = Annotated[tuple[str, ...], Depends(_env_secrets)]
"""Which ``PLAIT_SECRET_<NAME>`` variables of the server tenants may read as ``env`` secrets."""


async def _run_events(request: Request) -> RunEventHub:
    """The app's hub (``app.state.run_events``, made by ``create_app``)."""
    hub: RunEventHub = request.app.state.run_events
    return hub


RunEventHubDep = Annotated[RunEventHub, Depends(_run_events)]
"""Tells followers of a run (SSE streams) that it has new events or a new status."""


async def _sse_heartbeat_s(request: Request) -> float:
    """Seconds between keep-alive comments of an idle event stream
    (``app.state.sse_heartbeat_s``; tests shorten it)."""
    heartbeat_s: float = request.app.state.sse_heartbeat_s
    return heartbeat_s


SseHeartbeatDep = Annotated[float, Depends(_sse_heartbeat_s)]
