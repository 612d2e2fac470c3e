"""The application layer: what the command line, the HTTP API, workers and triggers do to
Plait's data, as plain async functions and classes over the Tortoise models.

Services receive their collaborators (a tenant, a clock's time, a checkpointer, runtime
services) as arguments and never import FastAPI, so every entry point shares them; routers and
commands stay thin (parse, call one service, show the result).

Key contracts:

- A run's row is written before the run executes and every outcome is recorded on it
  (``run_records``); ``RecordedRun`` (``execution``) does both around the compiled workflow.
- Each execution of a run records its events and steps through a ``RecordingSink``
  (``run_events``), which tells the process's ``RunEventHub`` so SSE followers read on;
  whoever records a run's new status calls ``hub.notify(run_id)`` too.
- Rows are always read through a tenant; another tenant's row reads as missing.
- A request acts as a ``Principal`` (``keys.authenticate``); a service that needs a role
  calls ``principal.require(role)`` and every change it makes is written to the audit log
  (``audit.record_audit``).
"""

from api.services.audit import MAX_AUDIT_PAGE, AuditPage, list_audit_events, record_audit
from api.services.catalog import (
    ModelProviderInfo,
    NodeTypeInfo,
    ToolInfo,
    list_model_providers,
    list_node_types,
    list_tools,
)
from api.services.execution import RecordedRun
from api.services.keys import (
    Principal,
    UnauthenticatedError,
    authenticate,
    create_api_key,
    role_includes,
)
from api.services.run_events import RecordingSink, RunEventHub
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
from api.services.runs import (
    MAX_RUN_PAGE,
    NoPublishedVersionError,
    RunPage,
    get_run,
    list_runs,
    start_run,
)
from api.services.tenants import ensure_tenant
from api.services.workflows import (
    MAX_WORKFLOW_PAGE,
    StaleRevisionError,
    VersionNotFoundError,
    WorkflowNotFoundError,
    WorkflowPage,
    archive_version,
    create_version,
    create_workflow,
    delete_workflow,
    get_draft,
    get_version,
    get_workflow,
    list_versions,
    list_workflows,
    publish_version,
    update_draft,
    update_workflow,
    validate_spec,
    version_graph,
)

__all__ = [
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
