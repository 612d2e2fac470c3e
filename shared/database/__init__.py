"""Plait's database: Tortoise models, their migrations, and connecting to SQLite or PostgreSQL.

Entry points call ``init_database(settings.database_url)`` once at start (which applies
pending migrations unless told not to) and ``close_database()`` at exit; ``plait migrate``
calls ``migrate(url)``. Models live in ``shared.database.models``.
"""

from shared.database.connection import (
    close_database,
    display_url,
    init_database,
    migrate,
    tortoise_config,
)
from shared.database.errors import DatabaseConfigError, DatabaseError, DatabaseUnavailableError

__all__ = [
    "DatabaseConfigError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "close_database",
    "display_url",
    "init_database",
    "migrate",
    "tortoise_config",
]
