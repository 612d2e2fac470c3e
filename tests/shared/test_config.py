"""Settings: defaults, ``PLAIT_*`` environment variables, ``.env``, and validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.config import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PLAIT_* variable of the developer's, and a working directory without ``.env``."""
    for name in list(os.environ):
        if name.startswith("PLAIT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestDefaults:
    def test_the_embedded_defaults(self) -> None:
        settings = Settings()

        assert settings.data_dir == Path(".plait")
        assert settings.database_url == "sqlite://.plait/plait.db"
        assert settings.redis_url is None
        assert (settings.db_pool_min, settings.db_pool_max) == (1, 10)
        assert settings.migrate_on_start is True

    def test_every_field_is_described(self) -> None:
        assert all(field.description for field in Settings.model_fields.values())


class TestEnvironment:
    def test_variables_override_the_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLAIT_DATABASE_URL", "postgres://plait@db:5432/plait")
        monkeypatch.setenv("PLAIT_REDIS_URL", "redis://:hunter2@cache:6379/0")
        monkeypatch.setenv("PLAIT_DB_POOL_MIN", "2")
        monkeypatch.setenv("PLAIT_DB_POOL_MAX", "20")
        monkeypatch.setenv("PLAIT_MIGRATE_ON_START", "false")

        settings = Settings()

        assert settings.database_url == "postgres://plait@db:5432/plait"
        assert settings.redis_url is not None
        assert settings.redis_url.get_secret_value() == "redis://:hunter2@cache:6379/0"
        assert (settings.db_pool_min, settings.db_pool_max) == (2, 20)
        assert settings.migrate_on_start is False

    def test_the_default_database_lives_in_the_data_dir(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_DATA_DIR", "/var/lib/plait")

        assert Settings().database_url == "sqlite:///var/lib/plait/plait.db"

    def test_a_dotenv_file_is_read_and_the_environment_wins_over_it(
        self, monkeypatch: pytest.MonkeyPatch, clean_environment: Path
    ) -> None:
        (clean_environment / ".env").write_text(
            "PLAIT_DATA_DIR=from-dotenv\nPLAIT_DB_POOL_MAX=7\nOPENAI_API_KEY=sk-unrelated\n"
        )
        monkeypatch.setenv("PLAIT_DB_POOL_MAX", "9")

        settings = Settings()

        assert settings.data_dir == Path("from-dotenv")
        assert settings.database_url == "sqlite://from-dotenv/plait.db"
        assert settings.db_pool_max == 9

    def test_constructor_arguments_win_over_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_DATABASE_URL", "sqlite://env.db")

        assert Settings(database_url="sqlite://given.db").database_url == "sqlite://given.db"


class TestValidation:
    def test_a_pool_minimum_above_its_maximum_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="db_pool_min"):
            Settings(db_pool_min=5, db_pool_max=2)

    def test_a_pool_of_no_connections_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="db_pool_max"):
            Settings(db_pool_max=0)

    def test_urls_that_may_hold_passwords_stay_out_of_repr(self) -> None:
        settings = Settings(
            database_url="postgres://plait:pw-in-db-url@db/plait",
            redis_url="redis://:pw-in-redis-url@cache:6379/0",
        )

        assert "pw-in" not in repr(settings)
