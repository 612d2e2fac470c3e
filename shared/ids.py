"""Public identifiers: a type prefix and 26 characters that sort by creation time.

An id such as ``run_01JH4X9Q2ZKV8S7E5M3T6YB0CD`` is the prefix, an underscore, then a ULID-like
body: a 48-bit millisecond Unix timestamp followed by 80 random bits, written in Crockford
base32 (digits and upper-case letters without I, L, O, U). Why this shape:

- the prefix tells a reader (and an API client) what the id names, and a mistyped id of the
  wrong kind fails fast instead of matching nothing;
- ids created later sort after ids created earlier, as text and as bytes, so ``ORDER BY id``
  is creation order and a B-tree index on the id appends at its right edge instead of
  splitting pages at random, as UUID4 keys do;
- 80 random bits make a collision within one millisecond practically impossible without any
  coordination between processes.

Two ids created in the same millisecond are ordered by their random part, not by creation:
ordering is exact to the millisecond only.
"""

from __future__ import annotations

import secrets
import time
from enum import StrEnum

__all__ = [
    "ID_BODY_LENGTH",
    "IdPrefix",
    "id_timestamp_ms",
    "new_api_key_id",
    "new_id",
    "new_message_id",
    "new_proposal_id",
    "new_run_id",
    "new_secret_id",
    "new_session_id",
    "new_tenant_id",
    "new_trigger_event_id",
    "new_trigger_id",
    "new_user_id",
    "new_version_id",
    "new_workflow_id",
]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: its characters sort in the same order as the values they encode."""

_TIME_BITS = 48
_RANDOM_BITS = 80
_BITS_PER_CHAR = 5
ID_BODY_LENGTH = (_TIME_BITS + _RANDOM_BITS + _BITS_PER_CHAR - 1) // _BITS_PER_CHAR
"""Characters after the prefix and underscore: 26 (128 bits, the first character holds 3)."""

_TIME_CHARS = 10
"""Leading characters that hold the timestamp (50 bits, of which the top 2 are zero)."""


class IdPrefix(StrEnum):
    """The kinds of public id; the value is what the id starts with."""

    TENANT = "ten"
    """A tenant: the unit of data isolation."""
    USER = "usr"
    """A person who signs in."""
    API_KEY = "key"
    """An API key (the id is public; the secret part is never stored)."""
    WORKFLOW = "wf"
    """A workflow, the stable handle over its draft and versions."""
    VERSION = "ver"
    """An immutable version of a workflow's spec."""
    RUN = "run"
    """One execution of a workflow (also its LangGraph thread id)."""
    SECRET = "sec"
    """A stored, encrypted secret."""
    TRIGGER = "trg"
    """A trigger subscription that starts runs of a workflow."""
    TRIGGER_EVENT = "evt"
    """One event a trigger received."""
    SESSION = "ses"
    """A chat session with the agent."""
    MESSAGE = "msg"
    """One message of an agent session."""
    PROPOSAL = "prp"
    """A spec the agent proposes."""


def new_id(prefix: IdPrefix | str, *, now_ms: int | None = None) -> str:
    """A new public id for ``prefix``, ordered after every id made in an earlier millisecond.

    Args:
        prefix: The kind of id, e.g. ``IdPrefix.RUN`` or ``"run"``.
        now_ms: The timestamp to encode, in milliseconds since the Unix epoch; the current time
            by default. Tests pass it to make ordering deterministic.

    Returns:
        ``"<prefix>_<26 characters>"``.

    Raises:
        ValueError: When ``now_ms`` does not fit in 48 bits.
    """
    timestamp = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if not 0 <= timestamp < 1 << _TIME_BITS:
        raise ValueError(f"timestamp {timestamp} ms does not fit in {_TIME_BITS} bits")
    value = (timestamp << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
    return f"{prefix}_{_encode(value)}"


def id_timestamp_ms(public_id: str) -> int:
    """The creation time encoded in a public id, in milliseconds since the Unix epoch.

    Raises:
        ValueError: When ``public_id`` is not ``<prefix>_<26 Crockford base32 characters>``.
    """
    _, sep, body = public_id.rpartition("_")
    if not sep or len(body) != ID_BODY_LENGTH or any(c not in _ALPHABET for c in body):
        raise ValueError(f"not a public id: {public_id!r}")
    timestamp = 0
    for char in body[:_TIME_CHARS]:
        timestamp = timestamp * 32 + _ALPHABET.index(char)
    return timestamp


# One named factory per kind: models use them as the ``default`` of their primary key, and
# Tortoise's migration writer can only refer to a default by the name it is importable under.


def new_tenant_id() -> str:
    """A new ``ten_…`` id."""
    return new_id(IdPrefix.TENANT)


def new_user_id() -> str:
    """A new ``usr_…`` id."""
    return new_id(IdPrefix.USER)


def new_api_key_id() -> str:
    """A new ``key_…`` id."""
    return new_id(IdPrefix.API_KEY)


def new_workflow_id() -> str:
    """A new ``wf_…`` id."""
    return new_id(IdPrefix.WORKFLOW)


def new_version_id() -> str:
    """A new ``ver_…`` id."""
    return new_id(IdPrefix.VERSION)


def new_run_id() -> str:
    """A new ``run_…`` id."""
    return new_id(IdPrefix.RUN)


def new_secret_id() -> str:
    """A new ``sec_…`` id."""
    return new_id(IdPrefix.SECRET)


def new_trigger_id() -> str:
    """A new ``trg_…`` id."""
    return new_id(IdPrefix.TRIGGER)


def new_trigger_event_id() -> str:
    """A new ``evt_…`` id."""
    return new_id(IdPrefix.TRIGGER_EVENT)


def new_session_id() -> str:
    """A new ``ses_…`` id."""
    return new_id(IdPrefix.SESSION)


def new_message_id() -> str:
    """A new ``msg_…`` id."""
    return new_id(IdPrefix.MESSAGE)


def new_proposal_id() -> str:
    """A new ``prp_…`` id."""
    return new_id(IdPrefix.PROPOSAL)


def _encode(value: int) -> str:
    chars = []
    for _ in range(ID_BODY_LENGTH):
        chars.append(_ALPHABET[value & 0b11111])
        value >>= _BITS_PER_CHAR
    return "".join(reversed(chars))
