"""``plait secrets new-key`` and ``plait secrets rotate``: rotating the encryption keys of
stored secrets from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import SecretStr

from api.services import secrets as secrets_service
from shared.config import Settings
from shared.crypto import SecretBox, key_id, new_key, open_secret_box
from shared.database import close_database, init_database
from shared.database.models import Secret, Tenant
from tests.api.cli.conftest import CliRunner
from tests.support.secrets import store_secret

T = TypeVar("T")

VALUES = {"A": "value-a", "B": "value-b"}


def _on(url: str, work: Callable[[], Awaitable[T]]) -> T:
    """``work()``'s result, with Tortoise on the database at ``url``."""

    async def run() -> T:
        await init_database(url)
        try:
            return await work()
        finally:
            await close_database()

    return asyncio.run(run())


def _store(url: str, box: SecretBox) -> None:
    async def store() -> None:
        tenants = [await Tenant.create(name="one"), await Tenant.create(name="two")]
        for tenant, (name, value) in zip(tenants, VALUES.items(), strict=True):
            await store_secret(tenant.id, name, value, box=box)

    _on(url, store)


def _decrypted(url: str, keys: str) -> dict[str, tuple[str, str | None]]:
    """Each secret's value and key id, read as a server started with ``keys`` reads them."""

    async def read() -> dict[str, tuple[str, str | None]]:
        box = await open_secret_box(Settings(secret_keys=SecretStr(keys)))
        return {s.name: (box.decrypt(s.ciphertext or b""), s.key_id) for s in await Secret.all()}

    return _on(url, read)


class TestNewKey:
    def test_prints_a_usable_key_alone(self, cli: CliRunner) -> None:
        result = cli("secrets", "new-key")

        assert result.code == 0
        key = result.out.strip()
        assert result.out == f"{key}\n"
        assert SecretBox([key]).decrypt(SecretBox([key]).encrypt("v")[0]) == "v"
        assert cli("secrets", "new-key").out != result.out


class TestRotate:
    def test_add_a_key_rotate_remove_the_old_key(
        self, cli: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        old, new = new_key(), new_key()
        _store(database_url, SecretBox([old]))
        monkeypatch.setenv("PLAIT_SECRET_KEYS", f"{new},{old}")

        first = cli("secrets", "rotate", "--db", database_url)
        again = cli("secrets", "rotate", "--db", database_url)

        assert (first.code, first.err) == (0, "")
        assert first.out == "re-encrypted 2 secret(s) under the first key; 0 already were\n"
        assert again.out == "re-encrypted 0 secret(s) under the first key; 2 already were\n"
        assert _decrypted(database_url, new) == {
            name: (value, key_id(new)) for name, value in VALUES.items()
        }

    def test_keys_missing_the_one_secrets_need_change_nothing(
        self, cli: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        old = new_key()
        _store(database_url, SecretBox([old]))
        monkeypatch.setenv("PLAIT_SECRET_KEYS", new_key())

        result = cli("secrets", "rotate", "--db", database_url)

        assert (result.code, result.out) == (1, "")
        assert f"encrypted under key(s) {key_id(old)}" in result.err
        assert "set PLAIT_SECRET_KEYS to include" in result.err
        assert _decrypted(database_url, old) == {
            name: (value, key_id(old)) for name, value in VALUES.items()
        }

    def test_a_malformed_key_is_named_by_position(
        self, cli: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_SECRET_KEYS", f"{new_key()},oops")

        result = cli("secrets", "rotate", "--db", database_url)

        assert result.code == 1
        assert "key 2 of PLAIT_SECRET_KEYS is not a Fernet key" in result.err
        assert "oops" not in result.err

    def test_without_any_key_it_fails_and_makes_no_key_file(
        self,
        cli: CliRunner,
        database_url: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        data_dir = tmp_path / "data"
        monkeypatch.setenv("PLAIT_DATA_DIR", str(data_dir))

        result = cli("secrets", "rotate", "--db", database_url)

        assert (result.code, result.out) == (1, "")
        assert "no encryption key: PLAIT_SECRET_KEYS is not set" in result.err
        assert not (data_dir / "secret.key").exists()

    def test_a_secret_replaced_meanwhile_asks_to_run_again(
        self, cli: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        old, new = new_key(), new_key()
        _store(database_url, SecretBox([old]))
        monkeypatch.setenv("PLAIT_SECRET_KEYS", f"{new},{old}")
        replace_token = secrets_service._replace_token

        async def put_then_replace(secret: Secret, token: bytes, key_id: str) -> bool:
            """A server replaces ``A`` while rotate re-encrypts it."""
            if secret.name == "A":
                ciphertext, _ = SecretBox([old]).encrypt("new-a")
                await Secret.filter(id=secret.id).update(ciphertext=ciphertext)
            return await replace_token(secret, token, key_id)

        monkeypatch.setattr(secrets_service, "_replace_token", put_then_replace)

        result = cli("secrets", "rotate", "--db", database_url)

        assert (result.code, result.err) == (0, "")
        assert result.out == (
            "re-encrypted 1 secret(s) under the first key; 0 already were\n"
            "1 secret(s) changed while rotating and were left as written: run 'plait secrets "
            "rotate' again\n"
        )
        monkeypatch.setattr(secrets_service, "_replace_token", replace_token)
        again = cli("secrets", "rotate", "--db", database_url)
        assert again.out == "re-encrypted 1 secret(s) under the first key; 1 already were\n"
        assert _decrypted(database_url, new) == {
            "A": ("new-a", key_id(new)),
            "B": ("value-b", key_id(new)),
        }
