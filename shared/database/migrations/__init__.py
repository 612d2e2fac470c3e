"""Schema migrations of the ``plait`` Tortoise app, made by Tortoise's own migration tool.

Every table comes from these files: the product never calls ``generate_schemas``.
``shared.database.migrate(url)`` (and ``plait migrate``, and ``init_database`` at start)
applies the ones a database has not had, recorded in its ``tortoise_migrations`` table.

After changing a model, make the migration from the repository root::

    uv run tortoise -c shared.database.connection.MIGRATION_TOOL_CONFIG makemigrations
    uv run ruff format shared/database/migrations
    uv run ruff check --fix shared/database/migrations

(``ruff`` sorts the generated imports and formats the file; ``ruff.toml`` here allows the long
lines of generated data.) Until a release ships, change the schema by deleting
``0001_initial.py`` and running the same commands, so that there is one initial migration.
``tests/shared/database/test_migrations.py`` fails while models and migrations disagree.

Two things Tortoise 1.1.9's migration tools do not handle, so models avoid them:

- a foreign-key cycle between tables (A → B → A): the tables are then created in name order
  and the relations of the first are silently dropped;
- a ``;`` in the first paragraph of a model's docstring: it becomes the table's comment, and
  the SQLite migrator splits statements at every ``;``.
"""
