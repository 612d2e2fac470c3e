"""The database behind ``plait run --db`` and ``plait runs``: which one, opening it, and how a
run that stopped is continued.

The database is ``--db URL`` when given, else ``PLAIT_DATABASE_URL``, else the SQLite file in
``PLAIT_DATA_DIR`` (``Settings``). Opening it applies pending migrations unless
``PLAIT_MIGRATE_ON_START`` is off. Runs started here belong to the local tenant.

Once a run's row exists, every way the command can stop early (a failed node, Ctrl-C, a human
node nobody can answer) ends with the command that continues it, ``plait runs resume RUN_ID``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from api.cli.errors import UsageError
from api.services import RecordedRun, create_run, load_run, local_tenant
from shared.config import Settings
from shared.database import close_database, display_url, init_database
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import WorkflowRun
from workflow_compiler.clock import SystemClock
from workflow_compiler.lowering import CompiledWorkflow

RUN_ID_MAX_LENGTH: int = WorkflowRun._meta.fields_map["id"].max_length
"""The longest run id the database stores (``--run-id`` is checked against it)."""


@asynccontextmanager
async def open_database(settings: Settings, *, create: bool = True) -> AsyncIterator[None]:
    """Tortoise on the configured database for the rest of the command.

    ``create=False`` refuses a SQLite file that does not exist (for commands that read runs).

    Raises:
        DatabaseConfigError: the URL is unusable.
        DatabaseUnavailableError: the database cannot be reached or opened.
    """
    await init_database(
        settings.database_url,
        migrate=settings.migrate_on_start,
        create=create,
        pool_min=settings.db_pool_min,
        pool_max=settings.db_pool_max,
    )
    try:
        yield
    finally:
        await close_database()


def check_run_id(run_id: str) -> None:
    """Refuse a ``--run-id`` the database cannot store, before anything runs.

    Raises:
        UsageError: the id is too long.
    """
    if len(run_id) > RUN_ID_MAX_LENGTH:
        raise UsageError(
            f"--run-id '{run_id}' is too long for the database "
            f"(at most {RUN_ID_MAX_LENGTH} characters)"
        )


async def record_new_run(
    compiled: CompiledWorkflow, inputs: Mapping[str, Any], *, run_id: str
) -> RecordedRun:
    """Write the row of a run about to start here, in the local tenant.

    Raises:
        InputsInvalidError: the inputs fail the spec's schema (nothing is written).
        RunExistsError: ``run_id`` is taken.
    """
    record = await create_run(
        await local_tenant(), compiled.spec, inputs, at=SystemClock().now(), run_id=run_id
    )
    return RecordedRun(record=record, compiled=compiled, checkpointer=TortoiseSaver())


async def find_run(run_id: str) -> WorkflowRun:
    """The row of a run started from this machine's command line.

    Raises:
        RunNotFoundError: no such run.
    """
    return await load_run(await local_tenant(), run_id)


def resume_hint(run_id: str, url: str | None) -> str:
    """The command that continues the run, naming the database when it is not the default."""
    database = f" --db {display_url(url)}" if url else ""
    return f"continue it with: plait runs resume {run_id}{database}"
