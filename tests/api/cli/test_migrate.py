"""``plait migrate``: applies pending migrations, says which, fails on one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.api.cli.conftest import CliRunner
from tests.support.database import sqlite_url


@pytest.fixture(autouse=True)
def no_plait_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The developer's PLAIT_* settings and .env must not choose the database."""
    for name in list(os.environ):
        if name.startswith("PLAIT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


class TestMigrate:
    def test_applies_every_migration_to_a_new_database_and_names_them(
        self, cli: CliRunner, tmp_path: Path
    ) -> None:
        url = sqlite_url(tmp_path / "new")

        result = cli("migrate", "--database-url", url)

        assert (result.code, result.out, result.err) == (
            0,
            "applied 0001_initial\napplied 0002_model_providers\napplied 0003_pending_actions\n",
            "",
        )
        assert (tmp_path / "new" / "plait.db").is_file()

    def test_a_second_run_applies_nothing(self, cli: CliRunner, tmp_path: Path) -> None:
        url = sqlite_url(tmp_path)
        cli("migrate", "--database-url", url)

        result = cli("migrate", "--database-url", url)

        assert result.code == 0
        assert result.out == "no migrations to apply: the database is up to date\n"

    def test_the_database_comes_from_the_settings_by_default(
        self, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_DATA_DIR", str(tmp_path / "data"))

        result = cli("migrate")

        assert result.code == 0
        assert (tmp_path / "data" / "plait.db").is_file()

    def test_an_unreachable_database_is_one_line_and_status_1(self, cli: CliRunner) -> None:
        result = cli("migrate", "--database-url", "postgres://plait:pw-123@127.0.0.1:1/plait")

        assert result.code == 1
        assert result.out == ""
        assert result.err.count("\n") == 1
        assert result.err.startswith(
            "error: cannot connect to the database postgres://plait:***@127.0.0.1:1/plait: "
        )
        assert "Traceback" not in result.err
        assert "pw-123" not in result.err

    def test_an_unsupported_url_is_one_line_and_status_1(self, cli: CliRunner) -> None:
        result = cli("migrate", "--database-url", "mysql://root@localhost/plait")

        assert (result.code, result.out) == (1, "")
        assert result.err.startswith("error: unsupported database mysql://root@localhost/plait")
        assert result.err.count("\n") == 1

    def test_invalid_settings_are_one_line_and_status_1(
        self, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_DB_POOL_MAX", "many")

        result = cli("migrate")

        assert result.code == 1
        assert result.err.startswith("error: invalid PLAIT_* settings: db_pool_max: ")
        assert result.err.count("\n") == 1
