"""Rows to build on: a tenant, a second tenant, a workflow with a version, a run."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from shared.database.models import (
    RunSource,
    Tenant,
    Workflow,
    WorkflowRun,
    WorkflowVersion,
)

SPEC: dict[str, Any] = {"version": "1", "nodes": [{"id": "a", "type": "set", "value": 1}]}


def spec_hash(spec: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON, as the lifecycle service computes it."""
    return hashlib.sha256(
        json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await Tenant.create(name="Acme")


@pytest.fixture
async def other_tenant(database: str) -> Tenant:
    return await Tenant.create(name="Globex")


@pytest.fixture
async def workflow(tenant: Tenant) -> Workflow:
    return await Workflow.create(tenant=tenant, name="invoices", tags=["finance"])


@pytest.fixture
async def version(workflow: Workflow) -> WorkflowVersion:
    return await WorkflowVersion.create(
        tenant_id=workflow.tenant_id,
        workflow=workflow,
        version_number=1,
        spec=SPEC,
        spec_hash=spec_hash(SPEC),
    )


@pytest.fixture
async def run(version: WorkflowVersion) -> WorkflowRun:
    return await WorkflowRun.create(
        tenant_id=version.tenant_id,
        workflow_id=version.workflow_id,
        version=version,
        spec_hash=version.spec_hash,
        inputs={"text": "hello"},
        source=RunSource.MANUAL,
    )
