"""The process settings for the commands that use them, with invalid ``PLAIT_*`` values as one
clear line.

Kept apart from the database commands' module so that ``plait migrate`` does not import the
compiler and the checkpointer to read its settings.
"""

from __future__ import annotations

from pydantic import ValidationError

from api.cli.errors import CliError
from shared.config import Settings


def load_settings(database_url: str | None = None) -> Settings:
    """The settings of this process, with ``database_url`` as the database when given.

    Raises:
        CliError: a ``PLAIT_*`` variable (or ``.env`` entry) has an invalid value.
    """
    try:
        return Settings() if database_url is None else Settings(database_url=database_url)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise CliError(f"invalid PLAIT_* settings: {problems}") from exc
