"""The application layer: what the command line, the HTTP API, workers and triggers do to
Plait's data, as plain async functions and classes over the Tortoise models.

Services receive their collaborators (a tenant, a clock's time, a checkpointer, runtime
services) as arguments and never import FastAPI, so every entry point shares them; routers and
commands stay thin (parse, call one service, show the result).

Key contracts:

- A run's row is written before the run executes and every outcome is recorded on it
  (``run_records``); ``RecordedRun`` (``execution``) does both around the compiled workflow.
- Rows are always read through a tenant; another tenant's row reads as missing.
- A request acts as a ``Principal`` (``keys.authenticate``); a service that needs a role
  calls ``principal.require(role)`` and every change it makes is written to the audit log
  (``audit.record_audit``).
"""

from api.services.audit import MAX_AUDIT_PAGE, AuditPage, list_audit_events, record_audit
from api.services.execution import RecordedRun
from api.services.keys import (
    Principal,
    UnauthenticatedError,
    authenticate,
    create_api_key,
    role_includes,
)
from api.services.run_records import (
    LOCAL_TENANT_ID,
    RunExistsError,
    RunNotFoundError,
    create_run,
    load_run,
    local_tenant,
    mark_running,
    record_outcome,
    run_spec,
)
from api.services.tenants import ensure_tenant

__all__ = [
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
