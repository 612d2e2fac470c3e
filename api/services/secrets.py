"""A tenant's secrets: writing them encrypted, listing them without values, resolving them for
the nodes that read ``{{ secrets.NAME }}``, and re-encrypting them all under a new key.

A value is encrypted by the process's ``SecretBox`` before it is stored and decrypted only
where a node (or a model provider) uses it; every decrypted value is remembered by the
process's ``Redactor``, which masks it wherever it would show. No function here returns a value
to a caller outside the process, and audit events name secrets, never their values.

Providers (``SecretProvider``)::

    local   the value is stored here, as Fernet ciphertext (``key_id`` names the key)
    env     the value is the server's environment variable ``PLAIT_SECRET_<NAME>``, read
            when used; the row only records that the tenant uses it. Only the names the
            operator lists in ``PLAIT_ENV_SECRETS`` (``Settings.env_secrets``) may be written
            or read: the environment also holds what the operator set for itself
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from api.services.audit import record_audit
from api.services.keys import Principal
from shared.crypto import SecretBox, SecretUnreadableError
from shared.database.models import Role, Secret, SecretProvider
from shared.errors import NotFoundError, PlaitError
from shared.redaction import Redactor
from workflow_compiler.clock import Clock, SystemClock
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.secrets import env_variable, is_setting_name

__all__ = [
    "ENV_SECRETS_SETTING",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_VALUE_LENGTH",
    "SECRET_NAME_PATTERN",
    "RotationReport",
    "SecretInvalidError",
    "SecretNotFoundError",
    "TenantSecrets",
    "delete_secret",
    "list_secrets",
    "put_secret",
    "rotate_secrets",
    "secret_value",
]

SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
"""A secret's name: an ASCII identifier of at most 128 characters (the column's size), so that
``{{ secrets.NAME }}`` reads it and ``PLAIT_SECRET_<NAME>`` can hold it."""

MAX_VALUE_LENGTH = 65_536
"""The longest value, in characters: room for a PEM key or a service-account JSON."""

MAX_DESCRIPTION_LENGTH = 1_000

ENV_SECRETS_SETTING = "PLAIT_ENV_SECRETS"
"""The setting listing the names ``env`` secrets may have (``Settings.env_secrets``), for
messages."""


class SecretNotFoundError(NotFoundError):
    """No secret of this name in the principal's tenant."""


class SecretInvalidError(PlaitError):
    """The secret cannot be stored as asked (a request the schema cannot refuse alone)."""

    code = "secret_invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class RotationReport:
    """What ``rotate_secrets`` did."""

    rotated: int
    """Secrets re-encrypted under the first key."""
    current: int
    """Secrets the first key had encrypted already, left as they were."""
    changed_meanwhile: int
    """Secrets replaced or deleted between their reading and their re-encryption, left as the
    concurrent write made them: a replaced one may be under an old key still, so rotation
    should run again."""


async def list_secrets(principal: Principal) -> list[Secret]:
    """The tenant's secrets, by name. Callers show their metadata only, never ``ciphertext``.

    Raises:
        PermissionDeniedError: the principal is a viewer.
    """
    principal.require(Role.OPERATOR)
    return await Secret.filter(tenant_id=principal.tenant_id).order_by("name")


