"""The keys that encrypt stored secrets, and the box that encrypts and decrypts with them.

Secrets are encrypted with Fernet (AES-128-CBC and HMAC-SHA256, with a timestamp) through
``MultiFernet``: the first key encrypts, every key decrypts, so keys can be rotated without a
moment when some secret is unreadable (docs/security.md, "Key management and rotation").

Where the keys come from::

    PLAIT_SECRET_KEYS set   its comma-separated Fernet keys, first one first; no file is read
    otherwise               <data_dir>/secret.key, one key, created (mode 0600) on the first
                            start of a database that holds no secret yet

Each stored secret records the ``key_id`` of the key that encrypted it: the first 16 hex digits
of the SHA-256 of the key's 32 bytes. It names a key in messages without revealing it, lets
start-up notice that a secret was encrypted under a key nobody configured, and lets rotation
skip what the first key already encrypted.

A wrong or missing key is an error at start-up (``open_secret_box``) that says what to fix,
never a new key made silently: a new key would leave every stored secret undecryptable, and
the first run needing one would be the first to notice.

    PlaitError
    ├── SecretKeysError         the configured keys are malformed, insecure, missing, or do not
    │                           include every key the stored secrets were encrypted under
    └── SecretUnreadableError   a token does not decrypt under any configured key
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.config import Settings
from shared.database.models import Secret, SecretProvider
from shared.errors import PlaitError

__all__ = [
    "KEYS_VARIABLE",
    "KEY_FILE_NAME",
    "SecretBox",
    "SecretKeysError",
    "SecretUnreadableError",
    "check_secret_keys",
    "key_file_path",
    "key_id",
    "load_secret_box",
    "new_key",
    "open_secret_box",
]

logger = logging.getLogger(__name__)

KEYS_VARIABLE = "PLAIT_SECRET_KEYS"
KEY_FILE_NAME = "secret.key"

_KEY_ID_HEX = 16
"""Hex digits of a key's id: 64 bits, far more than the few keys a deployment ever has."""

_NEW_KEY_HINT = "make one with 'plait secrets new-key'"


class SecretKeysError(PlaitError):
    """The encryption keys cannot be used; the message says what to fix (and never holds a
    key)."""

    code = "secret_keys_invalid"


class SecretUnreadableError(PlaitError):
    """A stored token does not decrypt under any configured key: it was altered, or made with
    a key that is no longer configured."""

    code = "secret_unreadable"


def key_id(key: bytes | str) -> str:
    """The id of the Fernet key ``key`` (URL-safe base64): a fingerprint that names it
    without revealing it."""
    raw = base64.urlsafe_b64decode(key)
    return hashlib.sha256(raw).hexdigest()[:_KEY_ID_HEX]


