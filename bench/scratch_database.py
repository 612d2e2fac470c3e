"""A PostgreSQL database of a benchmark's own, created on the server and dropped after.

Shared by the benchmark scripts (run as ``python bench/<script>.py``, so this directory is on
``sys.path``).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg

__all__ = ["create_database", "database_name", "drop_database"]


def database_name() -> str:
    """A fresh name, ``plait_bench_<hex>``; also a fitting Redis prefix for the same run."""
    return f"plait_bench_{secrets.token_hex(4)}"


async def create_database(server_url: str, name: str) -> str:
    """A new, empty database ``name`` on the server of ``server_url``; its URL."""
    await _execute(server_url, f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def drop_database(server_url: str, name: str) -> None:
    """Drop ``name`` even while connections to it are open (PostgreSQL 13+)."""
    await _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _execute(server_url: str, statement: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
