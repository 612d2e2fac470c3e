"""``plait keys create``: the key printed once on stdout, the tenant created when missing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.services import Principal, authenticate
from shared.database import close_database, init_database
from shared.database.models import Role, Tenant
from tests.api.cli.conftest import CliRunner


def _authenticate(url: str, token: str) -> tuple[Principal, list[Tenant]]:
    """The principal of ``token`` and every tenant, read from the database at ``url``."""

    async def read() -> tuple[Principal, list[Tenant]]:
        await init_database(url)
        try:
            return await authenticate(token, at=datetime.now(UTC)), await Tenant.all()
        finally:
            await close_database()

    return asyncio.run(read())


class TestKeysCreate:
    def test_prints_a_working_key_once_and_creates_the_tenant(
        self, cli: CliRunner, database_url: str
    ) -> None:
        result = cli(
            "keys", "create", "--tenant", "acme", "--role", "operator", "--db", database_url
        )

        assert result.code == 0
        token = result.out.strip()
        assert result.out == f"{token}\n"
        assert "shown only once" in result.err
        assert token not in result.err
        principal, tenants = _authenticate(database_url, token)
        assert [t.name for t in tenants] == ["acme"]
        assert principal.tenant_id == tenants[0].id
        assert principal.role is Role.OPERATOR

    def test_reuses_a_tenant_named_by_name_or_id(self, cli: CliRunner, database_url: str) -> None:
        first = cli("keys", "create", "--tenant", "acme", "--role", "admin", "--db", database_url)
        tenant_id = (_authenticate(database_url, first.out.strip()))[0].tenant_id

        by_name = cli(
            "keys", "create", "--tenant", "acme", "--role", "viewer", "--db", database_url
        )
        by_id = cli(
            "keys", "create", "--tenant", tenant_id, "--role", "viewer", "--db", database_url
        )

        assert "created tenant" in first.err
        for result in (by_name, by_id):
            assert result.code == 0
            assert "created tenant" not in result.err
            principal, tenants = _authenticate(database_url, result.out.strip())
            assert principal.tenant_id == tenant_id
            assert len(tenants) == 1

    def test_uses_the_database_in_plait_data_dir_by_default(
        self, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
        monkeypatch.setenv("PLAIT_DATA_DIR", str(tmp_path / "data"))

        result = cli("keys", "create", "--tenant", "acme", "--role", "viewer", "--name", "ci")

        assert result.code == 0
        assert (tmp_path / "data" / "plait.db").exists()

    def test_an_unknown_role_is_a_usage_error(
        self, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        url = f"sqlite://{tmp_path}/keys.db"

        result = cli("keys", "create", "--tenant", "acme", "--role", "owner", "--db", url)

        assert result.code == 2
        assert result.out == ""
        assert result.err == (
            "error: --role 'owner' is not a role; choose one of: viewer, operator, admin\n"
        )
        assert not (tmp_path / "keys.db").exists()

    def test_the_tenant_and_role_are_required(self, cli: CliRunner) -> None:
        result = cli("keys", "create", "--role", "admin")

        assert result.code == 2
        assert "--tenant" in result.err
