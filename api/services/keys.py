"""API keys: creating them, and turning a presented key into the principal that acts.

A key reads ``plait_<prefix>_<secret>``. ``plait_<prefix>`` is stored in clear (``ApiKey.prefix``)
so that a person can tell keys apart in a list and the server finds the key's row by an index
lookup; the whole key is stored only as its SHA-256 (``ApiKey.key_hash``). The plaintext is
returned once, by ``create_api_key``, and cannot be recovered afterwards.

Roles are ordered ``viewer < operator < admin``; each includes what the ones below it may do.

    PlaitError
    ├── UnauthenticatedError   no usable credential: missing, malformed, unknown, revoked,
    │                          expired (the API answers 401)
    └── PermissionDeniedError  (shared.errors) the principal is known but its role is too
                               low (403)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from shared.database.models import ApiKey, Role, Tenant, User
from shared.errors import PermissionDeniedError, PlaitError

__all__ = [
    "Principal",
    "UnauthenticatedError",
    "authenticate",
    "create_api_key",
    "role_includes",
]

_SCHEME = "plait"
"""The first part of every key, so that leaked keys are easy to recognize (and to scan for)."""

_PREFIX_BYTES = 6
"""Random bytes of the public prefix (12 hex characters): enough that two keys practically never
share one; the unique index on ``prefix`` refuses the rare collision."""

_SECRET_BYTES = 32
"""Random bytes of the secret part: 256 bits, out of reach of guessing."""

_RANK: dict[Role, int] = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
"""How much each role may do; a higher rank includes every lower one."""


class UnauthenticatedError(PlaitError):
    """The request carries no credential that names an active key.

    The message never says which check failed (unknown prefix, wrong secret, revoked), so that
    a caller probing keys learns nothing from it.
    """

    code = "unauthenticated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is acting: an API key of a tenant, with that key's role."""

    tenant_id: str
    """The tenant every read and write of this principal is confined to."""
    role: Role
    """What the principal may do."""
    key_id: str
    """The ``key_…`` id of the key presented; recorded as the actor in the audit log."""

    def require(self, role: Role) -> None:
        """Refuse the operation unless this principal's role includes ``role``.

        Raises:
            PermissionDeniedError: the principal's role is lower than ``role``.
        """
        if not role_includes(self.role, role):
            raise PermissionDeniedError(
                f"this operation needs the {role} role; the key has {self.role}"
            )


def role_includes(held: Role, needed: Role) -> bool:
    """Whether a principal holding ``held`` may do what ``needed`` allows."""
    return _RANK[held] >= _RANK[needed]


async def create_api_key(
    tenant: Tenant, role: Role, *, name: str, at: datetime, user: User | None = None
) -> tuple[ApiKey, str]:
    """Make a new key for ``tenant`` and store it as its prefix and hash.

    Args:
        tenant: The tenant the key acts in.
        role: What the key may do.
        name: What the key is for, shown in lists.
        at: When the key is created.
        user: The person creating it, if any.

    Returns:
        The stored row and the key's plaintext. The plaintext is not stored anywhere: show it
        to the person once.
    """
    prefix = f"{_SCHEME}_{secrets.token_hex(_PREFIX_BYTES)}"
    plaintext = f"{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    row = await ApiKey.create(
        tenant=tenant,
        user=user,
        name=name,
        prefix=prefix,
        key_hash=_hash(plaintext),
        role=role,
        created_at=at,
    )
    return row, plaintext


async def authenticate(token: str, *, at: datetime) -> Principal:
    """The principal of an API key presented at ``at``.

    Args:
        token: The key as presented, ``plait_<prefix>_<secret>``.
        at: Now; a key that expired before it is refused.

    Returns:
        The key's tenant, role and id.

    Raises:
        UnauthenticatedError: the token is malformed, names no key, does not match the key's
            hash, or the key is revoked or expired.
    """
    refused = UnauthenticatedError("invalid API key")
    prefix = _prefix_of(token)
    if prefix is None:
        raise refused
    row = await ApiKey.get_or_none(prefix=prefix)
    if row is None or not hmac.compare_digest(row.key_hash, _hash(token)):
        raise refused
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= at):
        raise refused
    return Principal(tenant_id=row.tenant_id, role=Role(row.role), key_id=row.id)


def _prefix_of(token: str) -> str | None:
    """``plait_<prefix>`` of a well-formed token, else None."""
    scheme, _, rest = token.partition("_")
    body, _, secret = rest.partition("_")
    if scheme != _SCHEME or len(body) != 2 * _PREFIX_BYTES or not secret:
        return None
    return f"{scheme}_{body}"


def _hash(token: str) -> str:
    """Hex SHA-256 of the whole key.

    A fast hash is enough here, unlike for passwords: a key carries 256 random bits, so a
    stolen hash cannot be reversed by trying candidates, however fast each try is, and a slow
    hash would only make every API request slower.
    """
    return hashlib.sha256(token.encode()).hexdigest()