async def put_secret(
    principal: Principal,
    name: str,
    *,
    value: str | None,
    description: str | None,
    box: SecretBox,
    at: datetime,
    env_secrets: Collection[str] = (),
) -> tuple[Secret, bool]:
    """Create the secret ``name``, or replace its value (a PUT always replaces: the old value
    cannot be compared without decrypting it, and is not worth comparing).

    Args:
        value: The value, stored encrypted (provider ``local``); None makes an ``env``
            secret, read from ``PLAIT_SECRET_<NAME>`` when used.
        description: None keeps the existing description (empty for a new secret).
        env_secrets: The names an ``env`` secret may have (``PLAIT_ENV_SECRETS``).

    Returns:
        The secret, and whether it was created.

    Raises:
        PermissionDeniedError: the principal is not an admin.
        SecretInvalidError: an ``env`` secret whose variable is a Plait setting
            (``PLAIT_SECRET_KEYS``), or whose name ``env_secrets`` does not list.
    """
    principal.require(Role.ADMIN)
    if value is None and is_setting_name(name):
        raise SecretInvalidError(
            f"'{name}' cannot be an env secret: {env_variable(name)} is a Plait setting "
            "(the encryption keys), not a secret"
        )
    if value is None and name not in env_secrets:
        raise SecretInvalidError(
            f"'{name}' cannot be an env secret: the server's {ENV_SECRETS_SETTING} does not "
            f"list it (its operator decides which of its {env_variable('*')} variables "
            "tenants may read); send a 'value' to store the secret here instead"
        )
    if value is None:
        fields: dict[str, Any] = {
            "provider": SecretProvider.ENV,
            "ciphertext": None,
            "key_id": None,
        }
    else:
        ciphertext, key_id = box.encrypt(value)
        fields = {"provider": SecretProvider.LOCAL, "ciphertext": ciphertext, "key_id": key_id}
    if description is not None:
        fields["description"] = description
    async with in_transaction():
        secret, created = await Secret.get_or_create(
            defaults=fields, tenant_id=principal.tenant_id, name=name
        )
        if not created:
            secret.update_from_dict(fields)
            await secret.save()
        detail = {"name": name, "provider": str(secret.provider)}
        action = "secret.create" if created else "secret.update"
        await record_audit(principal, action, secret.id, at=at, detail=detail)
    return secret, created


async def delete_secret(principal: Principal, name: str, *, at: datetime) -> None:
    """Delete the secret ``name``. Nodes and providers that read it fail from then on with
    ``secret_missing``.

    Raises:
        PermissionDeniedError: the principal is not an admin.
        SecretNotFoundError: the tenant has no secret of this name.
    """
    principal.require(Role.ADMIN)
    async with in_transaction():
        secret = await Secret.get_or_none(tenant_id=principal.tenant_id, name=name)
        if secret is None:
            raise SecretNotFoundError(f"no secret named '{name}'")
        await secret.delete()
        await record_audit(principal, "secret.delete", secret.id, at=at, detail={"name": name})


class TenantSecrets:
    """The ``SecretResolver`` of one tenant's runs: values decrypted (or read from the
    environment) only when a node that reads them executes."""

    def __init__(
        self,
        tenant_id: str,
        *,
        box: SecretBox,
        redactor: Redactor,
        environ: Mapping[str, str] = os.environ,
        env_secrets: Collection[str] = (),
        clock: Clock | None = None,
    ) -> None:
        """
        Args:
            tenant_id: Whose secrets.
            box: Decrypts ``local`` secrets.
            redactor: Remembers every value handed out, so that it is masked wherever it
                would be stored or sent.
            environ: Where ``env`` secrets are read.
            env_secrets: The names an ``env`` secret may have (``PLAIT_ENV_SECRETS``); an
                ``env`` secret of another name is missing.
            clock: Stamps ``last_used_at``.
        """
        self._tenant_id = tenant_id
        self._box = box
        self._redactor = redactor
        self._environ = environ
        self._env_secrets = frozenset(env_secrets)
        self._clock = clock or SystemClock()

    async def resolve(self, names: Iterable[str]) -> dict[str, str]:
        """The values of ``names``; each secret's ``last_used_at`` becomes now.

        Raises:
            NodeError: ``secret_missing`` naming the first (sorted) secret that does not
                exist or whose value cannot be read.
        """
        values = await _read(
            self._tenant_id,
            sorted(set(names)),
            box=self._box,
            environ=self._environ,
            env_secrets=self._env_secrets,
        )
        self._redactor.remember(values.values())
        await _mark_used(self._tenant_id, values, at=self._clock.now())
        return values

    async def remember(self, names: Iterable[str]) -> None:
        """Have the redactor mask the values of ``names`` from now on, without using them:
        those that do not exist or cannot be read are skipped (a node reading one fails with
        ``secret_missing`` when it executes)."""
        wanted = sorted(set(names))
        if not wanted:
            return
        values = []
        for secret in await Secret.filter(tenant_id=self._tenant_id, name__in=wanted):
            try:
                values.append(
                    _value(
                        secret,
                        box=self._box,
                        environ=self._environ,
                        env_secrets=self._env_secrets,
                    )
                )
            except NodeError:
                continue
        self._redactor.remember(values)


