"""The names the command line, the API and workers may import from ``api.services``, pinned."""

from __future__ import annotations

import pytest

import api.services

EXPORTED = [
    "LOCAL_TENANT_ID",
    "MAX_AUDIT_PAGE",
    "MAX_RUN_PAGE",
    "MAX_WORKFLOW_PAGE",
    "AuditPage",
    "ModelProviderInfo",
    "NoPublishedVersionError",
    "NodeTypeInfo",
    "Principal",
    "RecordedRun",
    "RecordingSink",
    "RunEventHub",
    "RunExistsError",
    "RunNotFoundError",
    "RunPage",
    "StaleRevisionError",
    "ToolInfo",
    "UnauthenticatedError",
    "VersionNotFoundError",
    "WorkflowNotFoundError",
    "WorkflowPage",
    "archive_version",
    "authenticate",
    "create_api_key",
    "create_run",
    "create_version",
    "create_workflow",
    "delete_workflow",
    "ensure_tenant",
    "get_draft",
    "get_run",
    "get_version",
    "get_workflow",
    "list_audit_events",
    "list_model_providers",
    "list_node_types",
    "list_runs",
    "list_tools",
    "list_versions",
    "list_workflows",
    "load_run",
    "local_tenant",
    "mark_running",
    "publish_version",
    "record_audit",
    "record_outcome",
    "role_includes",
    "run_spec",
    "start_run",
    "update_draft",
    "update_workflow",
    "validate_spec",
    "version_graph",
]


class TestExports:
    def test_the_public_names_are_pinned(self) -> None:
        assert api.services.__all__ == EXPORTED

    @pytest.mark.parametrize("name", EXPORTED)
    def test_every_public_name_resolves(self, name: str) -> None:
        assert getattr(api.services, name) is not None
