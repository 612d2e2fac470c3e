"""Migrations: they build every table, apply once, and agree with the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

import shared.database.migrations
from shared.database import close_database, init_database, migrate
from shared.database.connection import APP_LABEL, MIGRATION_TOOL_CONFIG

MIGRATIONS_DIR = Path(shared.database.migrations.__file__).parent


def _migration_names() -> list[str]:
    return sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9]*.py"))


class TestMigrate:
    async def test_an_empty_database_gets_every_migration_in_order(self, database_url: str) -> None:
        assert await migrate(database_url) == _migration_names()

    async def test_a_second_run_applies_nothing(self, database_url: str) -> None:
        await migrate(database_url)

        assert await migrate(database_url) == []

    async def test_concurrent_runs_apply_each_migration_once(self, database_url: str) -> None:
        results = await asyncio.gather(*(migrate(database_url) for _ in range(3)))

        assert sorted(results) == [[], [], _migration_names()]

    async def test_every_model_has_its_table_with_every_column(self, database_url: str) -> None:
        await migrate(database_url)
        await init_database(database_url, migrate=False)
        try:
            models = list(Tortoise.apps[APP_LABEL].values())
            # Selecting every field of every model fails on a missing table or column.
            counts = [await model.all().count() for model in models]
            rows = [await model.all().limit(1) for model in models]
        finally:
            await close_database()

        assert len(models) >= 20
        assert counts == [0] * len(models)
        assert rows == [[]] * len(models)


class TestModelsMatchMigrations:
    async def test_the_migrations_describe_the_models_exactly(self) -> None:
        """Fails after a model change without a new migration: see
        ``shared/database/migrations/__init__.py`` for the command that makes it."""
        async with TortoiseContext() as context:
            await context.init(config=MIGRATION_TOOL_CONFIG, init_connections=False)
            assert context.apps is not None
            writers = await MigrationAutodetector(
                context.apps, MIGRATION_TOOL_CONFIG["apps"]
            ).changes()

        pending = [op.describe() for writer in writers for op in writer.operations]
        assert pending == []