async def secret_value(
    tenant_id: str,
    name: str,
    *,
    box: SecretBox,
    environ: Mapping[str, str] = os.environ,
    env_secrets: Collection[str] = (),
    at: datetime | None = None,
) -> str:
    """The value of the tenant's secret ``name`` (for a model provider's key); its
    ``last_used_at`` becomes ``at`` (default: now). The caller remembers the value in the
    process's ``Redactor``.

    Raises:
        NodeError: ``secret_missing``: the secret does not exist, or its value cannot be read
            (an ``env`` secret whose name ``env_secrets`` does not list cannot).
    """
    values = await _read(tenant_id, [name], box=box, environ=environ, env_secrets=env_secrets)
    await _mark_used(tenant_id, values, at=at or datetime.now(UTC))
    return values[name]


async def rotate_secrets(box: SecretBox) -> RotationReport:
    """Re-encrypt every tenant's stored secrets under the box's first key. Idempotent: what
    the first key encrypted is left alone.

    A secret replaced (or deleted) while this runs keeps its new value: a re-encrypted token
    is written only over the very token it was made from, and the report counts the others as
    ``changed_meanwhile``.

    Raises:
        SecretUnreadableError: a secret does not decrypt with the box's keys (the process's
            start-up check, ``shared.crypto.check_secret_keys``, refuses such keys first).
    """
    rows = await Secret.filter(provider=SecretProvider.LOCAL).order_by("id")
    rotated = current = changed_meanwhile = 0
    for secret in rows:
        if secret.key_id == box.primary_key_id:
            current += 1
            continue
        assert secret.ciphertext is not None, "a local secret always has a ciphertext"
        token, key_id = box.rotate(secret.ciphertext)
        if await _replace_token(secret, token, key_id):
            rotated += 1
        else:
            changed_meanwhile += 1
    return RotationReport(rotated=rotated, current=current, changed_meanwhile=changed_meanwhile)


async def _replace_token(secret: Secret, token: bytes, key_id: str) -> bool:
    """Write ``token`` over the secret's token if the row still holds the one it was read with
    (a compare-and-swap); whether it did. ``update`` leaves ``updated_at`` alone: the value did
    not change."""
    swapped = await Secret.filter(id=secret.id, ciphertext=secret.ciphertext).update(
        ciphertext=token, key_id=key_id
    )
    return swapped > 0


async def _read(
    tenant_id: str,
    names: list[str],
    *,
    box: SecretBox,
    environ: Mapping[str, str],
    env_secrets: Collection[str],
) -> dict[str, str]:
    """The values of ``names`` (sorted) in the tenant.

    Raises:
        NodeError: ``secret_missing`` naming the first name without a readable value.
    """
    rows = {s.name: s for s in await Secret.filter(tenant_id=tenant_id, name__in=names)}
    values = {}
    for name in names:
        secret = rows.get(name)
        if secret is None:
            raise NodeError(
                ErrorKind.SECRET_MISSING,
                f"secret '{name}' does not exist in this tenant (create it with "
                f"PUT /v1/secrets/{name})",
            )
        values[name] = _value(secret, box=box, environ=environ, env_secrets=env_secrets)
    return values


def _value(
    secret: Secret, *, box: SecretBox, environ: Mapping[str, str], env_secrets: Collection[str]
) -> str:
    if secret.provider is SecretProvider.ENV:
        variable = env_variable(secret.name)
        if secret.name not in env_secrets:
            # Rows written before the operator narrowed the list, or a list never set.
            raise NodeError(
                ErrorKind.SECRET_MISSING,
                f"secret '{secret.name}' is read from the server's environment, and the "
                f"server's {ENV_SECRETS_SETTING} does not list it",
            )
        value = None if is_setting_name(secret.name) else environ.get(variable)
        if not value:
            raise NodeError(
                ErrorKind.SECRET_MISSING,
                f"secret '{secret.name}' is read from the server's environment, where "
                f"{variable} is not set",
            )
        return value
    assert secret.ciphertext is not None, "a local secret always has a ciphertext"
    try:
        return box.decrypt(secret.ciphertext)
    except SecretUnreadableError as exc:
        raise NodeError(
            ErrorKind.SECRET_MISSING, f"secret '{secret.name}' cannot be read: {exc.message}"
        ) from None


async def _mark_used(tenant_id: str, values: Mapping[str, str], *, at: datetime) -> None:
    if values:
        await Secret.filter(tenant_id=tenant_id, name__in=list(values)).update(last_used_at=at)
