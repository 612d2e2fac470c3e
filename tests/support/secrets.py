"""Stored secrets for tests: a box with a fresh key, and a secret encrypted with it."""

from __future__ import annotations

from shared.crypto import SecretBox, new_key
from shared.database.models import Secret


def make_box() -> SecretBox:
    """A box with one new key, as a server with ``PLAIT_SECRET_KEYS`` set has."""
    return SecretBox([new_key()], source="the test's key")


async def store_secret(tenant_id: str, name: str, value: str, *, box: SecretBox) -> Secret:
    """The tenant's secret ``name`` holding ``value``, encrypted with ``box``."""
    ciphertext, key_id = box.encrypt(value)
    return await Secret.create(tenant_id=tenant_id, name=name, ciphertext=ciphertext, key_id=key_id)
