"""Tenants, users and API keys: ids, per-tenant uniqueness, and deleting a tenant."""

from __future__ import annotations

import hashlib

import pytest
from tortoise.exceptions import IntegrityError

from shared.database.models import (
    ApiKey,
    AuditEvent,
    Role,
    Tenant,
    User,
    Workflow,
    WorkflowRun,
)


def _key(tenant: Tenant, secret: str, *, prefix: str) -> ApiKey:
    return ApiKey(
        tenant=tenant,
        name="ci",
        prefix=prefix,
        key_hash=hashlib.sha256(secret.encode()).hexdigest(),
        role=Role.OPERATOR,
    )


class TestTenant:
    async def test_a_tenant_has_a_ten_id(self, tenant: Tenant) -> None:
        assert tenant.id.startswith("ten_")

    async def test_deleting_a_tenant_deletes_its_rows(
        self, tenant: Tenant, other_tenant: Tenant, run: WorkflowRun
    ) -> None:
        kept = await Workflow.create(tenant=other_tenant, name="kept")

        await tenant.delete()

        assert await Workflow.all().values_list("id", flat=True) == [kept.id]
        assert await WorkflowRun.all().count() == 0


class TestUser:
    async def test_an_email_is_used_once_per_tenant(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        first = await User.create(tenant=tenant, email="ada@example.com")
        await User.create(tenant=other_tenant, email="ada@example.com")

        with pytest.raises(IntegrityError):
            await User.create(tenant=tenant, email="ada@example.com")
        assert first.id.startswith("usr_")
        assert (await User.get(id=first.id)).role is Role.VIEWER


class TestApiKey:
    async def test_a_key_has_a_key_id_and_stores_only_the_hash(self, tenant: Tenant) -> None:
        key = _key(tenant, "plk_abc123_secret-part", prefix="plk_abc123")
        await key.save()

        stored = await ApiKey.get(prefix="plk_abc123")
        assert stored.id.startswith("key_")
        assert "secret-part" not in str(await ApiKey.filter(id=key.id).values())
        assert stored.key_hash == hashlib.sha256(b"plk_abc123_secret-part").hexdigest()

    @pytest.mark.parametrize("clash", ["prefix", "hash"])
    async def test_prefixes_and_hashes_are_unique(
        self, tenant: Tenant, other_tenant: Tenant, clash: str
    ) -> None:
        await _key(tenant, "secret-1", prefix="plk_one").save()
        twin = _key(
            other_tenant,
            "secret-1" if clash == "hash" else "secret-2",
            prefix="plk_one" if clash == "prefix" else "plk_two",
        )

        with pytest.raises(IntegrityError):
            await twin.save()


class TestAuditEvent:
    async def test_entries_read_back_newest_first_per_tenant(self, tenant: Tenant) -> None:
        for action in ("workflow.create", "workflow.publish"):
            await AuditEvent.create(tenant=tenant, actor="usr_x", action=action, target_id="wf_1")

        entries = await AuditEvent.filter(tenant=tenant).order_by("-id")

        assert [e.action for e in entries] == ["workflow.publish", "workflow.create"]
