"""Workflows, drafts and versions: ids and the constraints behind freezing a version."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from shared.database.models import (
    Tenant,
    VersionStatus,
    Workflow,
    WorkflowDraft,
    WorkflowVersion,
)
from tests.shared.database.models.conftest import SPEC, spec_hash

OTHER_SPEC = {"version": "1", "nodes": [{"id": "b", "type": "set", "value": 2}]}


async def _version(workflow: Workflow, number: int, spec: dict[str, object]) -> WorkflowVersion:
    return await WorkflowVersion.create(
        tenant_id=workflow.tenant_id,
        workflow=workflow,
        version_number=number,
        spec=spec,
        spec_hash=spec_hash(spec),
    )


class TestWorkflow:
    async def test_a_workflow_has_a_wf_id_and_keeps_its_tags(self, workflow: Workflow) -> None:
        stored = await Workflow.get(id=workflow.id)

        assert stored.id.startswith("wf_")
        assert stored.tags == ["finance"]
        assert stored.published_version_number is None

    async def test_workflows_of_other_tenants_are_not_in_a_tenant_query(
        self, workflow: Workflow, other_tenant: Tenant
    ) -> None:
        await Workflow.create(tenant=other_tenant, name="invoices")

        assert [w.id for w in await Workflow.filter(tenant_id=workflow.tenant_id)] == [workflow.id]


class TestWorkflowDraft:
    async def test_a_workflow_has_at_most_one_draft(self, workflow: Workflow) -> None:
        await WorkflowDraft.create(tenant_id=workflow.tenant_id, workflow=workflow, spec=SPEC)

        with pytest.raises(IntegrityError):
            await WorkflowDraft.create(tenant_id=workflow.tenant_id, workflow=workflow, spec=SPEC)

    async def test_a_write_based_on_a_stale_revision_changes_nothing(
        self, workflow: Workflow
    ) -> None:
        draft = await WorkflowDraft.create(
            tenant_id=workflow.tenant_id, workflow=workflow, spec=SPEC
        )

        first = await WorkflowDraft.filter(id=draft.id, revision=1).update(
            spec=OTHER_SPEC, revision=2
        )
        stale = await WorkflowDraft.filter(id=draft.id, revision=1).update(spec=SPEC, revision=2)

        stored = await WorkflowDraft.get(workflow=workflow)
        assert (first, stale) == (1, 0)
        assert (stored.revision, stored.spec) == (2, OTHER_SPEC)


class TestWorkflowVersion:
    async def test_a_version_has_a_ver_id_and_starts_as_draft(
        self, version: WorkflowVersion
    ) -> None:
        stored = await WorkflowVersion.get(id=version.id)

        assert stored.id.startswith("ver_")
        assert stored.status is VersionStatus.DRAFT
        assert stored.spec == SPEC

    async def test_a_version_number_is_taken_once_per_workflow(
        self, workflow: Workflow, version: WorkflowVersion
    ) -> None:
        with pytest.raises(IntegrityError):
            await _version(workflow, version.version_number, OTHER_SPEC)

    async def test_an_unchanged_spec_cannot_be_frozen_twice(
        self, workflow: Workflow, version: WorkflowVersion
    ) -> None:
        with pytest.raises(IntegrityError):
            await _version(workflow, version.version_number + 1, SPEC)

    async def test_other_workflows_number_and_hash_their_versions_independently(
        self, workflow: Workflow, version: WorkflowVersion
    ) -> None:
        sibling = await Workflow.create(tenant_id=workflow.tenant_id, name="receipts")

        copy = await _version(sibling, version.version_number, SPEC)

        assert (copy.version_number, copy.spec_hash) == (
            version.version_number,
            version.spec_hash,
        )
