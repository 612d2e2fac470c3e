"""The HTTP API's application factory: ``create_app(settings)``.

The settings are built once by the entry point (``plait api``, tests) and passed in; they live
on ``app.state.settings`` for the dependencies that need them. The lifespan opens the database
(applying pending migrations when ``settings.migrate_on_start``) before the first request and
closes it after the last.

Tortoise binds its ORM to the ``contextvars`` context that initialized it, and a server runs
the lifespan in a task of its own: requests would not see the database. The lifespan therefore
makes its Tortoise context the process-wide fallback (``set_global_context``), which closing
the database clears again. One app per process owns the database at a time.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
from fastapi import FastAPI
from starlette.datastructures import State
from tortoise.context import get_current_context, set_global_context

from api.deps import app_model_providers, app_tools
from api.limits import BodyLimitMiddleware
from api.openapi import install_openapi
from api.problems import install_problem_handlers
from api.routers import API_ROUTER
from api.routers.sse import SSE_HEARTBEAT_S
from api.services import recovery
from api.services.providers import tenant_model_providers
from api.services.run_events import RecordingSink, RunEventHub
from api.services.run_executor import RunExecutor
from api.services.secrets import TenantSecrets
from shared.config import Settings
from shared.crypto import SecretBox, open_secret_box
from shared.database import close_database, init_database
from shared.database.checkpointer import TortoiseSaver
from shared.redaction import LogRedaction, Redactor, redactor_for
from workflow_compiler.context import RuntimeServices
from workflow_compiler.secrets import MappingSecrets

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1"
"""Every route lives under this prefix (DESIGN §6)."""


def create_app(settings: Settings, *, recover_runs: bool = False) -> FastAPI:
    """The Plait API for ``settings``: routers under ``/v1``, errors as problem+json.

    Args:
        settings: This process's settings; the database is opened from them at startup.
        recover_runs: At startup, take up the runs a previous start left running or queued
            (``api.services.recovery``): only for a process that is its database's sole
            executor, i.e. ``plait serve``.

    Returns:
        The ASGI application, ready for uvicorn or an httpx ``ASGITransport``.
    """
    app = FastAPI(
        title="Plait",
        summary="Self-hosted engine for agentic workflows.",
        version="0.1.0",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.redactor = redactor_for(settings)
    app.state.recover_runs = recover_runs
    app.state.run_events = RunEventHub()
    app.state.sse_heartbeat_s = SSE_HEARTBEAT_S
    app.include_router(API_ROUTER, prefix=API_PREFIX)
    install_problem_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    redactor: Redactor | None = app.state.redactor
    stop_log_redaction = (
        LogRedaction(redactor).install() if redactor is not None else _nothing_to_stop
    )
    try:
        async with _database(settings), httpx.AsyncClient() as http:
            app.state.http = http
            app.state.secret_box = await open_secret_box(settings)
            executor = app.state.runs = _run_executor(app.state, http)
            try:
                if app.state.recover_runs:
                    await recovery.recover_runs(executor)
                yield
            finally:
                await executor.aclose()
    finally:
        stop_log_redaction()


def _nothing_to_stop() -> None:
    return None


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[None]:
    """The database, open (and migrated when configured) for the app's lifetime, and the
    process-wide Tortoise context (see the module docstring)."""
    await init_database(
        settings.database_url,
        migrate=settings.migrate_on_start,
        pool_min=settings.db_pool_min,
        pool_max=settings.db_pool_max,
    )
    try:
        context = get_current_context()
        assert context is not None, "init_database left no Tortoise context"
        set_global_context(context)
        yield
    finally:
        await close_database()


def _run_executor(state: State, http: httpx.AsyncClient) -> RunExecutor:
    """The executor of the runs this process executes, on the app's tools; each run uses its
    tenant's secrets and model providers, its events are recorded (redacted), and its
    followers told (``state.run_events``)."""
    hub: RunEventHub = state.run_events
    redactor: Redactor = state.redactor
    services = RuntimeServices(
        tools=app_tools(state),
        models=app_model_providers(state),
        secrets=MappingSecrets({}),
        http=http,
    )
    box: SecretBox = state.secret_box

    async def tenant_services(tenant_id: str, services: RuntimeServices) -> RuntimeServices:
        """A tenant's runs read its encrypted secrets and use its model providers; every secret
        value the tenant has in use is masked in what its nodes output."""
        tenant = redactor.for_tenant(tenant_id)
        env_secrets: tuple[str, ...] = state.settings.env_secrets
        return replace(
            services,
            secrets=TenantSecrets(
                tenant_id,
                box=box,
                redactor=tenant,
                env_secrets=env_secrets,
                clock=services.clock,
            ),
            models=await tenant_model_providers(
                tenant_id,
                box=box,
                redactor=tenant,
                environ=os.environ,
                http=http,
                env_secrets=env_secrets,
            ),
            secrets_in_use=tenant.values,
        )

    return RunExecutor(
        services,
        checkpointer=TortoiseSaver(),
        events_for=lambda run: RecordingSink(
            run, hub=hub, redactor=redactor.for_tenant(run.tenant_id)
        ),
        on_change=hub.notify,
        tenant_services=tenant_services,
        redactor=redactor,
    )
