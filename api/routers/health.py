"""``GET /v1/health``: is this process up, and can it reach its database?

Load balancers and ``plait serve`` poll it, so it answers without authentication and does
one trivial query; a database that does not answer makes it 503 ``database_unavailable``.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

import asyncpg
from fastapi import APIRouter
from pydantic import BaseModel
from tortoise import Tortoise
from tortoise.exceptions import BaseORMException

from api.problems import Problem
from shared.database import DatabaseUnavailableError

__all__ = ["HealthPublic", "router"]

router = APIRouter(tags=["health"])

_CONNECTION = "default"


class HealthPublic(BaseModel):
    """The process answers and its database too."""

    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"


@router.get(
    "/health",
    responses={503: {"model": Problem, "description": "The database cannot be reached."}},
)
async def get_health() -> HealthPublic:
    """Check that the API answers and its database runs a query."""
    await _ping_database()
    return HealthPublic()


async def _ping_database() -> None:
    """Run ``SELECT 1``; any failure of the driver means the database is unusable right now."""
    try:
        await Tortoise.get_connection(_CONNECTION).execute_query("SELECT 1")
    except (OSError, BaseORMException, asyncpg.PostgresError, sqlite3.Error) as exc:
        raise DatabaseUnavailableError(
            f"the database does not answer: {type(exc).__name__}"
        ) from exc
