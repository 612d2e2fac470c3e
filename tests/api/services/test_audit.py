"""The audit log: events written for the principal's tenant, paged newest first, admins only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.services import Principal, list_audit_events, record_audit
from shared.database.models import AuditEvent, Role, Tenant
from shared.errors import PermissionDeniedError

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def admin(database: str) -> Principal:
    tenant = await Tenant.create(name="acme")
    return Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id="key_admin")


class TestRecordAudit:
    async def test_the_event_names_the_actor_action_target_and_time(self, admin: Principal) -> None:
        event = await record_audit(
            admin, "secret.delete", "sec_1", at=AT, detail={"name": "HOOK_TOKEN"}
        )

        stored = await AuditEvent.get(id=event.id)
        assert stored.tenant_id == admin.tenant_id
        assert (stored.actor, stored.action, stored.target_id) == (
            "key_admin",
            "secret.delete",
            "sec_1",
        )
        assert stored.data == {"name": "HOOK_TOKEN"}
        assert stored.created_at == AT

    async def test_detail_defaults_to_an_empty_object(self, admin: Principal) -> None:
        event = await record_audit(admin, "workflow.publish", None, at=AT)

        assert (await AuditEvent.get(id=event.id)).data == {}


class TestListAuditEvents:
    async def test_pages_go_from_newest_to_oldest_without_gaps(self, admin: Principal) -> None:
        for n in range(5):
            await record_audit(admin, "run.start", f"run_{n}", at=AT + timedelta(seconds=n))

        first = await list_audit_events(admin, limit=2)
        second = await list_audit_events(admin, limit=2, cursor=first.next_cursor)
        last = await list_audit_events(admin, limit=2, cursor=second.next_cursor)

        pages = [first, second, last]
        assert [[e.target_id for e in page.events] for page in pages] == [
            ["run_4", "run_3"],
            ["run_2", "run_1"],
            ["run_0"],
        ]
        assert last.next_cursor is None

    async def test_a_full_last_page_has_no_next_cursor(self, admin: Principal) -> None:
        await record_audit(admin, "run.start", "run_0", at=AT)

        page = await list_audit_events(admin, limit=1)

        assert len(page.events) == 1
        assert page.next_cursor is None

    async def test_events_of_other_tenants_are_not_listed(self, admin: Principal) -> None:
        other = await Tenant.create(name="other")
        stranger = Principal(tenant_id=other.id, role=Role.ADMIN, key_id="key_other")
        await record_audit(stranger, "run.start", "run_theirs", at=AT)
        await record_audit(admin, "run.start", "run_ours", at=AT)

        page = await list_audit_events(admin, limit=10)

        assert [e.target_id for e in page.events] == ["run_ours"]

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
    async def test_only_admins_may_read_the_log(self, admin: Principal, role: Role) -> None:
        await record_audit(admin, "run.start", "run_0", at=AT)
        reader = Principal(tenant_id=admin.tenant_id, role=role, key_id="key_low")

        with pytest.raises(PermissionDeniedError):
            await list_audit_events(reader, limit=10)

    @pytest.mark.parametrize("limit", [0, 501])
    async def test_a_limit_out_of_range_is_refused(self, admin: Principal, limit: int) -> None:
        with pytest.raises(ValueError, match="limit"):
            await list_audit_events(admin, limit=limit)
