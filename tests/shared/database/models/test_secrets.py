"""Secrets: one name per tenant, ciphertext stored as bytes."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from shared.database.models import Secret, SecretProvider, Tenant

CIPHERTEXT = b"gAAAAABm\x00\xff-fernet-token"


class TestSecret:
    async def test_a_secret_has_a_sec_id_and_keeps_its_ciphertext_bytes(
        self, tenant: Tenant
    ) -> None:
        secret = await Secret.create(
            tenant=tenant, name="HOOK_TOKEN", ciphertext=CIPHERTEXT, key_id="k1"
        )

        stored = await Secret.get(id=secret.id)
        assert stored.id.startswith("sec_")
        assert stored.provider is SecretProvider.LOCAL
        assert (bytes(stored.ciphertext or b""), stored.key_id) == (CIPHERTEXT, "k1")

    async def test_a_name_is_used_once_per_tenant(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        await Secret.create(tenant=tenant, name="HOOK_TOKEN", ciphertext=CIPHERTEXT)
        await Secret.create(tenant=other_tenant, name="HOOK_TOKEN", ciphertext=CIPHERTEXT)

        with pytest.raises(IntegrityError):
            await Secret.create(tenant=tenant, name="HOOK_TOKEN", ciphertext=CIPHERTEXT)
