"""Run rows: the local tenant, writing a run first, loading it, and recording its outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

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
from shared.database.models import (
    RunSource,
    RunStatus,
    Tenant,
    Workflow,
    WorkflowRun,
    WorkflowVersion,
)
from shared.ids import id_timestamp_ms
from shared.redaction import MASK, Redactor
from workflow_compiler.checks import parse_spec
from workflow_compiler.errors import ErrorKind, InputsInvalidError, NodeError
from workflow_compiler.lowering import PendingInput, RunOutcome
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.spec import WorkflowSpec

AT = datetime(2026, 1, 1, tzinfo=UTC)

RAW_SPEC: dict[str, Any] = {
    "version": "1",
    "inputs": {
        "type": "object",
        "properties": {"text": {"type": "string"}, "lang": {"type": "string", "default": "en"}},
        "required": ["text"],
    },
    "nodes": [{"id": "echo", "type": "set", "value": "{{ inputs.text }}"}],
}


@pytest.fixture
def spec() -> WorkflowSpec:
    return parse_spec(RAW_SPEC, tools=default_tool_registry(load_plugins=False))


@pytest.fixture
async def tenant(database: str) -> Tenant:
    return await local_tenant()


@pytest.fixture
async def run(tenant: Tenant, spec: WorkflowSpec) -> WorkflowRun:
    return await create_run(tenant, spec, {"text": "hi"}, at=AT)


class TestLocalTenant:
    async def test_is_created_on_first_use_with_a_fixed_id(self, database: str) -> None:
        assert await Tenant.all().count() == 0
        tenant = await local_tenant()
        assert tenant.id == LOCAL_TENANT_ID
        assert tenant.name == "local"
        assert id_timestamp_ms(tenant.id) == 0

    async def test_later_and_concurrent_uses_find_the_same_row(self, database: str) -> None:
        first = await local_tenant()
        again = await asyncio.gather(local_tenant(), local_tenant())
        assert {t.id for t in again} == {first.id}
        assert await Tenant.all().count() == 1


class TestCreateRun:
    async def test_writes_a_running_ad_hoc_run_with_a_spec_snapshot(
        self, run: WorkflowRun, spec: WorkflowSpec
    ) -> None:
        stored = await WorkflowRun.get(id=run.id)
        assert stored.id.startswith("run_")
        assert stored.tenant_id == LOCAL_TENANT_ID
        assert (stored.status, stored.source) == (RunStatus.RUNNING, RunSource.MANUAL)
        assert (stored.workflow_id, stored.version_id) == (None, None)
        assert stored.spec == spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert stored.spec_hash == spec.spec_hash()
        assert (stored.started_at, stored.ended_at, stored.attempt) == (AT, None, 1)

    async def test_stores_the_validated_inputs_with_defaults(self, run: WorkflowRun) -> None:
        stored = await WorkflowRun.get(id=run.id)
        assert stored.inputs == {"text": "hi", "lang": "en"}

    async def test_the_snapshot_parses_back_to_the_same_spec(
        self, run: WorkflowRun, spec: WorkflowSpec
    ) -> None:
        stored = await WorkflowRun.get(id=run.id)
        again = parse_spec(await run_spec(stored), tools=default_tool_registry(load_plugins=False))
        assert again == spec
        assert again.spec_hash() == stored.spec_hash

    async def test_invalid_inputs_write_nothing(self, tenant: Tenant, spec: WorkflowSpec) -> None:
        with pytest.raises(InputsInvalidError) as caught:
            await create_run(tenant, spec, {"text": 5}, at=AT)
        assert [str(issue) for issue in caught.value.issues] == [
            "inputs.text: 5 is not of type 'string'"
        ]
        assert await WorkflowRun.all().count() == 0

    async def test_takes_the_given_id_and_source(self, tenant: Tenant, spec: WorkflowSpec) -> None:
        run = await create_run(
            tenant, spec, {"text": "hi"}, at=AT, run_id="run_mine", source=RunSource.AGENT
        )
        stored = await WorkflowRun.get(id="run_mine")
        assert (run.id, stored.source) == ("run_mine", RunSource.AGENT)

    async def test_a_taken_id_is_refused(self, run: WorkflowRun, spec: WorkflowSpec) -> None:
        tenant = await local_tenant()
        with pytest.raises(RunExistsError) as caught:
            await create_run(tenant, spec, {"text": "again"}, at=AT, run_id=run.id)
        assert caught.value.message == f"a run with id '{run.id}' already exists"
        assert (await WorkflowRun.get(id=run.id)).inputs["text"] == "hi"


class TestLoadRun:
    async def test_finds_a_run_of_the_tenant(self, run: WorkflowRun, tenant: Tenant) -> None:
        loaded = await load_run(tenant, run.id)
        assert (loaded.id, loaded.status) == (run.id, RunStatus.RUNNING)

    async def test_an_unknown_id_is_not_found(self, tenant: Tenant) -> None:
        with pytest.raises(RunNotFoundError) as caught:
            await load_run(tenant, "run_nope")
        assert caught.value.message == "run 'run_nope' not found"
        assert caught.value.code == "not_found"

    async def test_a_run_of_another_tenant_is_not_found(self, run: WorkflowRun) -> None:
        other = await Tenant.create(name="Globex")
        with pytest.raises(RunNotFoundError):
            await load_run(other, run.id)


class TestRunSpec:
    async def test_a_run_of_a_version_executes_the_version_spec(self, tenant: Tenant) -> None:
        workflow = await Workflow.create(tenant=tenant, name="echo")
        version = await WorkflowVersion.create(
            tenant=tenant,
            workflow=workflow,
            version_number=1,
            spec=RAW_SPEC,
            spec_hash="0" * 64,
        )
        run = await WorkflowRun.create(
            tenant=tenant,
            workflow=workflow,
            version=version,
            spec_hash=version.spec_hash,
            source=RunSource.API,
        )
        assert await run_spec(run) == RAW_SPEC


class TestMarkRunning:
    async def test_clears_the_failure_and_counts_a_new_attempt(self, run: WorkflowRun) -> None:
        error = NodeError(ErrorKind.HTTP_ERROR, "GET https://x answered 500")
        await record_outcome(run, RunOutcome(status="failed", error=error), at=AT)
        later = AT + timedelta(minutes=5)

        await mark_running(run, at=later, new_attempt=True)

        stored = await WorkflowRun.get(id=run.id)
        assert stored.status is RunStatus.RUNNING
        assert (stored.error_code, stored.error_message, stored.ended_at) == (None, None, None)
        assert (stored.attempt, stored.started_at) == (2, AT)

    async def test_answering_is_not_a_new_attempt(self, run: WorkflowRun) -> None:
        await record_outcome(run, RunOutcome(status="waiting_human", pending=[]), at=AT)
        await mark_running(run, at=AT)
        stored = await WorkflowRun.get(id=run.id)
        assert (stored.status, stored.attempt) == (RunStatus.RUNNING, 1)

    async def test_sets_the_start_time_of_a_run_that_never_started(self, tenant: Tenant) -> None:
        run = await WorkflowRun.create(
            tenant=tenant, spec=RAW_SPEC, spec_hash="0" * 64, source=RunSource.API
        )
        await mark_running(run, at=AT, new_attempt=True)
        stored = await WorkflowRun.get(id=run.id)
        assert (stored.status, stored.started_at, stored.attempt) == (RunStatus.RUNNING, AT, 1)


class TestRecordOutcome:
    async def test_a_completed_run_keeps_its_outputs_and_end_time(self, run: WorkflowRun) -> None:
        ended = AT + timedelta(seconds=3)
        await record_outcome(run, RunOutcome(status="completed", output={"n": [1, 2]}), at=ended)
        stored = await WorkflowRun.get(id=run.id)
        assert (stored.status, stored.outputs, stored.ended_at) == (
            RunStatus.COMPLETED,
            {"n": [1, 2]},
            ended,
        )
        assert (stored.error_code, stored.error_message) == (None, None)

    @pytest.mark.parametrize("output", ["hello", '"quoted"', "123", "", 5, None, [1, "a"]])
    async def test_any_json_output_reads_back_as_it_was(
        self, run: WorkflowRun, output: object
    ) -> None:
        await record_outcome(run, RunOutcome(status="completed", output=output), at=AT)

        assert run.outputs == output
        assert (await WorkflowRun.get(id=run.id)).outputs == output

    async def test_a_failed_run_keeps_its_error_kind_and_message(self, run: WorkflowRun) -> None:
        error = NodeError(ErrorKind.TIMEOUT, "node 'echo' timed out after 5 s")
        await record_outcome(run, RunOutcome(status="failed", error=error), at=AT)
        stored = await WorkflowRun.get(id=run.id)
        assert (stored.status, stored.error_code, stored.error_message) == (
            RunStatus.FAILED,
            "timeout",
            "node 'echo' timed out after 5 s",
        )
        assert (stored.outputs, stored.ended_at) == (None, AT)

    async def test_a_run_waiting_for_people_has_not_ended(self, run: WorkflowRun) -> None:
        pending = [PendingInput(id="q1", node_id="ok", prompt="Ok?", schema={"type": "boolean"})]
        await record_outcome(run, RunOutcome(status="waiting_human", pending=pending), at=AT)
        stored = await WorkflowRun.get(id=run.id)
        assert (stored.status, stored.ended_at, stored.outputs) == (
            RunStatus.WAITING_HUMAN,
            None,
            None,
        )

    async def test_a_redactor_masks_the_outputs_and_the_error_message(
        self, run: WorkflowRun, tenant: Tenant
    ) -> None:
        redactor = Redactor()
        redactor.remember(["sk-live-4f9a2c"])
        output = {"reply": "key sk-live-4f9a2c", "api_key": "k", "n": 1}
        failed = await WorkflowRun.create(
            tenant=tenant, spec=RAW_SPEC, spec_hash="0" * 64, source=RunSource.API
        )
        await mark_running(failed, at=AT)
        error = NodeError(ErrorKind.AUTH_ERROR, "provider answered 401: bad key sk-live-4f9a2c")

        await record_outcome(
            run, RunOutcome(status="completed", output=output), at=AT, redactor=redactor
        )
        await record_outcome(
            failed, RunOutcome(status="failed", error=error), at=AT, redactor=redactor
        )

        redacted = {"reply": "key ***", "api_key": MASK, "n": 1}
        assert (await WorkflowRun.get(id=run.id)).outputs == redacted
        assert run.outputs == redacted
        stored = await WorkflowRun.get(id=failed.id)
        assert stored.error_message == "provider answered 401: bad key ***"
        assert error.message.endswith("sk-live-4f9a2c")
