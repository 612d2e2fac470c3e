"""The API's routers, one module per area, gathered into ``API_ROUTER``.

``api.app`` mounts ``API_ROUTER`` under ``/v1``. Routers are thin: they parse the request,
call one service, convert its result into a response schema and return it; errors are raised
and turned into problems by ``api.problems``.
"""

from fastapi import APIRouter

from api.routers import (
    audit,
    catalog,
    health,
    providers,
    run_history,
    runs,
    secrets,
    workflows,
)

__all__ = ["API_ROUTER"]

API_ROUTER = APIRouter()
API_ROUTER.include_router(health.router)
API_ROUTER.include_router(workflows.router)
API_ROUTER.include_router(catalog.router)
API_ROUTER.include_router(runs.router)
API_ROUTER.include_router(run_history.router)
API_ROUTER.include_router(audit.router)
API_ROUTER.include_router(secrets.router)
API_ROUTER.include_router(providers.router)
