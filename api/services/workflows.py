"""Workflows, their draft and their versions, always read and written through a principal.

A workflow has one editable draft and many frozen versions; one version may be published:

    draft (revision 1, 2, …) ──create_version──► version n (status draft)
                                                   │ publish_version
                                                   ▼
                            published ──(another version is published)──► draft
                                                   │ archive_version (not while published)
                                                   ▼
                                                archived (never published again)

Choices made here (DESIGN §2 leaves them open):

- Publishing a version puts the previously published one back to ``draft``, not ``archived``:
  an archived version cannot be published again, and rolling back to the previous version must
  stay one call. Archiving is an explicit decision.
- The published version cannot be archived (409): publish another one first, so that the
  workflow always has something to run once it had.
- Publishing the published version, or archiving an archived one, changes nothing and writes
  no audit event.

Every query filters on the principal's tenant, so another tenant's workflow reads as missing
(``WorkflowNotFoundError``, 404). Every change is written to the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.services._paging import page_by_id
from api.services.audit import record_audit
from api.services.keys import Principal
from shared.database.models import (
    Role,
    VersionStatus,
    Workflow,
    WorkflowDraft,
    WorkflowVersion,
)
from shared.errors import ConflictError, NotFoundError
from workflow_compiler.checks import check_spec, parse_spec
from workflow_compiler.checks.report import CheckReport
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.registries.tools import ToolRegistry

__all__ = [
    "MAX_WORKFLOW_PAGE",
    "StaleRevisionError",
    "VersionNotFoundError",
    "WorkflowNotFoundError",
    "WorkflowPage",
    "archive_version",
    "create_version",
    "create_workflow",
    "delete_workflow",
    "get_draft",
    "get_tenant_version",
    "get_tenant_workflow",
    "get_version",
    "get_workflow",
    "list_versions",
    "list_workflows",
    "publish_version",
    "update_draft",
    "update_workflow",
    "validate_spec",
    "version_graph",
]

MAX_WORKFLOW_PAGE = 200
"""The most workflows one page may hold."""

_VERSION_NUMBER_ATTEMPTS = 5
"""How often ``create_version`` takes a new number after a concurrent freeze took its one."""


class WorkflowNotFoundError(NotFoundError):
    """No workflow with this id in the principal's tenant."""


class VersionNotFoundError(NotFoundError):
    """The workflow has no version with this number."""


class StaleRevisionError(ConflictError):
    """A draft write was based on a revision that is no longer the current one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowPage:
    """One page of workflows, newest first."""

    workflows: list[Workflow]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next (older) page; None when this page is the last."""


async def create_workflow(
    principal: Principal,
    *,
    name: str,
    description: str = "",
    tags: Sequence[str] = (),
    spec: dict[str, Any] | None = None,
    at: datetime,
) -> Workflow:
    """A new workflow of the principal's tenant, with its draft at revision 1.

    Args:
        principal: Who creates it; at least an operator.
        name: Shown in lists.
        description: What the workflow is for.
        tags: Labels to filter by.
        spec: The draft's first spec, stored as is (it may fail the static checks);
            ``{}`` when None.
        at: Now.

    Raises:
        PermissionDeniedError: the principal is a viewer.
    """
    principal.require(Role.OPERATOR)
    async with in_transaction():
        workflow = await Workflow.create(
            tenant_id=principal.tenant_id,
            name=name,
            description=description,
            tags=list(tags),
            created_at=at,
            updated_at=at,
        )
        await WorkflowDraft.create(
            tenant_id=principal.tenant_id,
            workflow=workflow,
            spec=spec if spec is not None else {},
            revision=1,
            created_at=at,
            updated_at=at,
        )
        await record_audit(principal, "workflow.create", workflow.id, at=at, detail={"name": name})
    return workflow


async def list_workflows(
    principal: Principal, *, limit: int, cursor: str | None = None
) -> WorkflowPage:
    """A page of the tenant's workflows, newest first.

    Args:
        principal: Who asks; any role.
        limit: The most workflows to return, 1 to ``MAX_WORKFLOW_PAGE``.
        cursor: ``next_cursor`` of the previous page; None for the newest workflows.

    Raises:
        ValueError: ``limit`` is out of range (the caller validates requests before).
    """
    workflows, next_cursor = await page_by_id(
        Workflow.filter(tenant_id=principal.tenant_id),
        limit=limit,
        max_limit=MAX_WORKFLOW_PAGE,
        cursor=cursor,
    )
    return WorkflowPage(workflows=workflows, next_cursor=next_cursor)


async def get_workflow(principal: Principal, workflow_id: str) -> Workflow:
    """The tenant's workflow ``workflow_id``.

    Raises:
        WorkflowNotFoundError: no such workflow in the principal's tenant.
    """
    return await get_tenant_workflow(principal.tenant_id, workflow_id)


