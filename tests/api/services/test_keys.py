"""API keys: created as prefix + hash only, authenticated in constant time, roles ordered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.services import (
    Principal,
    UnauthenticatedError,
    authenticate,
    create_api_key,
    role_includes,
)
from shared.database.models import ApiKey, Role, Tenant
from shared.errors import PermissionDeniedError

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


class TestCreateApiKey:
    async def test_the_row_holds_the_prefix_and_hash_but_never_the_plaintext(
        self, tenant: Tenant
    ) -> None:
        row, plaintext = await create_api_key(tenant, Role.OPERATOR, name="ci", at=AT)

        stored = await ApiKey.get(id=row.id).values()
        assert plaintext.startswith(f"{stored['prefix']}_")
        assert stored["prefix"].startswith("plait_")
        secret = plaintext.removeprefix(f"{stored['prefix']}_")
        assert len(secret) >= 40
        for value in stored.values():
            assert secret not in str(value)
            assert plaintext not in str(value)
        assert stored["key_hash"] != plaintext
        assert len(stored["key_hash"]) == 64
        assert (stored["tenant_id"], stored["role"], stored["name"]) == (
            tenant.id,
            Role.OPERATOR,
            "ci",
        )
        assert stored["created_at"] == AT

    async def test_every_key_is_different(self, tenant: Tenant) -> None:
        first = await create_api_key(tenant, Role.VIEWER, name="a", at=AT)
        second = await create_api_key(tenant, Role.VIEWER, name="b", at=AT)

        assert first[1] != second[1]
        assert first[0].prefix != second[0].prefix


class TestAuthenticate:
    async def test_a_valid_key_gives_its_tenant_role_and_id(self, tenant: Tenant) -> None:
        row, plaintext = await create_api_key(tenant, Role.ADMIN, name="ops", at=AT)

        principal = await authenticate(plaintext, at=AT)

        assert principal == Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=row.id)

    async def test_a_wrong_secret_is_refused(self, tenant: Tenant) -> None:
        row, plaintext = await create_api_key(tenant, Role.ADMIN, name="ops", at=AT)
        forged = f"{row.prefix}_{'A' * len(plaintext.removeprefix(row.prefix + '_'))}"

        with pytest.raises(UnauthenticatedError) as caught:
            await authenticate(forged, at=AT)
        assert caught.value.code == "unauthenticated"

    async def test_an_unknown_prefix_is_refused(self, tenant: Tenant) -> None:
        _, plaintext = await create_api_key(tenant, Role.ADMIN, name="ops", at=AT)
        unknown = "plait_000000000000" + plaintext[len("plait_000000000000") :]

        with pytest.raises(UnauthenticatedError):
            await authenticate(unknown, at=AT)

    @pytest.mark.parametrize(
        "token", ["", "plait", "plait_", "plait_abc_secret", "Bearer x", "other_0123456789ab_s"]
    )
    async def test_a_malformed_token_is_refused(self, database: str, token: str) -> None:
        with pytest.raises(UnauthenticatedError):
            await authenticate(token, at=AT)

    async def test_a_revoked_key_is_refused(self, tenant: Tenant) -> None:
        row, plaintext = await create_api_key(tenant, Role.ADMIN, name="ops", at=AT)
        row.revoked_at = AT
        await row.save()

        with pytest.raises(UnauthenticatedError):
            await authenticate(plaintext, at=AT + timedelta(seconds=1))

    async def test_an_expired_key_is_refused_from_its_expiry_on(self, tenant: Tenant) -> None:
        row, plaintext = await create_api_key(tenant, Role.ADMIN, name="ops", at=AT)
        row.expires_at = AT + timedelta(hours=1)
        await row.save()

        assert await authenticate(plaintext, at=AT + timedelta(minutes=59))
        with pytest.raises(UnauthenticatedError):
            await authenticate(plaintext, at=AT + timedelta(hours=1))


class TestRoles:
    @pytest.mark.parametrize(
        ("held", "needed", "allowed"),
        [
            (Role.VIEWER, Role.VIEWER, True),
            (Role.VIEWER, Role.OPERATOR, False),
            (Role.VIEWER, Role.ADMIN, False),
            (Role.OPERATOR, Role.VIEWER, True),
            (Role.OPERATOR, Role.OPERATOR, True),
            (Role.OPERATOR, Role.ADMIN, False),
            (Role.ADMIN, Role.VIEWER, True),
            (Role.ADMIN, Role.OPERATOR, True),
            (Role.ADMIN, Role.ADMIN, True),
        ],
    )
    def test_each_role_includes_the_lower_ones(
        self, held: Role, needed: Role, allowed: bool
    ) -> None:
        principal = Principal(tenant_id="ten_x", role=held, key_id="key_x")

        assert role_includes(held, needed) is allowed
        if allowed:
            principal.require(needed)
        else:
            with pytest.raises(PermissionDeniedError) as caught:
                principal.require(needed)
            assert caught.value.code == "forbidden"
