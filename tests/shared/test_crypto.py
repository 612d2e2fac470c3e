"""Encryption keys of stored secrets: the box, where keys come from, and the start-up checks
that refuse a wrong or missing key instead of making a new one."""

from __future__ import annotations

import logging
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.config import Settings
from shared.crypto import (
    KEY_FILE_NAME,
    SecretBox,
    SecretKeysError,
    SecretUnreadableError,
    check_secret_keys,
    key_file_path,
    key_id,
    load_secret_box,
    new_key,
    open_secret_box,
)
from shared.database.models import Secret, SecretProvider, Tenant
from tests.support.secrets import store_secret


def _settings(tmp_path: Path, keys: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", secret_keys=SecretStr(keys) if keys is not None else None
    )


class TestSecretBox:
    def test_a_value_round_trips_under_the_first_key(self) -> None:
        first, second = new_key(), new_key()
        box = SecretBox([first, second])

        token, used = box.encrypt("hunter2 ✓")

        assert box.decrypt(token) == "hunter2 ✓"
        assert b"hunter2" not in token
        assert used == box.primary_key_id == key_id(first)
        assert box.key_ids == (key_id(first), key_id(second))

    def test_every_key_decrypts(self) -> None:
        old = new_key()
        token, _ = SecretBox([old]).encrypt("v")

        assert SecretBox([new_key(), old]).decrypt(token) == "v"

    def test_a_token_of_another_key_is_unreadable_naming_the_source(self) -> None:
        token, _ = SecretBox([new_key()]).encrypt("v")

        with pytest.raises(SecretUnreadableError, match="PLAIT_SECRET_KEYS"):
            SecretBox([new_key()], source="PLAIT_SECRET_KEYS").decrypt(token)

    def test_rotate_re_encrypts_under_the_first_key(self) -> None:
        old, new = new_key(), new_key()
        token, _ = SecretBox([old]).encrypt("v")

        rotated, used = SecretBox([new, old]).rotate(token)

        assert used == key_id(new)
        assert SecretBox([new]).decrypt(rotated) == "v"

    def test_rotate_refuses_a_token_no_key_decrypts(self) -> None:
        token, _ = SecretBox([new_key()]).encrypt("v")

        with pytest.raises(SecretUnreadableError):
            SecretBox([new_key()]).rotate(token)

    def test_key_ids_are_short_fingerprints_that_never_show_the_key(self) -> None:
        key = new_key()
        box = SecretBox([key, key])

        assert len(key_id(key)) == 16
        assert key_id(key) != key_id(new_key())
        assert box.key_ids == (key_id(key),)
        assert key not in repr(box)

    def test_a_box_needs_a_key(self) -> None:
        with pytest.raises(ValueError, match="at least one key"):
            SecretBox([])