async def get_tenant_workflow(tenant_id: str, workflow_id: str) -> Workflow:
    """The workflow ``workflow_id`` of ``tenant_id``, for code acting for a tenant rather than
    a principal (a run's ``workflow`` nodes).

    Raises:
        WorkflowNotFoundError: no such workflow in the tenant.
    """
    workflow = await Workflow.get_or_none(id=workflow_id, tenant_id=tenant_id)
    if workflow is None:
        raise WorkflowNotFoundError(f"no workflow {workflow_id!r}")
    return workflow


async def update_workflow(
    principal: Principal,
    workflow_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Sequence[str] | None = None,
    at: datetime,
) -> Workflow:
    """Change the given fields of a workflow; None keeps a field as it is.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        WorkflowNotFoundError: no such workflow in the principal's tenant.
    """
    principal.require(Role.OPERATOR)
    workflow = await get_workflow(principal, workflow_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    if tags is not None:
        changes["tags"] = list(tags)
    if not changes:
        return workflow
    workflow.update_from_dict(changes)
    workflow.updated_at = at
    async with in_transaction():
        await workflow.save(update_fields=[*changes, "updated_at"])
        await record_audit(principal, "workflow.update", workflow.id, at=at, detail=changes)
    return workflow


async def delete_workflow(principal: Principal, workflow_id: str, *, at: datetime) -> None:
    """Delete a workflow with its draft, versions and runs.

    Raises:
        PermissionDeniedError: the principal is not an admin.
        WorkflowNotFoundError: no such workflow in the principal's tenant.
    """
    principal.require(Role.ADMIN)
    workflow = await get_workflow(principal, workflow_id)
    async with in_transaction():
        await workflow.delete()
        await record_audit(
            principal, "workflow.delete", workflow_id, at=at, detail={"name": workflow.name}
        )


async def get_draft(principal: Principal, workflow_id: str) -> WorkflowDraft:
    """The draft of the tenant's workflow ``workflow_id``.

    Raises:
        WorkflowNotFoundError: no such workflow in the principal's tenant.
    """
    draft = await WorkflowDraft.get_or_none(workflow_id=workflow_id, tenant_id=principal.tenant_id)
    if draft is None:
        raise WorkflowNotFoundError(f"no workflow {workflow_id!r}")
    return draft


async def update_draft(
    principal: Principal,
    workflow_id: str,
    *,
    base_revision: int,
    spec: dict[str, Any],
    at: datetime,
) -> WorkflowDraft:
    """Replace the draft's spec, if the draft is still at ``base_revision``.

    The write is one ``UPDATE … WHERE revision = base_revision``, so of two writers based on
    the same revision exactly one wins; the other gets ``StaleRevisionError``. The spec is
    stored as is: a draft may fail the static checks.

    Returns:
        The draft at revision ``base_revision + 1``.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        WorkflowNotFoundError: no such workflow in the principal's tenant.
        StaleRevisionError: the draft is no longer at ``base_revision``.
    """
    principal.require(Role.OPERATOR)
    async with in_transaction():
        updated = await WorkflowDraft.filter(
            workflow_id=workflow_id, tenant_id=principal.tenant_id, revision=base_revision
        ).update(spec=spec, revision=base_revision + 1, updated_at=at)
        if not updated:
            current = await get_draft(principal, workflow_id)
            raise StaleRevisionError(
                f"the draft is at revision {current.revision}, not {base_revision}: "
                "read it again and reapply the change"
            )
        await record_audit(
            principal,
            "draft.update",
            workflow_id,
            at=at,
            detail={"revision": base_revision + 1},
        )
    return await get_draft(principal, workflow_id)


async def create_version(
    principal: Principal, workflow_id: str, *, tools: ToolRegistry, at: datetime
) -> tuple[WorkflowVersion, bool]:
    """Freeze the current draft as a version, or find the version already holding its spec.

    The spec must pass the static checks. Versions are deduplicated by spec hash (of the
    canonical JSON, so key order and formatting do not count): freezing an unchanged spec
    returns the existing version, whatever its status. The stored spec is that canonical
    form. Two concurrent freezes cannot take the same number: the loser takes the next one.

    Returns:
        The version, and whether it was created now.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        WorkflowNotFoundError: no such workflow in the principal's tenant.
        SpecInvalidError: the draft fails the static checks; ``issues`` holds every one.
    """
    principal.require(Role.OPERATOR)
    draft = await get_draft(principal, workflow_id)
    spec = parse_spec(draft.spec, tools=tools)
    spec_hash = spec.spec_hash()
    canonical = json.loads(spec.canonical_json())
    for _ in range(_VERSION_NUMBER_ATTEMPTS):
        existing = await WorkflowVersion.get_or_none(
            workflow_id=workflow_id, tenant_id=principal.tenant_id, spec_hash=spec_hash
        )
        if existing is not None:
            return existing, False
        last = (
            await WorkflowVersion.filter(workflow_id=workflow_id)
            .order_by("-version_number")
            .first()
        )
        number = 1 if last is None else last.version_number + 1
        try:
            async with in_transaction():
                version = await WorkflowVersion.create(
                    tenant_id=principal.tenant_id,
                    workflow_id=workflow_id,
                    version_number=number,
                    spec=canonical,
                    spec_hash=spec_hash,
                    status=VersionStatus.DRAFT,
                    created_from_draft_revision=draft.revision,
                    created_at=at,
                )
                await record_audit(
                    principal,
                    "version.create",
                    version.id,
                    at=at,
                    detail={"workflow_id": workflow_id, "version_number": number},
                )
        except IntegrityError:
            continue  # a concurrent freeze took this number, or froze the same spec
        return version, True
    raise ConflictError("concurrent version creation kept colliding; retry the request")


async def list_versions(principal: Principal, workflow_id: str) -> list[WorkflowVersion]:
    """Every version of the workflow, oldest first.

    Raises:
        WorkflowNotFoundError: no such workflow in the principal's tenant.
    """
    await get_workflow(principal, workflow_id)
    return await WorkflowVersion.filter(
        workflow_id=workflow_id, tenant_id=principal.tenant_id
    ).order_by("version_number")


async def get_version(principal: Principal, workflow_id: str, number: int) -> WorkflowVersion:
    """Version ``number`` of the workflow.

    Raises:
        WorkflowNotFoundError: no such workflow in the principal's tenant.
        VersionNotFoundError: the workflow has no version ``number``.
    """
    return await get_tenant_version(principal.tenant_id, workflow_id, number)


async def get_tenant_version(tenant_id: str, workflow_id: str, number: int) -> WorkflowVersion:
    """Version ``number`` of the workflow of ``tenant_id``, for code acting for a tenant
    rather than a principal (a run's ``workflow`` nodes).

    Raises:
        WorkflowNotFoundError: no such workflow in the tenant.
        VersionNotFoundError: the workflow has no version ``number``.
    """
    version = await WorkflowVersion.get_or_none(
        workflow_id=workflow_id, tenant_id=tenant_id, version_number=number
    )
    if version is None:
        await get_tenant_workflow(tenant_id, workflow_id)
        raise VersionNotFoundError(f"workflow {workflow_id!r} has no version {number}")
    return version


async def publish_version(
    principal: Principal, workflow_id: str, number: int, *, at: datetime
) -> WorkflowVersion:
    """Make version ``number`` the one the workflow runs; the previous one goes back to draft.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        WorkflowNotFoundError: no such workflow in the principal's tenant.
        VersionNotFoundError: the workflow has no version ``number``.
        ConflictError: the version is archived.
    """
    principal.require(Role.OPERATOR)
    async with in_transaction():
        workflow = await get_workflow(principal, workflow_id)
        version = await get_version(principal, workflow_id, number)
        if version.status == VersionStatus.ARCHIVED:
            raise ConflictError(f"version {number} is archived and cannot be published")
        if version.status == VersionStatus.PUBLISHED:
            return version
        await WorkflowVersion.filter(
            workflow_id=workflow_id, status=VersionStatus.PUBLISHED
        ).update(status=VersionStatus.DRAFT)
        version.status = VersionStatus.PUBLISHED
        await version.save(update_fields=["status"])
        previous = workflow.published_version_number
        workflow.published_version_number = number
        workflow.updated_at = at
        await workflow.save(update_fields=["published_version_number", "updated_at"])
        await record_audit(
            principal,
            "version.publish",
            version.id,
            at=at,
            detail={
                "workflow_id": workflow_id,
                "version_number": number,
                "previous_version_number": previous,
            },
        )
    return version


async def archive_version(
    principal: Principal, workflow_id: str, number: int, *, at: datetime
) -> WorkflowVersion:
    """Retire version ``number``: kept for the runs that used it, never published again.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        WorkflowNotFoundError: no such workflow in the principal's tenant.
        VersionNotFoundError: the workflow has no version ``number``.
        ConflictError: the version is the published one.
    """
    principal.require(Role.OPERATOR)
    async with in_transaction():
        version = await get_version(principal, workflow_id, number)
        if version.status == VersionStatus.PUBLISHED:
            raise ConflictError(
                f"version {number} is published; publish another version before archiving it"
            )
        if version.status == VersionStatus.ARCHIVED:
            return version
        version.status = VersionStatus.ARCHIVED
        await version.save(update_fields=["status"])
        await record_audit(
            principal,
            "version.archive",
            version.id,
            at=at,
            detail={"workflow_id": workflow_id, "version_number": number},
        )
    return version


async def version_graph(
    principal: Principal, workflow_id: str, number: int, *, tools: ToolRegistry
) -> str:
    """The compiled graph of version ``number`` as Mermaid text.

    Raises:
        WorkflowNotFoundError: no such workflow in the principal's tenant.
        VersionNotFoundError: the workflow has no version ``number``.
        SpecInvalidError: the version no longer passes the checks (a tool it names was
            uninstalled).
    """
    version = await get_version(principal, workflow_id, number)
    return compile_workflow(parse_spec(version.spec, tools=tools)).mermaid()


def validate_spec(raw: object, *, tools: ToolRegistry) -> CheckReport:
    """Every error and warning of the static checks for any JSON value; never raises for it."""
    return check_spec(raw, tools=tools)
