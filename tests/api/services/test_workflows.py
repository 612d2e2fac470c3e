"""Workflow services: tenancy, the draft's optimistic lock, versions and their statuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from api.services import (
    Principal,
    StaleRevisionError,
    VersionNotFoundError,
    WorkflowNotFoundError,
    archive_version,
    create_version,
    create_workflow,
    delete_workflow,
    get_draft,
    get_workflow,
    list_workflows,
    publish_version,
    update_draft,
    validate_spec,
    version_graph,
)
from shared.database.models import AuditEvent, Role, Tenant, VersionStatus, Workflow
from shared.errors import ConflictError, PermissionDeniedError
from workflow_compiler.errors import SpecInvalidError
from workflow_compiler.registries.builtin import default_tool_registry

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TOOLS = default_tool_registry(load_plugins=False)

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [{"id": "echo", "type": "set", "value": "{{ inputs.text }}"}],
}


def principal(tenant: Tenant, role: Role = Role.ADMIN) -> Principal:
    return Principal(tenant_id=tenant.id, role=role, key_id=f"key_{role}")


@pytest.fixture
async def admin(database: str) -> Principal:
    return principal(await Tenant.create(name="acme"))


@pytest.fixture
async def stranger(database: str) -> Principal:
    return principal(await Tenant.create(name="other"))


@pytest.fixture
async def workflow(admin: Principal) -> Workflow:
    return await create_workflow(admin, name="triage", spec=SPEC, at=AT)


class TestCreateWorkflow:
    async def test_creates_the_draft_at_revision_one_and_audits(self, admin: Principal) -> None:
        workflow = await create_workflow(admin, name="w", tags=["a"], at=AT)

        draft = await get_draft(admin, workflow.id)
        assert (draft.revision, draft.spec) == (1, {})
        event = await AuditEvent.get(target_id=workflow.id)
        assert (event.action, event.tenant_id) == ("workflow.create", admin.tenant_id)

    async def test_a_viewer_may_not(self, admin: Principal) -> None:
        viewer = Principal(tenant_id=admin.tenant_id, role=Role.VIEWER, key_id="key_v")
        with pytest.raises(PermissionDeniedError):
            await create_workflow(viewer, name="w", at=AT)


class TestTenancy:
    async def test_another_tenants_workflow_reads_as_missing(
        self, workflow: Workflow, stranger: Principal
    ) -> None:
        with pytest.raises(WorkflowNotFoundError):
            await get_workflow(stranger, workflow.id)
        with pytest.raises(WorkflowNotFoundError):
            await update_draft(stranger, workflow.id, base_revision=1, spec={}, at=AT)
        with pytest.raises(WorkflowNotFoundError):
            await delete_workflow(stranger, workflow.id, at=AT)
        assert (await list_workflows(stranger, limit=10)).workflows == []


class TestListWorkflows:
    async def test_pages_cover_every_workflow_once_newest_first(self, admin: Principal) -> None:
        ids = [(await create_workflow(admin, name=f"w{n}", at=AT)).id for n in range(5)]

        seen: list[str] = []
        cursor = None
        for _ in range(3):
            page = await list_workflows(admin, limit=2, cursor=cursor)
            seen += [w.id for w in page.workflows]
            cursor = page.next_cursor
        assert cursor is None
        assert seen == sorted(ids, reverse=True)

    async def test_limit_out_of_range_is_refused(self, admin: Principal) -> None:
        with pytest.raises(ValueError, match="limit"):
            await list_workflows(admin, limit=0)


class TestUpdateDraft:
    async def test_increments_the_revision(self, admin: Principal, workflow: Workflow) -> None:
        draft = await update_draft(admin, workflow.id, base_revision=1, spec={"x": 1}, at=AT)

        assert (draft.revision, draft.spec) == (2, {"x": 1})

    async def test_a_stale_revision_is_a_conflict_and_changes_nothing(
        self, admin: Principal, workflow: Workflow
    ) -> None:
        await update_draft(admin, workflow.id, base_revision=1, spec={"x": 1}, at=AT)

        with pytest.raises(StaleRevisionError, match="revision 2"):
            await update_draft(admin, workflow.id, base_revision=1, spec={"y": 2}, at=AT)
        assert (await get_draft(admin, workflow.id)).spec == {"x": 1}

    async def test_of_two_concurrent_writers_on_one_revision_exactly_one_wins(
        self, admin: Principal, workflow: Workflow
    ) -> None:
        results = await asyncio.gather(
            *(
                update_draft(admin, workflow.id, base_revision=1, spec={"n": n}, at=AT)
                for n in range(2)
            ),
            return_exceptions=True,
        )

        assert sorted(type(r).__name__ for r in results) == ["StaleRevisionError", "WorkflowDraft"]
        assert (await get_draft(admin, workflow.id)).revision == 2


class TestCreateVersion:
    async def test_numbers_versions_and_deduplicates_by_spec_hash(
        self, admin: Principal, workflow: Workflow
    ) -> None:
        first, created = await create_version(admin, workflow.id, tools=TOOLS, at=AT)
        assert (first.version_number, created, first.created_from_draft_revision) == (1, True, 1)

        reordered = dict(reversed(list(SPEC.items())))
        await update_draft(admin, workflow.id, base_revision=1, spec=reordered, at=AT)
        again, created = await create_version(admin, workflow.id, tools=TOOLS, at=AT)
        assert (again.id, created) == (first.id, False)

        changed = {**SPEC, "name": "changed"}
        await update_draft(admin, workflow.id, base_revision=2, spec=changed, at=AT)
        second, created = await create_version(admin, workflow.id, tools=TOOLS, at=AT)
        assert (second.version_number, created) == (2, True)

    async def test_an_invalid_draft_cannot_become_a_version(
        self, admin: Principal, workflow: Workflow
    ) -> None:
        await update_draft(admin, workflow.id, base_revision=1, spec={"nodes": "x"}, at=AT)

        with pytest.raises(SpecInvalidError) as raised:
            await create_version(admin, workflow.id, tools=TOOLS, at=AT)
        assert raised.value.issues


class TestPublishAndArchive:
    async def test_publishing_moves_the_previous_version_back_to_draft(
        self, admin: Principal, workflow: Workflow
    ) -> None:
        one, _ = await create_version(admin, workflow.id, tools=TOOLS, at=AT)
        await update_draft(admin, workflow.id, base_revision=1, spec={**SPEC, "name": "b"}, at=AT)
        two, _ = await create_version(admin, workflow.id, tools=TOOLS, at=AT)

        await publish_version(admin, workflow.id, 1, at=AT)
        await publish_version(admin, workflow.id, 2, at=AT)

        await one.refresh_from_db()
        await two.refresh_from_db()
        assert (one.status, two.status) == (VersionStatus.DRAFT, VersionStatus.PUBLISHED)
        assert (await get_workflow(admin, workflow.id)).published_version_number == 2

    async def test_the_published_version_cannot_be_archived_nor_an_archived_one_published(
        self, admin: Principal, workflow: Workflow
    ) -> None:
        await create_version(admin, workflow.id, tools=TOOLS, at=AT)
        await publish_version(admin, workflow.id, 1, at=AT)
        with pytest.raises(ConflictError, match="published"):
            await archive_version(admin, workflow.id, 1, at=AT)

        await update_draft(admin, workflow.id, base_revision=1, spec={**SPEC, "name": "b"}, at=AT)
        await create_version(admin, workflow.id, tools=TOOLS, at=AT)
        archived = await archive_version(admin, workflow.id, 2, at=AT)
        assert archived.status == VersionStatus.ARCHIVED
        with pytest.raises(ConflictError, match="archived"):
            await publish_version(admin, workflow.id, 2, at=AT)

    async def test_an_unknown_version_is_not_found(
        self, admin: Principal, workflow: Workflow
    ) -> None:
        with pytest.raises(VersionNotFoundError):
            await publish_version(admin, workflow.id, 7, at=AT)


class TestGraphAndValidate:
    async def test_graph_is_mermaid(self, admin: Principal, workflow: Workflow) -> None:
        await create_version(admin, workflow.id, tools=TOOLS, at=AT)

        assert "echo" in await version_graph(admin, workflow.id, 1, tools=TOOLS)

    @pytest.mark.parametrize("raw", [None, 3, "x", [], {}, {"version": "1", "nodes": [{}]}])
    def test_any_json_is_judged_without_raising(self, raw: object) -> None:
        report = validate_spec(raw, tools=TOOLS)

        assert not report.ok
        assert report.errors
