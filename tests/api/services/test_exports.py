"""The names the command line, the API and workers may import from ``api.services``, pinned."""

from __future__ import annotations

import pytest

import api.services

EXPORTED = [
    "LOCAL_TENANT_ID",
    "MAX_AUDIT_PAGE",
    "AuditPage",
    "Principal",
    "RecordedRun",
    "RunExistsError",
    "RunNotFoundError",
    "UnauthenticatedError",
    "authenticate",
    "create_api_key",
    "create_run",
    "ensure_tenant",
    "list_audit_events",
    "load_run",
    "local_tenant",
    "mark_running",
    "record_audit",
    "record_outcome",
    "role_includes",
    "run_spec",
]


class TestExports:
    def test_the_public_names_are_pinned(self) -> None:
        assert api.services.__all__ == EXPORTED

    @pytest.mark.parametrize("name", EXPORTED)
    def test_every_public_name_resolves(self, name: str) -> None:
        assert getattr(api.services, name) is not None
