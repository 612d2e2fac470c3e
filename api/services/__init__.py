"""The application layer: what the command line, the HTTP API, workers and triggers do to
Plait's data, as plain async functions and classes over the Tortoise models.

Services receive their collaborators (a tenant, a clock's time, a checkpointer, runtime
services) as arguments and never import FastAPI, so every entry point shares them; routers and
commands stay thin (parse, call one service, show the result).

Key contracts:

- A run's row is written before the run executes and every outcome is recorded on it
  (``run_records``); ``RecordedRun`` (``execution``) does both around the compiled workflow.
- Rows are always read through a tenant; another tenant's row reads as missing.
"""

from api.services.execution import RecordedRun
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

__all__ = [
    "LOCAL_TENANT_ID",
    "RecordedRun",
    "RunExistsError",
    "RunNotFoundError",
    "create_run",
    "load_run",
    "local_tenant",
    "mark_running",
    "record_outcome",
    "run_spec",
]
