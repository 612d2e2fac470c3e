"""The executor every Plait process builds: tenant secrets masked from a run's first node."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import respx

from api.services.process_executor import process_executor
from api.services.run_events import RunEventHub
from api.services.run_records import create_run, local_tenant
from api.services.runs import start_action
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import RunStatus, WorkflowRun
from shared.redaction import Redactor
from tests.support.secrets import make_box, store_secret
from workflow_compiler.checks import parse_spec
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.lowering.state import output_key
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.models import StaticModelProviders

AT = datetime(2026, 1, 2, tzinfo=UTC)
TOKEN = "tok-Zq8-never-stored"
LEAK_URL = "https://leaky.test/config"

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "fetch", "type": "tool", "tool": "http_request", "args": {"url": LEAK_URL}},
        {"id": "use", "type": "set", "value": {"auth": "Bearer {{ secrets.TOKEN }}"}},
    ],
}


class TestSecretsOfARun:
    async def test_a_value_met_before_the_node_reading_it_is_masked(
        self, database: str, http: httpx.AsyncClient
    ) -> None:
        """A fresh process (its redactor knows no value yet) executing a run whose first node
        receives the secret from a server, before the second node reads it: what the first
        node stored is masked all the same, because the run's secrets are known up front."""
        box = make_box()
        tenant = await local_tenant()
        await store_secret(tenant.id, "TOKEN", TOKEN, box=box)
        tools = default_tool_registry(load_plugins=False)
        executor = process_executor(
            tools=tools,
            models=StaticModelProviders.from_env({}),
            http=http,
            box=box,
            redactor=Redactor(),
            hub=RunEventHub(),
            env_secrets=lambda: (),
        )
        spec = parse_spec(SPEC, tools=tools)
        run = await create_run(tenant, spec, {}, at=AT)

        with respx.mock:
            respx.get(LEAK_URL).respond(json={"token": TOKEN})
            await executor.submit(run, compile_workflow(spec), start_action)
        await executor.aclose()

        row = await WorkflowRun.get(id=run.id)
        assert row.status == RunStatus.COMPLETED
        saved = await TortoiseSaver().aget_tuple({"configurable": {"thread_id": run.id}})
        assert saved is not None
        values = saved.checkpoint["channel_values"]
        assert values[output_key("fetch")]["json"] == {"token": "***"}
        assert values[output_key("use")] == {"auth": "Bearer ***"}
