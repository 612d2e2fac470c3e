"""Acting on runs over HTTP: async starts, ad-hoc runs, resume, retry, rerun, replay, cancel."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.services.run_control import replay_run
from api.services.run_executor import RunExecutor
from api.services.runs import ExecutionMode, compiled_run
from shared.database.models import AuditEvent, Role, RunSource, Tenant, WorkflowRun
from tests.support.api import assert_problem, paths
from tests.support.principals import principal
from tests.workflow_compiler.lowering.conftest import ProbeTool
from worker.tasks import take_up_run

PROBE_SPEC: dict[str, Any] = {
    "version": "1",
    "inputs": {
        "type": "object",
        "properties": {"x": {"type": "integer", "default": 1}, "key": {"type": "string"}},
    },
    "nodes": [
        {"id": "first", "type": "tool", "tool": "probe", "args": {"key": "first", "value": 1}},
        {
            "id": "second",
            "type": "tool",
            "tool": "probe",
            "args": {"key": "{{ inputs.key | default('second') }}", "value": "{{ inputs.x }}"},
        },
        {"id": "total", "type": "set", "value": "{{ nodes.first.output + nodes.second.output }}"},
    ],
    "output": "{{ nodes.total.output }}",
}

HUMAN_SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {
            "id": "approve",
            "type": "human",
            "prompt": "Ship it?",
            "schema": {
                "type": "object",
                "required": ["ok"],
                "properties": {"ok": {"type": "boolean"}},
            },
        },
        {"id": "after", "type": "tool", "tool": "probe", "args": {"key": "after", "value": 1}},
    ],
    "output": "{{ nodes.approve.output.ok }}",
}


async def _adhoc(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    spec: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    **params: str,
) -> httpx.Response:
    return await client.post(
        "/v1/runs/adhoc",
        json={"spec": spec, "inputs": inputs or {}},
        params=params,
        headers=headers,
    )


class _UnreachableQueue:
    """A queue that cannot be reached, like Redis while it is down."""

    async def put(self, run_id: str) -> None:
        raise ConnectionError("the queue is away")

    async def undelivered(self) -> int:
        raise ConnectionError("the queue is away")


async def _replay(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    run_id: str,
    checkpoint_id: str,
    patch: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"checkpoint_id": checkpoint_id}
    if patch is not None:
        body["state_patch"] = patch
    return await client.post(f"/v1/runs/{run_id}/replay", json=body, headers=headers)


async def _wait_for_status(app: FastAPI, run_id: str, *statuses: str) -> WorkflowRun:
    """The run once it reaches one of ``statuses``: re-read each time the app's hub says it
    changed."""
    with app.state.run_events.subscribe(run_id) as changed:
        async with asyncio.timeout(10):
            while True:
                run = await WorkflowRun.get(id=run_id)
                if run.status in statuses:
                    return run
                await changed.wait(10)


class TestAdhocRuns:
    async def test_a_spec_runs_without_being_saved(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        response = await _adhoc(client, operator, PROBE_SPEC, {"x": 4})

        assert response.status_code == 201, response.text
        run = response.json()
        assert (run["status"], run["outputs"], run["workflow_id"]) == ("completed", 5, None)
        row = await WorkflowRun.get(id=run["id"])
        assert row.spec is not None
        assert row.version_id is None

    async def test_an_invalid_spec_is_422_with_every_error_and_writes_nothing(
        self, client: httpx.AsyncClient, operator: dict[str, str]
    ) -> None:
        spec = {"version": "1", "nodes": [{"id": "a", "type": "tool", "tool": "nope", "args": {}}]}

        problem = assert_problem(await _adhoc(client, operator, spec), 422, "spec_invalid")

        assert "nodes[0].tool" in paths(problem)
        assert await WorkflowRun.all().count() == 0

    async def test_a_viewer_may_not(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        assert_problem(await _adhoc(client, viewer, PROBE_SPEC), 403, "forbidden")


class TestAsyncRuns:
    async def test_answers_202_at_once_and_the_run_completes_in_the_background(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        gate = probe.gates["first"] = asyncio.Event()

        response = await _adhoc(client, operator, PROBE_SPEC, mode="async")

        assert response.status_code == 202, response.text
        run = response.json()
        assert run["status"] == "queued"
        assert response.headers["location"] == f"/v1/runs/{run['id']}"
        gate.set()
        done = await _wait_for_status(app, run["id"], "completed")
        assert (done.outputs, done.attempt) == (2, 1)
        assert done.started_at is not None

    async def test_mode_may_be_given_in_the_body(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        response = await client.post(
            "/v1/runs/adhoc", json={"spec": PROBE_SPEC, "mode": "async"}, headers=operator
        )
        assert response.status_code == 202, response.text


def _sse(text: str) -> list[dict[str, str]]:
    """The messages of an event stream (comments dropped), each as its fields."""
    messages = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if fields:
            messages.append(fields)
    return messages


class TestStreamedRuns:
    @pytest.mark.parametrize("where", ["query", "body"])
    async def test_answers_the_run_events_until_it_stops(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool, where: str
    ) -> None:
        body: dict[str, Any] = {"spec": PROBE_SPEC, "inputs": {"x": 3}}
        params = {"stream": "true"} if where == "query" else {}
        if where == "body":
            body["stream"] = True

        response = await client.post("/v1/runs/adhoc", json=body, params=params, headers=operator)

        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        messages = _sse(response.text)
        assert [m["id"] for m in messages] == [str(n) for n in range(1, len(messages) + 1)]
        assert messages[0]["event"] == "run_started"
        assert messages[-1]["event"] == "run_completed"
        run_id = json.loads(messages[0]["data"])["run_id"]
        assert (await WorkflowRun.get(id=run_id)).outputs == 4

    async def test_a_streamed_run_that_waits_ends_its_stream_with_the_question(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        response = await client.post(
            "/v1/runs/adhoc", json={"spec": HUMAN_SPEC, "stream": True}, headers=operator
        )

        assert _sse(response.text)[-1]["event"] == "interrupted"


class TestResume:
    async def test_a_waiting_run_shows_its_question_and_resumes_with_the_answer(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        waiting = (await _adhoc(client, operator, HUMAN_SPEC)).json()
        assert waiting["status"] == "waiting_human"
        [question] = waiting["pending"]
        assert (question["node_id"], question["prompt"]) == ("approve", "Ship it?")
        assert question["schema"]["required"] == ["ok"]
        detail = (await client.get(f"/v1/runs/{waiting['id']}", headers=operator)).json()
        assert detail["pending"] == waiting["pending"]

        response = await client.post(
            f"/v1/runs/{waiting['id']}/resume",
            json={"answers": {question["id"]: {"ok": True}}},
            headers=operator,
        )

        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["outputs"]) == ("completed", True)
        assert response.json()["pending"] == []
        assert probe.calls == ["after"]
        assert await AuditEvent.filter(action="run.resume", target_id=waiting["id"]).exists()

    async def test_an_async_resume_hands_the_answers_to_the_queue_on_the_row(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]

        response = await client.post(
            f"/v1/runs/{run_id}/resume",
            params={"mode": "async"},
            json={"answers": {"approve": {"ok": True}}},
            headers=operator,
        )

        assert response.status_code == 202, response.text
        assert response.json()["status"] == "queued"
        row = await _wait_for_status(app, run_id, "completed")
        assert (row.outputs, row.pending_answers) == (True, None)
        assert probe.calls == ["after"]

    async def test_of_two_concurrent_resumes_one_wins_and_the_other_is_409(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]
        body = {"answers": {"approve": {"ok": True}}}

        answers = await asyncio.gather(
            *(client.post(f"/v1/runs/{run_id}/resume", json=body, headers=operator) for _ in "ab")
        )

        assert sorted(r.status_code for r in answers) == [200, 409]
        assert probe.calls == ["after"]

    async def test_the_node_id_may_stand_for_its_only_question(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]

        response = await client.post(
            f"/v1/runs/{run_id}/resume",
            json={"answers": {"approve": {"ok": False}}},
            headers=operator,
        )

        assert response.json()["outputs"] is False

    @pytest.mark.parametrize(
        ("answers", "path"),
        [
            ({"approve": {"ok": "yes"}}, "answers.approve.ok"),
            ({"approve": {}}, "answers.approve"),
            ({"nobody": {"ok": True}}, "answers.nobody"),
        ],
    )
    async def test_a_wrong_answer_is_422_naming_it_and_the_run_still_waits(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        probe: ProbeTool,
        answers: dict[str, Any],
        path: str,
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]

        response = await client.post(
            f"/v1/runs/{run_id}/resume", json={"answers": answers}, headers=operator
        )

        problem = assert_problem(response, 422, "answer_invalid")
        assert any(p.startswith(path) for p in paths(problem)), paths(problem)
        assert (await WorkflowRun.get(id=run_id)).status == "waiting_human"
        assert probe.calls == []

    async def test_empty_answers_are_422(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]
        response = await client.post(
            f"/v1/runs/{run_id}/resume", json={"answers": {}}, headers=operator
        )
        assert_problem(response, 422, "validation_failed")

    async def test_a_run_that_does_not_wait_is_409(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, PROBE_SPEC)).json()["id"]
        response = await client.post(
            f"/v1/runs/{run_id}/resume", json={"answers": {"x": 1}}, headers=operator
        )
        assert_problem(response, 409, "conflict")


class TestRetry:
    async def test_a_failed_run_continues_from_the_failed_node(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        failed = (await _adhoc(client, operator, PROBE_SPEC, {"key": "bad"})).json()
        assert (failed["status"], failed["error"]["kind"]) == ("failed", "tool_error")
        probe.broken.clear()

        response = await client.post(f"/v1/runs/{failed['id']}/retry", headers=operator)

        assert response.status_code == 200, response.text
        run = response.json()
        assert (run["status"], run["outputs"], run["error"], run["attempt"]) == (
            "completed",
            2,
            None,
            2,
        )
        assert probe.calls == ["first", "bad", "bad"]  # "first" did not execute again

    async def test_an_async_retry_answers_202(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        run_id = (await _adhoc(client, operator, PROBE_SPEC, {"key": "bad"})).json()["id"]
        probe.broken.clear()

        response = await client.post(
            f"/v1/runs/{run_id}/retry", params={"mode": "async"}, headers=operator
        )

        assert response.status_code == 202, response.text
        assert response.json()["status"] == "queued"
        await _wait_for_status(app, run_id, "completed")

    @pytest.mark.parametrize("mode", ["sync", "async"])
    async def test_a_cancel_the_run_outlived_does_not_cancel_its_retry(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        probe: ProbeTool,
        mode: str,
    ) -> None:
        """A cancel was requested while another process held the run, which failed before it
        read the request: the retry is newer intent and runs."""
        run_id = (await _adhoc(client, operator, PROBE_SPEC, {"key": "bad"})).json()["id"]
        await WorkflowRun.filter(id=run_id).update(cancel_requested_at=datetime.now(UTC))
        probe.broken.clear()

        response = await client.post(
            f"/v1/runs/{run_id}/retry", params={"mode": mode}, headers=operator
        )

        assert response.status_code in (200, 202), response.text
        await _wait_for_status(app, run_id, "completed")
        assert (await WorkflowRun.get(id=run_id)).cancel_requested_at is None

    async def test_a_run_that_failed_before_it_started_is_retried_under_a_lease(
        self, app: FastAPI, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, PROBE_SPEC)).json()["id"]
        await WorkflowRun.filter(id=run_id).update(
            status="failed", attempt=0, fencing_token=0, error_code="internal_error"
        )

        response = await client.post(f"/v1/runs/{run_id}/retry", headers=operator)

        assert response.status_code == 200, response.text
        row = await WorkflowRun.get(id=run_id)
        assert (row.status, row.attempt, row.fencing_token) == ("completed", 1, 1)

    async def test_only_a_failed_run_may_be_retried(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, PROBE_SPEC)).json()["id"]
        assert_problem(
            await client.post(f"/v1/runs/{run_id}/retry", headers=operator), 409, "conflict"
        )


class TestRerun:
    async def test_a_new_run_with_the_same_inputs_and_its_lineage(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        first = (await _adhoc(client, operator, PROBE_SPEC, {"x": 5})).json()

        response = await client.post(f"/v1/runs/{first['id']}/rerun", headers=operator)

        assert response.status_code == 201, response.text
        run = response.json()
        assert run["id"] != first["id"]
        assert (run["parent_run_id"], run["source"], run["inputs"], run["outputs"]) == (
            first["id"],
            RunSource.REPLAY,
            first["inputs"],
            6,
        )


class TestReplay:
    async def _checkpoint_after_first(self, run_id: str, app: FastAPI) -> str:
        """The checkpoint at which ``first`` had run and ``second`` was due."""
        saver = app.state.runs.checkpointer
        async for saved in saver.alist({"configurable": {"thread_id": run_id}}):
            values = saved.checkpoint["channel_values"]
            if "out:first" in values and "out:second" not in values:
                return str(saved.checkpoint["id"])
        raise AssertionError("no checkpoint between first and second")

    async def test_replays_from_a_checkpoint_with_a_patched_output(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        first = (await _adhoc(client, operator, PROBE_SPEC, {"x": 5})).json()
        checkpoint_id = await self._checkpoint_after_first(first["id"], app)

        patch = {"nodes": {"first": 100}, "inputs": {"x": 7}}
        response = await _replay(client, operator, first["id"], checkpoint_id, patch)

        assert response.status_code == 201, response.text
        run = response.json()
        assert (run["status"], run["outputs"]) == ("completed", 107)
        assert (run["parent_run_id"], run["forked_from_checkpoint_id"]) == (
            first["id"],
            checkpoint_id,
        )
        assert run["inputs"]["x"] == 7
        assert probe.calls == ["first", "second", "second"]  # "first" was not executed again

    async def test_a_failed_replay_is_retried_from_its_fork_not_its_parents_end(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        first = (await _adhoc(client, operator, PROBE_SPEC, {"x": 5})).json()
        checkpoint_id = await self._checkpoint_after_first(first["id"], app)
        patch = {"nodes": {"first": 100}, "inputs": {"key": "bad"}}
        replay = (await _replay(client, operator, first["id"], checkpoint_id, patch)).json()
        assert replay["status"] == "failed"
        probe.broken.clear()

        retried = await client.post(f"/v1/runs/{replay['id']}/retry", headers=operator)

        assert (retried.json()["status"], retried.json()["outputs"]) == ("completed", 105)

    async def test_an_async_replay_hands_its_patch_to_the_queue_on_the_row(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        first = (await _adhoc(client, operator, PROBE_SPEC, {"x": 5})).json()
        checkpoint_id = await self._checkpoint_after_first(first["id"], app)
        body = {"checkpoint_id": checkpoint_id, "state_patch": {"nodes": {"first": 100}}}

        response = await client.post(
            f"/v1/runs/{first['id']}/replay", params={"mode": "async"}, json=body, headers=operator
        )

        assert response.status_code == 202, response.text
        row = await _wait_for_status(app, response.json()["id"], "completed")
        assert (row.outputs, row.pending_patch) == (105, None)
        assert probe.calls == ["first", "second", "second"]

    async def test_a_replay_whose_process_stopped_before_it_forked_is_forked_again(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        """The first execution copied the parent's thread and died before storing the fork:
        the next one starts the copy over and runs from the fork point, patch applied."""
        first = (await _adhoc(client, operator, PROBE_SPEC, {"x": 5})).json()
        checkpoint_id = await self._checkpoint_after_first(first["id"], app)
        executor: RunExecutor = app.state.runs
        # The replay's message never reaches a worker (the queue is away): the row waits.
        unreachable = RunExecutor(
            executor.services,
            checkpointer=executor.checkpointer,
            events_for=lambda run: executor.services.events,
            on_change=lambda run_id: None,
            queue=_UnreachableQueue(),
        )
        tenant = await Tenant.get(id=(await WorkflowRun.get(id=first["id"])).tenant_id)
        replay = await replay_run(
            principal(tenant, Role.OPERATOR),
            first["id"],
            checkpoint_id,
            nodes={"first": 100},
            mode=ExecutionMode.ASYNC,
            executor=unreachable,
            at=datetime.now(UTC),
        )
        await executor.checkpointer.acopy_thread(first["id"], replay.id)

        await take_up_run(replay.id, executor)

        row = await WorkflowRun.get(id=replay.id)
        assert (row.status, row.outputs, row.pending_patch) == ("completed", 105, None)
        assert probe.calls == ["first", "second", "second"]

    async def test_an_unknown_checkpoint_is_404_and_writes_nothing(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, PROBE_SPEC)).json()["id"]

        response = await _replay(client, operator, run_id, "nope")

        assert_problem(response, 404, "not_found")
        assert await WorkflowRun.all().count() == 1

    @pytest.mark.parametrize(
        ("patch", "path"),
        [
            ({"nodes": {"missing": 1}}, "state_patch.nodes.missing"),
            ({"inputs": {"x": "seven"}}, "state_patch.inputs.x"),
        ],
    )
    async def test_a_patch_naming_what_the_run_lacks_is_422(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        operator: dict[str, str],
        probe: ProbeTool,
        patch: dict[str, Any],
        path: str,
    ) -> None:
        run_id = (await _adhoc(client, operator, PROBE_SPEC)).json()["id"]
        checkpoint_id = await self._checkpoint_after_first(run_id, app)

        response = await _replay(client, operator, run_id, checkpoint_id, patch)

        assert paths(assert_problem(response, 422, "state_patch_invalid")) == [path]


class TestCancel:
    async def test_an_executing_run_stops_at_the_node_in_flight(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        probe.gates["first"] = asyncio.Event()  # never set: the node waits until canceled
        run_id = (await _adhoc(client, operator, PROBE_SPEC, mode="async")).json()["id"]
        assert await probe.started.get() == "first"

        response = await client.post(f"/v1/runs/{run_id}/cancel", headers=operator)

        assert response.status_code == 200, response.text
        run = response.json()
        assert (run["status"], run["ended_at"] is not None) == ("canceled", True)
        assert probe.finished == []
        assert probe.active == 0
        assert await AuditEvent.filter(action="run.cancel", target_id=run_id).exists()
        steps = (await client.get(f"/v1/runs/{run_id}/steps", headers=operator)).json()
        assert [(s["node_id"], s["status"]) for s in steps["items"]] == [("first", "canceled")]
        events = (await client.get(f"/v1/runs/{run_id}/events", headers=operator)).json()
        assert events["items"][-1]["kind"] == "run_canceled"

    async def test_a_waiting_run_is_canceled_at_once(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]

        response = await client.post(f"/v1/runs/{run_id}/cancel", headers=operator)

        assert response.json()["status"] == "canceled"
        resumed = await client.post(
            f"/v1/runs/{run_id}/resume",
            json={"answers": {"approve": {"ok": True}}},
            headers=operator,
        )
        assert_problem(resumed, 409, "conflict")

    async def test_a_canceled_run_is_not_resumed_by_a_late_request(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        """The row a resume took over is canceled before its task starts: the task finds
        the run canceled and executes nothing."""
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]
        await WorkflowRun.filter(id=run_id).update(status="canceled")
        row = await WorkflowRun.get(id=run_id)
        row.status = "waiting_human"  # as the resume read it, just before the cancel landed

        executor = app.state.runs
        compiled = await compiled_run(row, executor.services.tools)

        await executor.submit(row, compiled, lambda run, services: run.resume({}, services))

        assert (await WorkflowRun.get(id=run_id)).status == "canceled"
        assert probe.calls == []

    async def test_an_ended_run_is_409(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, PROBE_SPEC)).json()["id"]
        assert_problem(
            await client.post(f"/v1/runs/{run_id}/cancel", headers=operator), 409, "conflict"
        )


class TestAccess:
    @pytest.mark.parametrize("action", ["resume", "retry", "rerun", "replay", "cancel"])
    async def test_viewers_are_403_and_other_tenants_404(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        viewer: dict[str, str],
        stranger: dict[str, str],
        probe: ProbeTool,
        action: str,
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]
        body = {
            "resume": {"answers": {"approve": {"ok": True}}},
            "replay": {"checkpoint_id": "c"},
        }.get(action, {})
        url = f"/v1/runs/{run_id}/{action}"

        assert_problem(await client.post(url, json=body, headers=viewer), 403, "forbidden")
        assert_problem(await client.post(url, json=body, headers=stranger), 404, "not_found")
        assert_problem(await client.post(url, json=body), 401, "unauthenticated")
        assert (await WorkflowRun.get(id=run_id)).status == "waiting_human"

    async def test_unknown_fields_are_422(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        run_id = (await _adhoc(client, operator, HUMAN_SPEC)).json()["id"]
        response = await client.post(
            f"/v1/runs/{run_id}/retry", json={"mode": "sync", "force": True}, headers=operator
        )
        assert "body.force" in paths(assert_problem(response, 422, "validation_failed"))


class TestChildRuns:
    async def _published(
        self, client: httpx.AsyncClient, headers: dict[str, str], spec: dict[str, Any]
    ) -> str:
        created = await client.post(
            "/v1/workflows", json={"name": "w", "spec": spec}, headers=headers
        )
        workflow_id = str(created.json()["id"])
        await client.post(f"/v1/workflows/{workflow_id}/versions", headers=headers)
        await client.post(f"/v1/workflows/{workflow_id}/versions/1/publish", headers=headers)
        return workflow_id

    def _caller(self, child_id: str) -> dict[str, Any]:
        return {
            "version": "1",
            "nodes": [
                {
                    "id": "child",
                    "type": "workflow",
                    "workflow_id": child_id,
                    "inputs": {"x": 10},
                }
            ],
            "output": "{{ nodes.child.output }}",
        }

    async def test_a_workflow_node_runs_the_child_with_lineage(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        child_id = await self._published(client, operator, PROBE_SPEC)

        parent = (await _adhoc(client, operator, self._caller(child_id))).json()

        assert (parent["status"], parent["outputs"]) == ("completed", 11)
        children = (
            await client.get("/v1/runs", params={"workflow_id": child_id}, headers=operator)
        ).json()
        [child] = children["items"]
        assert (child["parent_run_id"], child["status"], child["outputs"]) == (
            parent["id"],
            "completed",
            11,
        )

    async def test_a_child_executing_in_its_parent_is_canceled_through_the_parent(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        child_id = await self._published(client, operator, PROBE_SPEC)
        gate = probe.gates["first"] = asyncio.Event()
        parent_id = (await _adhoc(client, operator, self._caller(child_id), mode="async")).json()[
            "id"
        ]
        assert await probe.started.get() == "first"
        [child] = (
            await client.get("/v1/runs", params={"workflow_id": child_id}, headers=operator)
        ).json()["items"]

        response = await client.post(f"/v1/runs/{child['id']}/cancel", headers=operator)

        assert parent_id in assert_problem(response, 409, "conflict")["detail"]
        gate.set()

    async def test_a_child_stopped_by_its_nodes_timeout_is_failed_not_left_running(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        child_id = await self._published(client, operator, PROBE_SPEC)
        probe.gates["first"] = asyncio.Event()  # never set: the node's timeout stops it
        caller = self._caller(child_id)
        caller["nodes"][0]["timeout_s"] = 0.2

        parent = (await _adhoc(client, operator, caller)).json()

        assert (parent["status"], parent["error"]["kind"]) == ("failed", "timeout")
        [child] = (
            await client.get("/v1/runs", params={"workflow_id": child_id}, headers=operator)
        ).json()["items"]
        assert (child["status"], child["error"]["kind"]) == ("failed", "interrupted")
        steps = (await client.get(f"/v1/runs/{child['id']}/steps", headers=operator)).json()
        assert [s["status"] for s in steps["items"]] == ["canceled"]

    async def test_canceling_the_parent_cancels_the_child_in_flight(
        self, client: httpx.AsyncClient, operator: dict[str, str], probe: ProbeTool
    ) -> None:
        child_id = await self._published(client, operator, PROBE_SPEC)
        probe.gates["first"] = asyncio.Event()  # never set
        parent_id = (await _adhoc(client, operator, self._caller(child_id), mode="async")).json()[
            "id"
        ]
        assert await probe.started.get() == "first"

        response = await client.post(f"/v1/runs/{parent_id}/cancel", headers=operator)

        assert response.json()["status"] == "canceled"
        [child] = (
            await client.get("/v1/runs", params={"workflow_id": child_id}, headers=operator)
        ).json()["items"]
        assert (child["parent_run_id"], child["status"]) == (parent_id, "canceled")
