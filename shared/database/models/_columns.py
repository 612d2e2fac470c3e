"""Column definitions that most tables share, so that they are spelled the same everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tortoise import fields

if TYPE_CHECKING:
    from shared.database.models.tenancy import Tenant

PUBLIC_ID_LENGTH = 32
"""Room for the longest prefix (3 characters), the underscore and the 26-character body."""


def public_id(factory: Callable[[], str]) -> fields.CharField:
    """A primary key holding a public id such as ``run_01JH…``, made by ``factory`` on insert.

    Public ids are the primary key (not a second unique column beside an integer key): the API
    names rows by them, foreign keys then hold the ids clients see, and since ids sort by
    creation time, inserts append to the right edge of the primary-key index.
    """
    return fields.CharField(primary_key=True, max_length=PUBLIC_ID_LENGTH, default=factory)


def tenant_key() -> fields.ForeignKeyRelation[Tenant]:
    """The owning tenant of a row; deleting the tenant deletes the row.

    Every user-owned table has it, children of other rows included, so that every query can
    filter on the caller's tenant without a join.
    """
    return fields.ForeignKeyField("plait.Tenant", related_name=False, on_delete=fields.CASCADE)


def json_value(value: Any) -> Any:
    """``value`` ready to assign to a ``JSONField`` so that any JSON value round-trips.

    Tortoise takes a ``str`` given to a ``JSONField`` as JSON text already encoded: the output
    ``"hello"`` would be refused as invalid JSON, and ``"123"`` would read back as the number
    123. Encoding strings first stores them as JSON strings; other values Tortoise encodes.
    """
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value
