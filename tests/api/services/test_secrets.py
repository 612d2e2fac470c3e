"""Secrets of a tenant: written encrypted by admins, listed by operators, resolved for the
nodes that read them, re-encrypted under a new key by rotation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from api.services import Principal
from api.services import secrets as secrets_service
from api.services.secrets import (
    RotationReport,
    SecretInvalidError,
    SecretNotFoundError,
    TenantSecrets,
    delete_secret,
    list_secrets,
    put_secret,
    rotate_secrets,
    secret_value,
)
from shared.crypto import SecretBox, SecretUnreadableError, new_key
from shared.database.models import AuditEvent, Role, Secret, SecretProvider, Tenant
from shared.errors import PermissionDeniedError
from shared.redaction import Redactor
from tests.support.clock import FakeClock
from tests.support.principals import principal
from tests.support.secrets import make_box, store_secret
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.lowering import compile_workflow

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
VALUE = "s3cr3t-value-Zq8"


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="acme")


@pytest.fixture
def admin(tenant: Tenant) -> Principal:
    return principal(tenant)


@pytest.fixture
def box() -> SecretBox:
    return make_box()


def _as(admin: Principal, role: Role) -> Principal:
    return replace(admin, role=role)


class TestPutSecret:
    async def test_creates_it_encrypted_and_audits_without_the_value(
        self, admin: Principal, box: SecretBox
    ) -> None:
        secret, created = await put_secret(
            admin, "API_TOKEN", value=VALUE, description="for the hook", box=box, at=AT
        )

        assert created
        stored = await Secret.get(id=secret.id)
        assert (stored.provider, stored.description, stored.key_id) == (
            SecretProvider.LOCAL,
            "for the hook",
            box.primary_key_id,
        )
        assert stored.ciphertext is not None
        assert VALUE.encode() not in stored.ciphertext
        assert box.decrypt(stored.ciphertext) == VALUE
        event = await AuditEvent.get(tenant_id=admin.tenant_id)
        assert (event.action, event.target_id, event.data) == (
            "secret.create",
            secret.id,
            {"name": "API_TOKEN", "provider": "local"},
        )

    async def test_a_second_put_replaces_the_value_and_keeps_the_description(
        self, admin: Principal, box: SecretBox
    ) -> None:
        first, _ = await put_secret(admin, "A", value="one", description="d", box=box, at=AT)

        second, created = await put_secret(
            admin, "A", value="two", description=None, box=box, at=AT
        )

        assert not created
        assert second.id == first.id
        stored = await Secret.get(id=first.id)
        assert stored.ciphertext is not None
        assert box.decrypt(stored.ciphertext) == "two"
        assert stored.description == "d"
        actions = await AuditEvent.all().order_by("id").values_list("action", flat=True)
        assert actions == ["secret.create", "secret.update"]

    async def test_an_env_secret_stores_no_value(self, admin: Principal, box: SecretBox) -> None:
        await put_secret(admin, "A", value="local", description=None, box=box, at=AT)

        secret, _ = await put_secret(
            admin, "A", value=None, description=None, box=box, at=AT, env_secrets=["A"]
        )

        stored = await Secret.get(id=secret.id)
        assert (stored.provider, stored.ciphertext, stored.key_id) == (
            SecretProvider.ENV,
            None,
            None,
        )

    @pytest.mark.parametrize("name", ["KEYS", "keys", "Keys"])
    async def test_the_encryption_keys_setting_cannot_be_an_env_secret(
        self, admin: Principal, box: SecretBox, name: str
    ) -> None:
        with pytest.raises(SecretInvalidError, match="PLAIT_SECRET_"):
            await put_secret(
                admin, name, value=None, description=None, box=box, at=AT, env_secrets=[name]
            )

        assert await Secret.all().count() == 0

    @pytest.mark.parametrize("listed", [[], ["OTHER"], ["hook"]])
    async def test_an_env_secret_the_operator_did_not_list_is_refused(
        self, admin: Principal, box: SecretBox, listed: list[str]
    ) -> None:
        await put_secret(admin, "HOOK", value="local", description=None, box=box, at=AT)

        with pytest.raises(SecretInvalidError, match="PLAIT_ENV_SECRETS does not list it"):
            await put_secret(
                admin, "HOOK", value=None, description=None, box=box, at=AT, env_secrets=listed
            )

        stored = await Secret.get(name="HOOK")
        assert stored.provider is SecretProvider.LOCAL
        assert await AuditEvent.filter(action="secret.update").count() == 0

    @pytest.mark.parametrize("role", [Role.OPERATOR, Role.VIEWER])
    async def test_only_admins_write(self, admin: Principal, box: SecretBox, role: Role) -> None:
        with pytest.raises(PermissionDeniedError):
            await put_secret(_as(admin, role), "A", value="v", description=None, box=box, at=AT)
        with pytest.raises(PermissionDeniedError):
            await delete_secret(_as(admin, role), "A", at=AT)

        assert await Secret.all().count() == 0


class TestListAndDelete:
    async def test_operators_list_their_tenants_secrets_by_name(
        self, admin: Principal, box: SecretBox
    ) -> None:
        for name in ("B", "A"):
            await put_secret(admin, name, value="v", description=None, box=box, at=AT)
        other = await Tenant.create(name="other")
        await store_secret(other.id, "C", "v", box=box)

        secrets = await list_secrets(_as(admin, Role.OPERATOR))

        assert [s.name for s in secrets] == ["A", "B"]

    async def test_viewers_may_not_list(self, admin: Principal) -> None:
        with pytest.raises(PermissionDeniedError):
            await list_secrets(_as(admin, Role.VIEWER))

    async def test_delete_removes_it_and_audits(self, admin: Principal, box: SecretBox) -> None:
        secret, _ = await put_secret(admin, "A", value="v", description=None, box=box, at=AT)

        await delete_secret(admin, "A", at=AT)

        assert not await Secret.exists(id=secret.id)
        event = await AuditEvent.filter(action="secret.delete").get()
        assert (event.target_id, event.data) == (secret.id, {"name": "A"})

    async def test_delete_of_an_unknown_or_foreign_secret_is_not_found(
        self, admin: Principal, box: SecretBox
    ) -> None:
        other = await Tenant.create(name="other")
        await store_secret(other.id, "A", "v", box=box)

        for name in ("A", "NOPE"):
            with pytest.raises(SecretNotFoundError, match=f"'{name}'"):
                await delete_secret(admin, name, at=AT)

        assert await Secret.all().count() == 1
        assert await AuditEvent.all().count() == 0


class TestTenantSecrets:
    async def test_resolves_remembers_and_stamps_last_use(
        self, tenant: Tenant, box: SecretBox
    ) -> None:
        await store_secret(tenant.id, "A", VALUE, box=box)
        await store_secret(tenant.id, "B", "other-value", box=box)
        await store_secret(tenant.id, "UNUSED", "x", box=box)
        redactor = Redactor()
        clock = FakeClock()

        values = await TenantSecrets(
            tenant.id, box=box, redactor=redactor, environ={}, clock=clock
        ).resolve(["B", "A"])

        assert values == {"A": VALUE, "B": "other-value"}
        assert redactor.text(f"x {VALUE} other-value") == "x *** ***"
        used = dict(await Secret.all().values_list("name", "last_used_at"))
        assert used == {"A": clock.now(), "B": clock.now(), "UNUSED": None}

    async def test_remember_masks_values_without_using_them_and_skips_the_unreadable(
        self, tenant: Tenant, box: SecretBox
    ) -> None:
        await store_secret(tenant.id, "A", VALUE, box=box)
        await store_secret(tenant.id, "LOST", "under-a-lost-key", box=make_box())
        other = await Tenant.create(name="other")
        await store_secret(other.id, "FOREIGN", "foreign-value", box=box)
        redactor = Redactor()

        await TenantSecrets(tenant.id, box=box, redactor=redactor, environ={}).remember(
            ["A", "LOST", "NOPE", "FOREIGN"]
        )

        assert redactor.text(f"{VALUE} foreign-value") == "*** foreign-value"
        assert await Secret.filter(last_used_at__isnull=False).count() == 0

    async def test_a_missing_secret_names_it_and_is_not_retried(
        self, tenant: Tenant, box: SecretBox
    ) -> None:
        await store_secret(tenant.id, "A", VALUE, box=box)
        other = await Tenant.create(name="other")
        await store_secret(other.id, "FOREIGN", "v", box=box)
        secrets = TenantSecrets(tenant.id, box=box, redactor=Redactor(), environ={})

        for names in (["A", "NOPE"], ["FOREIGN"]):
            with pytest.raises(NodeError) as info:
                await secrets.resolve(names)
            assert info.value.kind is ErrorKind.SECRET_MISSING
            assert not info.value.retryable
            assert f"secret '{names[-1]}' does not exist" in info.value.message

        assert await Secret.filter(last_used_at__isnull=False).count() == 0

    async def test_an_env_secret_reads_the_servers_environment(
        self, admin: Principal, box: SecretBox
    ) -> None:
        await put_secret(
            admin, "HOOK", value=None, description=None, box=box, at=AT, env_secrets=["HOOK"]
        )
        redactor = Redactor()
        environ = {"PLAIT_SECRET_HOOK": "from-env"}

        values = await TenantSecrets(
            admin.tenant_id, box=box, redactor=redactor, environ=environ, env_secrets=["HOOK"]
        ).resolve(["HOOK"])

        assert values == {"HOOK": "from-env"}
        assert redactor.text("from-env") == "***"
        assert (await Secret.get(name="HOOK")).last_used_at is not None

    async def test_an_env_secret_without_its_variable_is_missing(
        self, admin: Principal, box: SecretBox
    ) -> None:
        await put_secret(
            admin, "HOOK", value=None, description=None, box=box, at=AT, env_secrets=["HOOK"]
        )
        secrets = TenantSecrets(
            admin.tenant_id, box=box, redactor=Redactor(), environ={}, env_secrets=["HOOK"]
        )

        with pytest.raises(NodeError) as info:
            await secrets.resolve(["HOOK"])

        assert info.value.kind is ErrorKind.SECRET_MISSING
        assert "PLAIT_SECRET_HOOK is not set" in info.value.message

    @pytest.mark.parametrize("listed", [[], ["OTHER"]])
    async def test_an_env_secret_the_operator_no_longer_lists_is_missing(
        self, tenant: Tenant, box: SecretBox, listed: list[str]
    ) -> None:
        await Secret.create(tenant_id=tenant.id, name="CLI_TOKEN", provider=SecretProvider.ENV)
        redactor = Redactor()
        secrets = TenantSecrets(
            tenant.id,
            box=box,
            redactor=redactor,
            environ={"PLAIT_SECRET_CLI_TOKEN": "operators-own"},
            env_secrets=listed,
        )

        with pytest.raises(NodeError) as info:
            await secrets.resolve(["CLI_TOKEN"])

        assert info.value.kind is ErrorKind.SECRET_MISSING
        assert "PLAIT_ENV_SECRETS does not list it" in info.value.message
        assert "operators-own" not in info.value.message
        assert redactor.text("operators-own") == "operators-own", "nothing was handed out"
        assert (await Secret.get(name="CLI_TOKEN")).last_used_at is None

    async def test_the_keys_setting_is_never_read_as_an_env_secret(
        self, tenant: Tenant, box: SecretBox
    ) -> None:
        await Secret.create(tenant_id=tenant.id, name="KEYS", provider=SecretProvider.ENV)
        secrets = TenantSecrets(
            tenant.id,
            box=box,
            redactor=Redactor(),
            environ={"PLAIT_SECRET_KEYS": new_key()},
            env_secrets=["KEYS"],
        )

        with pytest.raises(NodeError) as info:
            await secrets.resolve(["KEYS"])

        assert info.value.kind is ErrorKind.SECRET_MISSING

    async def test_a_value_no_key_decrypts_fails_the_node_without_the_value(
        self, tenant: Tenant, box: SecretBox
    ) -> None:
        await store_secret(tenant.id, "A", VALUE, box=make_box())

        with pytest.raises(NodeError) as info:
            await TenantSecrets(tenant.id, box=box, redactor=Redactor()).resolve(["A"])

        assert info.value.kind is ErrorKind.SECRET_MISSING
        assert "secret 'A' cannot be read" in info.value.message

    async def test_a_node_reading_a_missing_secret_fails_with_secret_missing(
        self, tenant: Tenant, box: SecretBox, services: RuntimeServices
    ) -> None:
        spec = parse_spec(
            {
                "version": "1",
                "nodes": [
                    {"id": "use", "type": "set", "value": "{{ secrets.TOKEN }}"},
                ],
            },
            tools=services.tools,
        )
        secrets = TenantSecrets(tenant.id, box=box, redactor=Redactor(), environ={})
        run_services = replace(services, secrets=secrets)

        failed = await compile_workflow(spec).start(
            {}, run_id="run_1", services=run_services, checkpointer=None
        )
        await store_secret(tenant.id, "TOKEN", VALUE, box=box)
        completed = await compile_workflow(spec).start(
            {}, run_id="run_2", services=run_services, checkpointer=None
        )

        assert failed.status == "failed"
        assert isinstance(failed.error, NodeError)
        assert failed.error.kind is ErrorKind.SECRET_MISSING
        assert "secret 'TOKEN' does not exist" in failed.error.message
        assert completed.status == "completed"


class TestSecretValue:
    async def test_the_value_and_its_last_use(self, tenant: Tenant, box: SecretBox) -> None:
        await store_secret(tenant.id, "KEY", VALUE, box=box)

        assert await secret_value(tenant.id, "KEY", box=box, at=AT) == VALUE
        assert (await Secret.get(name="KEY")).last_used_at == AT

    async def test_a_missing_one_is_secret_missing(self, tenant: Tenant, box: SecretBox) -> None:
        with pytest.raises(NodeError) as info:
            await secret_value(tenant.id, "KEY", box=box)

        assert info.value.kind is ErrorKind.SECRET_MISSING
        assert "'KEY'" in info.value.message

    async def test_an_env_secret_only_when_listed(self, tenant: Tenant, box: SecretBox) -> None:
        await Secret.create(tenant_id=tenant.id, name="KEY", provider=SecretProvider.ENV)
        environ = {"PLAIT_SECRET_KEY": VALUE}

        listed = await secret_value(
            tenant.id, "KEY", box=box, environ=environ, env_secrets=["KEY"], at=AT
        )
        with pytest.raises(NodeError) as info:
            await secret_value(tenant.id, "KEY", box=box, environ=environ)

        assert listed == VALUE
        assert info.value.kind is ErrorKind.SECRET_MISSING
        assert "PLAIT_ENV_SECRETS" in info.value.message


class TestRotateSecrets:
    async def test_add_a_key_rotate_remove_the_old_key_and_every_secret_decrypts(
        self, tenant: Tenant
    ) -> None:
        old, new = new_key(), new_key()
        before = SecretBox([old])
        other = await Tenant.create(name="other")
        values = {f"S{n}": f"value-{n}" for n in range(4)}
        for n, (name, value) in enumerate(values.items()):
            await store_secret((tenant if n % 2 else other).id, name, value, box=before)
        await Secret.create(tenant_id=tenant.id, name="E", provider=SecretProvider.ENV)
        updated = dict(await Secret.all().values_list("name", "updated_at"))

        first = await rotate_secrets(SecretBox([new, old]))
        again = await rotate_secrets(SecretBox([new, old]))

        assert first == RotationReport(rotated=4, current=0, changed_meanwhile=0)
        assert again == RotationReport(rotated=0, current=4, changed_meanwhile=0)
        after = SecretBox([new])
        for secret in await Secret.filter(provider=SecretProvider.LOCAL):
            assert secret.key_id == after.primary_key_id
            assert secret.ciphertext is not None
            assert after.decrypt(secret.ciphertext) == values[secret.name]
        assert dict(await Secret.all().values_list("name", "updated_at")) == updated

    async def test_a_secret_no_key_decrypts_stops_rotation(self, tenant: Tenant) -> None:
        await store_secret(tenant.id, "A", "v", box=make_box())

        with pytest.raises(SecretUnreadableError):
            await rotate_secrets(make_box())

    async def test_a_secret_replaced_meanwhile_keeps_its_new_value_and_is_counted(
        self, admin: Principal, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        old, new = new_key(), new_key()
        for name in ("A", "B"):
            await store_secret(admin.tenant_id, name, f"old-{name}", box=SecretBox([old]))
        replace_token = secrets_service._replace_token

        async def put_then_replace(secret: Secret, token: bytes, key_id: str) -> bool:
            """A server still on the old key replaces ``A`` between rotation's reading of it
            and its writing of the re-encrypted token."""
            if secret.name == "A":
                await put_secret(
                    admin, "A", value="new-A", description=None, box=SecretBox([old]), at=AT
                )
            return await replace_token(secret, token, key_id)

        monkeypatch.setattr(secrets_service, "_replace_token", put_then_replace)
        first = await rotate_secrets(SecretBox([new, old]))
        monkeypatch.undo()
        again = await rotate_secrets(SecretBox([new, old]))

        assert first == RotationReport(rotated=1, current=0, changed_meanwhile=1)
        assert again == RotationReport(rotated=1, current=1, changed_meanwhile=0)
        after = SecretBox([new])
        stored = {s.name: after.decrypt(s.ciphertext or b"") for s in await Secret.all()}
        assert stored == {"A": "new-A", "B": "old-B"}

    async def test_a_secret_deleted_meanwhile_is_counted(
        self, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        old = new_key()
        await store_secret(tenant.id, "A", "v", box=SecretBox([old]))
        replace_token = secrets_service._replace_token

        async def delete_then_replace(secret: Secret, token: bytes, key_id: str) -> bool:
            await Secret.filter(id=secret.id).delete()
            return await replace_token(secret, token, key_id)

        monkeypatch.setattr(secrets_service, "_replace_token", delete_then_replace)

        report = await rotate_secrets(SecretBox([new_key(), old]))

        assert report == RotationReport(rotated=0, current=0, changed_meanwhile=1)
        assert await Secret.all().count() == 0