class TestKeysFromTheEnvironment:
    def test_the_comma_list_in_order_with_blanks_ignored(self, tmp_path: Path) -> None:
        first, second = new_key(), new_key()

        box = load_secret_box(_settings(tmp_path, f" {first} ,{second},"))

        assert box.key_ids == (key_id(first), key_id(second))
        assert box.source == "PLAIT_SECRET_KEYS"
        assert not key_file_path(_settings(tmp_path)).exists()

    def test_read_from_plait_secret_keys(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        key = new_key()
        monkeypatch.setenv("PLAIT_SECRET_KEYS", key)

        settings = Settings(data_dir=tmp_path)

        assert key not in repr(settings)
        assert load_secret_box(settings).key_ids == (key_id(key),)

    @pytest.mark.parametrize("bad", ["not-a-key", "é" * 44, "YWJj"])
    def test_a_malformed_key_is_named_by_position_and_never_echoed(
        self, tmp_path: Path, bad: str
    ) -> None:
        with pytest.raises(SecretKeysError) as info:
            load_secret_box(_settings(tmp_path, f"{new_key()},{bad}"))

        assert "key 2 of PLAIT_SECRET_KEYS is not a Fernet key" in info.value.message
        assert "plait secrets new-key" in info.value.message
        assert bad not in info.value.message

    def test_a_list_without_a_key_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(SecretKeysError, match="holds no key"):
            load_secret_box(_settings(tmp_path, " , "))


class TestKeyFile:
    def test_created_private_on_request(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings = _settings(tmp_path)

        with caplog.at_level(logging.WARNING):
            box = load_secret_box(settings, create=True)

        path = tmp_path / "data" / KEY_FILE_NAME
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert box.key_ids == (key_id(path.read_text().strip()),)
        assert box.source == f"the key file {path}"
        assert "back it up" in caplog.text
        assert path.read_text().strip() not in caplog.text

    def test_created_private_whatever_the_umask(self, tmp_path: Path) -> None:
        previous = os.umask(0o277)
        try:
            load_secret_box(_settings(tmp_path), create=True)
        finally:
            os.umask(previous)

        assert stat.S_IMODE((tmp_path / "data" / KEY_FILE_NAME).stat().st_mode) == 0o600

    def test_read_again_on_the_next_start(self, tmp_path: Path) -> None:
        first = load_secret_box(_settings(tmp_path), create=True)

        assert load_secret_box(_settings(tmp_path)).key_ids == first.key_ids

    def test_missing_without_create_is_an_error_saying_what_to_set(self, tmp_path: Path) -> None:
        with pytest.raises(SecretKeysError) as info:
            load_secret_box(_settings(tmp_path))

        assert "PLAIT_SECRET_KEYS is not set" in info.value.message
        assert str(tmp_path / "data" / KEY_FILE_NAME) in info.value.message

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
    def test_a_file_others_may_read_is_refused(self, tmp_path: Path, mode: int) -> None:
        load_secret_box(_settings(tmp_path), create=True)
        path = tmp_path / "data" / KEY_FILE_NAME
        path.chmod(mode)

        with pytest.raises(SecretKeysError) as info:
            load_secret_box(_settings(tmp_path))

        assert f"chmod 600 {path}" in info.value.message
        assert f"{mode:04o}" in info.value.message

    def test_a_malformed_file_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "data" / KEY_FILE_NAME
        path.parent.mkdir()
        path.write_text("garbage\n")
        path.chmod(0o600)

        with pytest.raises(SecretKeysError, match=f"the key file {path} is not a Fernet key"):
            load_secret_box(_settings(tmp_path))

    def test_an_unreadable_file_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "data" / KEY_FILE_NAME
        path.mkdir(parents=True)
        path.chmod(0o700)

        with pytest.raises(SecretKeysError, match=f"cannot read the key file {path}"):
            load_secret_box(_settings(tmp_path))

    def test_a_creation_that_loses_the_race_reads_the_winners_key(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings = _settings(tmp_path)
        winners: list[SecretBox] = []
        link = os.link

        def another_process_first(source: Path, target: Path) -> None:
            """Another process creates the key file between this one's writing of its key and
            its linking of it into place."""
            monkeypatch.setattr(os, "link", link)
            winners.append(load_secret_box(settings, create=True))
            link(source, target)

        monkeypatch.setattr(os, "link", another_process_first)

        loser = load_secret_box(settings, create=True)

        assert loser.key_ids == winners[0].key_ids
        path = tmp_path / "data" / KEY_FILE_NAME
        assert loser.key_ids == (key_id(path.read_text().strip()),)
        assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME], "no temporary left"

    def test_concurrent_creations_agree_on_one_complete_key(self, tmp_path: Path) -> None:
        settings = _settings(tmp_path)
        start = threading.Barrier(8, timeout=10)

        def create() -> tuple[str, ...]:
            start.wait()
            return load_secret_box(settings, create=True).key_ids

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: create(), range(8)))

        path = tmp_path / "data" / KEY_FILE_NAME
        assert set(results) == {(key_id(path.read_text().strip()),)}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in path.parent.iterdir()] == [KEY_FILE_NAME]

    def test_a_data_directory_that_is_a_file_is_named(self, tmp_path: Path) -> None:
        (tmp_path / "data").write_text("")

        with pytest.raises(SecretKeysError, match="cannot create the key file"):
            load_secret_box(_settings(tmp_path), create=True)

    def test_a_refused_link_is_named_and_leaves_no_temporary(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refuse(source: Path, target: Path) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", refuse)

        with pytest.raises(SecretKeysError, match="Operation not permitted"):
            load_secret_box(_settings(tmp_path), create=True)

        assert list((tmp_path / "data").iterdir()) == []

    def test_the_environment_wins_over_the_file(self, tmp_path: Path) -> None:
        load_secret_box(_settings(tmp_path), create=True)
        key = new_key()

        assert load_secret_box(_settings(tmp_path, key)).key_ids == (key_id(key),)


class TestStartUp:
    async def test_a_fresh_database_gets_a_key_file(self, database: str, tmp_path: Path) -> None:
        box = await open_secret_box(_settings(tmp_path))

        assert (tmp_path / "data" / KEY_FILE_NAME).exists()
        await check_secret_keys(box)

    async def test_no_key_file_is_made_unless_allowed(self, database: str, tmp_path: Path) -> None:
        with pytest.raises(SecretKeysError, match="no encryption key"):
            await open_secret_box(_settings(tmp_path), create=False)

        assert not (tmp_path / "data" / KEY_FILE_NAME).exists()

    async def test_the_same_key_file_opens_again(self, database: str, tmp_path: Path) -> None:
        box = await open_secret_box(_settings(tmp_path))
        await store_secret((await Tenant.create(name="t")).id, "A", "v", box=box)

        again = await open_secret_box(_settings(tmp_path))

        assert again.key_ids == box.key_ids

    async def test_a_missing_key_file_while_secrets_exist_is_not_replaced(
        self, database: str, tmp_path: Path
    ) -> None:
        box = await open_secret_box(_settings(tmp_path))
        await store_secret((await Tenant.create(name="t")).id, "A", "v", box=box)
        path = tmp_path / "data" / KEY_FILE_NAME
        path.unlink()

        with pytest.raises(SecretKeysError) as info:
            await open_secret_box(_settings(tmp_path))

        assert f"the key file {path} is missing" in info.value.message
        assert f"1 secret(s) encrypted under key(s) {box.primary_key_id}" in info.value.message
        assert "PLAIT_SECRET_KEYS" in info.value.message
        assert not path.exists()

    async def test_a_wrong_key_fails_naming_the_unknown_key_ids(
        self, database: str, tmp_path: Path
    ) -> None:
        tenant = await Tenant.create(name="t")
        old = SecretBox([new_key()])
        for name in ("A", "B"):
            await store_secret(tenant.id, name, "v", box=old)
        wrong = new_key()

        with pytest.raises(SecretKeysError) as info:
            await open_secret_box(_settings(tmp_path, wrong))

        message = info.value.message
        assert f"2 secret(s) encrypted under key(s) {old.primary_key_id}" in message
        assert f"PLAIT_SECRET_KEYS has none of them (it has {key_id(wrong)})" in message
        assert "set PLAIT_SECRET_KEYS to include" in message
        assert wrong not in message
        with pytest.raises(SecretKeysError):
            await check_secret_keys(SecretBox([wrong]))

    async def test_keys_that_cover_every_secret_pass(self, database: str, tmp_path: Path) -> None:
        tenant = await Tenant.create(name="t")
        old, new = new_key(), new_key()
        await store_secret(tenant.id, "A", "v", box=SecretBox([old]))
        await Secret.create(tenant_id=tenant.id, name="E", provider=SecretProvider.ENV)

        box = await open_secret_box(_settings(tmp_path, f"{new},{old}"))

        assert box.primary_key_id == key_id(new)
        assert not (tmp_path / "data" / KEY_FILE_NAME).exists()