def new_key() -> str:
    """A new random Fernet key, as ``PLAIT_SECRET_KEYS`` and the key file hold it."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts with the first of its keys; decrypts with any of them."""

    def __init__(self, keys: Sequence[bytes | str], *, source: str = "the given keys") -> None:
        """
        Args:
            keys: Fernet keys, the one that encrypts first; at least one.
            source: Where the keys came from, for messages (``PLAIT_SECRET_KEYS``, the key
                file's path).

        Raises:
            ValueError: no key, or one that is not a Fernet key.
        """
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self._key_ids = tuple(dict.fromkeys(key_id(key) for key in keys))
        self.source = source

    @property
    def primary_key_id(self) -> str:
        """The id of the key that encrypts."""
        return self._key_ids[0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of every key, the one that encrypts first."""
        return self._key_ids

    def encrypt(self, value: str) -> tuple[bytes, str]:
        """The Fernet token of ``value`` and the id of the key that made it."""
        return self._fernet.encrypt(value.encode("utf-8")), self.primary_key_id

    def decrypt(self, token: bytes) -> str:
        """The value ``token`` holds.

        Raises:
            SecretUnreadableError: no configured key decrypts it.
        """
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise SecretUnreadableError(
                f"the value does not decrypt with the keys of {self.source}: it was made "
                "with another key, or altered"
            ) from None

    def rotate(self, token: bytes) -> tuple[bytes, str]:
        """``token`` encrypted again under the first key (its timestamp kept), and that key's
        id.

        Raises:
            SecretUnreadableError: no configured key decrypts it.
        """
        try:
            return self._fernet.rotate(token), self.primary_key_id
        except InvalidToken:
            raise SecretUnreadableError(
                f"a stored value does not decrypt with the keys of {self.source}"
            ) from None

    def __repr__(self) -> str:
        return f"SecretBox(key_ids={list(self._key_ids)!r}, source={self.source!r})"


def key_file_path(settings: Settings) -> Path:
    """Where the embedded setup keeps its key: ``<data_dir>/secret.key``."""
    return settings.data_dir / KEY_FILE_NAME


def load_secret_box(settings: Settings, *, create: bool = False) -> SecretBox:
    """The box of the configured keys: ``PLAIT_SECRET_KEYS`` when set, else the key file.

    Args:
        settings: Where the keys are.
        create: Make the key file (mode 0600) when neither source has a key. Only for a
            database without secrets: ``open_secret_box`` decides.

    Raises:
        SecretKeysError: a key of ``PLAIT_SECRET_KEYS`` is malformed (named by position), the
            key file is readable by others or malformed, or there is no key and ``create`` is
            false.
    """
    if settings.secret_keys is not None:
        return SecretBox(_parse_keys(settings.secret_keys.get_secret_value()), source=KEYS_VARIABLE)
    path = key_file_path(settings)
    source = f"the key file {path}"
    if path.exists():
        return SecretBox([_read_key_file(path)], source=source)
    if not create:
        raise SecretKeysError(
            f"no encryption key: {KEYS_VARIABLE} is not set and {path} does not exist; "
            f"set {KEYS_VARIABLE} ({_NEW_KEY_HINT}) or restore the key file"
        )
    return SecretBox([_create_key_file(path)], source=source)


async def check_secret_keys(box: SecretBox) -> None:
    """Refuse keys that cannot decrypt every stored secret.

    Raises:
        SecretKeysError: some secret was encrypted under a key the box does not have; the
            message lists those key ids and says what to configure.
    """
    _check_stored(box, await _stored_key_ids())


async def open_secret_box(settings: Settings, *, create: bool = True) -> SecretBox:
    """The box a process starts with, checked against the stored secrets (Tortoise must be
    initialized). The key file is created only while the database holds no secret.

    Args:
        settings: Where the keys are.
        create: Whether a missing key file may be made (for a database without secrets);
            false for commands that only use existing keys (``plait secrets rotate``).

    Raises:
        SecretKeysError: the keys are malformed or insecure, the key file is missing while
            secrets exist, or the keys do not include every key the secrets were encrypted
            under. The message says what to fix.
    """
    stored = await _stored_key_ids()
    path = key_file_path(settings)
    if settings.secret_keys is None and stored and not path.exists():
        raise SecretKeysError(
            f"the key file {path} is missing, but the database holds "
            f"{_describe(stored)}: restore {path} from a backup (mode 0600), or set "
            f"{KEYS_VARIABLE} to the key(s) that encrypted them. No new key is made while "
            "secrets exist: it could not decrypt them"
        )
    box = load_secret_box(settings, create=create and not stored)
    _check_stored(box, stored)
    return box


def _parse_keys(text: str) -> list[str]:
    """The keys of ``PLAIT_SECRET_KEYS``, in order; empty items (a trailing comma) ignored.

    Raises:
        SecretKeysError: no key, or one that is malformed (named by its 1-based position).
    """
    keys = [item.strip() for item in text.split(",") if item.strip()]
    if not keys:
        raise SecretKeysError(
            f"{KEYS_VARIABLE} is set but holds no key; {_NEW_KEY_HINT}, or unset it to use "
            f"the key file in the data directory"
        )
    for position, key in enumerate(keys, start=1):
        _check_key(key, f"key {position} of {KEYS_VARIABLE}")
    return keys


def _check_key(key: str, where: str) -> None:
    """Raises SecretKeysError naming ``where`` (never the key) when ``key`` is not a Fernet
    key."""
    try:
        Fernet(key)
    except (ValueError, binascii.Error):
        raise SecretKeysError(
            f"{where} is not a Fernet key (32 bytes in URL-safe base64, 44 characters); "
            f"{_NEW_KEY_HINT}"
        ) from None


def _read_key_file(path: Path) -> str:
    """The key in ``path``.

    A key file that others may read or write is refused rather than warned about: a warning
    scrolls by, and whoever can read the file can decrypt every secret.

    Raises:
        SecretKeysError: the file is accessible to its group or others, cannot be read, or
            does not hold a Fernet key.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if os.name == "posix" and mode & 0o077:
            raise SecretKeysError(
                f"the key file {path} is accessible to other users (mode {mode:04o}); "
                f"make it private with: chmod 600 {path}"
            )
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeysError(f"cannot read the key file {path}: {exc}") from None
    _check_key(key, f"the key file {path}")
    return key


def _create_key_file(path: Path) -> str:
    """Write a new key to ``path``, readable by its owner only; when another process created
    the file first, use that one's key instead.

    The key is written whole to a temporary file first and then linked to ``path``: the link
    fails when ``path`` exists, so of processes starting together exactly one key wins, and no
    process ever reads a file still being written (it would find no key, or a partial one).

    Raises:
        SecretKeysError: the file cannot be written.
    """
    key = new_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _write_private(path.parent, key)
    except OSError as exc:
        raise SecretKeysError(f"cannot create the key file {path}: {exc}") from None
    try:
        os.link(temporary, path)
        _sync_directory(path.parent)
    except FileExistsError:
        return _read_key_file(path)
    except OSError as exc:
        raise SecretKeysError(f"cannot create the key file {path}: {exc}") from None
    finally:
        temporary.unlink()
    logger.warning(
        "created the encryption key of stored secrets in %s: back it up; without it they "
        "cannot be decrypted",
        path,
    )
    return key


def _write_private(directory: Path, key: str) -> Path:
    """A new file in ``directory`` holding ``key``, mode 0600, flushed to disk."""
    descriptor, name = tempfile.mkstemp(prefix=f".{KEY_FILE_NAME}.", dir=directory)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            os.fchmod(descriptor, 0o600)  # exactly 0600 whatever the umask: read back by owner
            file.write(key + "\n")
            file.flush()
            os.fsync(descriptor)
    except BaseException:
        temporary.unlink()
        raise
    return temporary


def _sync_directory(directory: Path) -> None:
    """Flush ``directory``'s entries to disk, so that a crash cannot lose the new key file after
    secrets were encrypted with its key."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


async def _stored_key_ids() -> Counter[str]:
    """How many stored secrets each key encrypted, by key id."""
    ids = await Secret.filter(provider=SecretProvider.LOCAL).values_list("key_id", flat=True)
    return Counter(str(value) for value in ids)


def _check_stored(box: SecretBox, stored: Counter[str]) -> None:
    unknown = Counter({kid: count for kid, count in stored.items() if kid not in box.key_ids})
    if unknown:
        raise SecretKeysError(
            f"the database holds {_describe(unknown)}, and {box.source} has none of them "
            f"(it has {', '.join(box.key_ids)}): set {KEYS_VARIABLE} to include the key(s) "
            "that encrypted them, or restore the key file they were made with"
        )


def _describe(counts: Counter[str]) -> str:
    """``3 secret(s) encrypted under key(s) 1a2b…, 3c4d…``."""
    return f"{counts.total()} secret(s) encrypted under key(s) {', '.join(sorted(counts))}"
