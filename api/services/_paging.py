"""Keyset pagination over a primary key that sorts by creation time.

Public ids (and autoincrement ids) grow with time, so "rows with an id below the last one
seen" is the next page however many rows were created in between, and it costs an index
range scan rather than an OFFSET. One more row than asked is fetched to learn whether a next
page exists.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

_M = TypeVar("_M", bound=Model)


Order = Literal["newest", "oldest"]
"""Which end of the history a listing starts from."""


async def page_by_id(
    query: QuerySet[_M],
    *,
    limit: int,
    max_limit: int,
    cursor: Any | None,
    order: Order = "newest",
) -> tuple[list[_M], Any | None]:
    """The page of ``query`` after ``cursor``, in ``order``, and the cursor of the next page.

    Raises:
        ValueError: ``limit`` is outside 1..``max_limit`` (callers validate requests before).
    """
    if not 1 <= limit <= max_limit:
        raise ValueError(f"limit must be between 1 and {max_limit}, not {limit}")
    newest = order == "newest"
    if cursor is not None:
        query = query.filter(id__lt=cursor) if newest else query.filter(id__gt=cursor)
    rows = await query.order_by("-id" if newest else "id").limit(limit + 1)
    page = list(rows[:limit])
    return page, (page[-1].id if len(rows) > limit else None)
