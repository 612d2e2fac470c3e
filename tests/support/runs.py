"""Runs with a history: a run row executed with a ``RecordingSink``, as the server does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from api.services import RecordedRun, RecordingSink, RunEventHub, create_run
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import Tenant
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import compile_workflow

RUN_AT = datetime(2026, 1, 1, tzinfo=UTC)
"""When test runs start (the FakeClock's time)."""


async def recorded_run(
    raw: dict[str, Any],
    tenant: Tenant,
    services: RuntimeServices,
    *,
    hub: RunEventHub | None = None,
    inputs: dict[str, Any] | None = None,
) -> tuple[RecordedRun, RuntimeServices]:
    """A new run of ``raw`` in ``tenant``, ready to start, and the services to execute it
    with: ``services`` whose events are recorded (and ``hub`` notified)."""
    spec = parse_spec(raw, tools=services.tools)
    record = await create_run(tenant, spec, inputs or {}, at=RUN_AT)
    run = RecordedRun(record=record, compiled=compile_workflow(spec), checkpointer=TortoiseSaver())
    return run, recording(run, services, hub=hub)


def recording(
    run: RecordedRun, services: RuntimeServices, *, hub: RunEventHub | None = None
) -> RuntimeServices:
    """``services`` with a fresh ``RecordingSink`` of ``run`` (one per execution)."""
    return dataclasses.replace(services, events=RecordingSink(run.record, hub=hub))
