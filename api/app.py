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

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from tortoise.context import get_current_context, set_global_context

from api.deps import app_model_providers, app_tools
from api.limits import BodyLimitMiddleware
from api.openapi import install_openapi
from api.problems import install_problem_handlers
from api.routers import API_ROUTER
from api.routers.sse import SSE_HEARTBEAT_S
from shared.config import Settings
from shared.database import close_database, init_database
from shared.redaction import LogRedaction, Redactor, redactor_for
from worker.runtime import ProcessRuntime, hub_for, open_runtime
from worker.scheduler import Scheduler, SchedulerTimings

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1"
"""Every route lives under this prefix (DESIGN §6)."""


def create_app(settings: Settings, *, scheduler: bool = False) -> FastAPI:
    """The Plait API for ``settings``: routers under ``/v1``, errors as problem+json.

    The app executes sync runs itself, under leases (``worker.runtime``); async runs go to the
    broker: to ``plait worker`` processes with Redis, to this process without.

    Args:
        settings: This process's settings; the database is opened from them at startup.
        scheduler: Run the reaper and the sweeper in this process too (``plait serve``).

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
    app.state.scheduler = scheduler
    app.state.run_events = hub_for(settings)
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
        async with (
            _database(settings),
            open_runtime(
                settings,
                tools=app_tools(app.state),
                models=app_model_providers(app.state),
                redactor=app.state.redactor,
                hub=app.state.run_events,
                env_secrets=lambda: app.state.settings.env_secrets,
                worker=False,
            ) as runtime,
        ):
            app.state.http = runtime.http
            app.state.secret_box = runtime.secret_box
            app.state.runs = runtime.executor
            async with _scheduled(app.state.scheduler, runtime, settings):
                yield
    finally:
        stop_log_redaction()


@asynccontextmanager
async def _scheduled(
    scheduler: bool, runtime: ProcessRuntime, settings: Settings
) -> AsyncIterator[None]:
    """The reaper and the sweeper in a task of the app's, when it runs them."""
    if not scheduler:
        yield
        return
    timings = SchedulerTimings.from_settings(settings)
    task = asyncio.create_task(Scheduler(runtime.queue, timings).run(), name="scheduler")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


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
