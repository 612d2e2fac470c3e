"""Failures of the database layer that a user can cause and fix.

    PlaitError
    └── DatabaseError                 something about the database stops Plait
        ├── DatabaseConfigError       the database URL is not one Plait can use
        └── DatabaseUnavailableError  the database cannot be reached or opened

Constraint violations are not translated here: Tortoise raises ``IntegrityError`` and the
service that wrote the row knows what the conflict means (a duplicate idempotency key, a
stale draft revision) and answers with its own error.
"""

from __future__ import annotations

from shared.errors import PlaitError

__all__ = ["DatabaseConfigError", "DatabaseError", "DatabaseUnavailableError"]


class DatabaseError(PlaitError):
    """Base of the database layer's errors."""

    code = "database_error"


class DatabaseConfigError(DatabaseError):
    """The database URL has a scheme or form Plait does not support."""

    code = "database_config_invalid"


class DatabaseUnavailableError(DatabaseError):
    """Connecting failed: the server is down or refuses us, or the SQLite file cannot be opened.

    Retrying later may succeed, which is why the API answers it with 503 rather than 500.
    """

    code = "database_unavailable"
