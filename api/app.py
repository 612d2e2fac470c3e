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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from tortoise.context import get_current_context, set_global_context

from api.problems import install_problem_handlers
from api.routers import API_ROUTER
from shared.config import Settings
from shared.database import close_database, init_database

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1"
"""Every route lives under this prefix (DESIGN §6)."""


def create_app(settings: Settings) -> FastAPI:
    """The Plait API for ``settings``: routers under ``/v1``, errors as problem+json.

    Args:
        settings: This process's settings; the database is opened from them at startup.

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
    app.include_router(API_ROUTER, prefix=API_PREFIX)
    install_problem_handlers(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
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
