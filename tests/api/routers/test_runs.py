"""Runs over HTTP: starting a sync run of a published workflow, idempotency, the run list and
its filters, roles and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.database.models import AuditEvent, RunSource, RunTag, WorkflowRun
from tests.support.api import assert_problem, paths
from tests.workflow_compiler.lowering.conftest import ProbeTool

AT = datetime(2026, 1, 2, tzinfo=UTC)

SPEC: dict[str, Any] = {
    "version": "1",
    "inputs": {
        "type": "object",
        "required": ["x"],
        "properties": {"x": {"type": "integer"}, "key": {"type": "string", "default": "ok"}},
    },
    "nodes": [
        {
            "id": "call",
            "type": "tool",
            "tool": "probe",
            "args": {"key": "{{ inputs.key }}", "value": "{{ inputs.x * 2 }}"},
        }
    ],
    "output": {"doubled": "{{ nodes.call.output }}"},
}


async def _workflow(
    client: httpx.AsyncClient, headers: dict[str, str], *, publish: bool = True
) -> str:
    created = await client.post(
        "/v1/workflows", json={"name": "double", "spec": SPEC}, headers=headers
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    version = await client.post(f"/v1/workflows/{workflow_id}/versions", headers=headers)
    assert version.status_code == 201, version.text
    if publish:
        published = await client.post(
            f"/v1/workflows/{workflow_id}/versions/1/publish", headers=headers
        )
        assert published.status_code == 200, published.text
    return workflow_id


@pytest.fixture
async def workflow_id(client: httpx.AsyncClient, operator: dict[str, str]) -> str:
    return await _workflow(client, operator)


async def _run(
    client: httpx.AsyncClient,
    workflow_id: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    return await client.post(
        f"/v1/workflows/{workflow_id}/runs",
        json=body if body is not None else {"inputs": {"x": 21}},
        headers=headers,
        **kwargs,
    )


class TestStartRun:
    async def test_a_sync_run_completes_with_its_outputs(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        response = await _run(
            client, workflow_id, operator, {"inputs": {"x": 21}, "tags": ["a", "b", "a"]}
        )

        assert response.status_code == 201, response.text
        run = response.json()
        assert run["id"].startswith("run_")
        assert (run["status"], run["outputs"], run["error"]) == ("completed", {"doubled": 42}, None)
        assert (run["workflow_id"], run["version_number"], run["source"]) == (
            workflow_id,
            1,
            "api",
        )
        assert run["inputs"] == {"x": 21, "key": "ok"}
        assert run["tags"] == ["a", "b"]
        assert run["started_at"] is not None
        assert run["ended_at"] is not None
        row = await WorkflowRun.get(id=run["id"])
        assert (row.status, row.spec, row.source) == ("completed", None, RunSource.API)
        assert sorted(await RunTag.filter(run_id=run["id"]).values_list("tag", flat=True)) == [
            "a",
            "b",
        ]
        assert await AuditEvent.filter(action="run.start", target_id=run["id"]).exists()

    async def test_mode_sync_may_be_given_in_the_query_or_the_body(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        by_query = await _run(client, workflow_id, operator, params={"mode": "sync"})
        by_body = await _run(client, workflow_id, operator, {"inputs": {"x": 1}, "mode": "sync"})
        assert (by_query.status_code, by_body.status_code) == (201, 201)

    @pytest.mark.parametrize(
        ("body", "params", "path"),
        [
            ({"inputs": {"x": 1}, "mode": "later"}, {}, "body.mode"),
            ({"inputs": {"x": 1}}, {"mode": "stream"}, "query.mode"),
            ({"inputs": {"x": 1}, "version": 0}, {}, "body.version"),
            ({"inputs": [1]}, {}, "body.inputs"),
            ({"inputs": {}, "extra": 1}, {}, "body.extra"),
        ],
    )
    async def test_an_invalid_request_is_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        workflow_id: str,
        operator: dict[str, str],
        body: dict[str, Any],
        params: dict[str, str],
        path: str,
    ) -> None:
        response = await _run(client, workflow_id, operator, body, params=params)
        problem = assert_problem(response, 422, "validation_failed")
        assert any(p.startswith(path) for p in paths(problem)), paths(problem)
        assert await WorkflowRun.all().count() == 0

    async def test_a_failing_node_fails_the_run_with_its_error_kind(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        response = await _run(client, workflow_id, operator, {"inputs": {"x": 1, "key": "bad"}})

        assert response.status_code == 201, response.text
        run = response.json()
        assert (run["status"], run["outputs"]) == ("failed", None)
        assert run["error"]["kind"] == "tool_error"
        assert "bad" in run["error"]["message"]
        fetched = await client.get(f"/v1/runs/{run['id']}", headers=operator)
        assert fetched.json()["error"] == run["error"]

    async def test_invalid_inputs_are_422_with_their_paths_and_write_nothing(
        self,
        client: httpx.AsyncClient,
        workflow_id: str,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        response = await _run(client, workflow_id, operator, {"inputs": {"x": "one"}})

        problem = assert_problem(response, 422, "inputs_invalid")
        assert "inputs.x" in paths(problem)
        assert await WorkflowRun.all().count() == 0
        assert probe.calls == []

    async def test_without_a_published_version_is_409(
        self, client: httpx.AsyncClient, operator: dict[str, str]
    ) -> None:
        workflow_id = await _workflow(client, operator, publish=False)

        assert_problem(await _run(client, workflow_id, operator), 409, "conflict")
        named = await _run(client, workflow_id, operator, {"inputs": {"x": 2}, "version": 1})
        assert named.status_code == 201, named.text
        assert named.json()["version_number"] == 1

    async def test_an_unknown_version_or_workflow_is_404(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        body = {"inputs": {"x": 1}, "version": 9}
        assert_problem(await _run(client, workflow_id, operator, body), 404, "not_found")
        assert_problem(await _run(client, "wf_missing", operator), 404, "not_found")

    async def test_the_same_idempotency_key_returns_the_first_run_without_executing(
        self,
        client: httpx.AsyncClient,
        workflow_id: str,
        operator: dict[str, str],
        stranger: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        headers = {**operator, "Idempotency-Key": "order-17"}
        first = await _run(client, workflow_id, headers)
        again = await _run(client, workflow_id, headers, {"inputs": {"x": 5}})

        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["outputs"] == {"doubled": 42}
        assert probe.calls == ["ok"]
        assert await WorkflowRun.filter(idempotency_key="order-17").count() == 1

        # The key is per tenant: another tenant's identical key is its own run.
        theirs = await _workflow(client, stranger)
        other = await _run(client, theirs, {**stranger, "Idempotency-Key": "order-17"})
        assert other.status_code == 201
        assert other.json()["id"] != first.json()["id"]

    async def test_a_viewer_may_not_start_a_run(
        self, client: httpx.AsyncClient, workflow_id: str, viewer: dict[str, str]
    ) -> None:
        assert_problem(await _run(client, workflow_id, viewer), 403, "forbidden")

    async def test_needs_an_api_key(self, client: httpx.AsyncClient, workflow_id: str) -> None:
        assert_problem(await _run(client, workflow_id, {}), 401, "unauthenticated")
        assert_problem(await client.get("/v1/runs"), 401, "unauthenticated")

    async def test_another_tenants_workflow_is_404(
        self, client: httpx.AsyncClient, workflow_id: str, stranger: dict[str, str]
    ) -> None:
        assert_problem(await _run(client, workflow_id, stranger), 404, "not_found")


class TestReadRuns:
    async def test_get_answers_404_for_unknown_and_other_tenants_runs(
        self,
        client: httpx.AsyncClient,
        workflow_id: str,
        operator: dict[str, str],
        viewer: dict[str, str],
        stranger: dict[str, str],
    ) -> None:
        run_id = (await _run(client, workflow_id, operator)).json()["id"]

        mine = await client.get(f"/v1/runs/{run_id}", headers=viewer)
        assert (mine.status_code, mine.json()["id"]) == (200, run_id)
        assert_problem(await client.get(f"/v1/runs/{run_id}", headers=stranger), 404, "not_found")
        assert_problem(await client.get("/v1/runs/run_nope", headers=viewer), 404, "not_found")

    async def test_pages_newest_first_with_a_cursor(
        self,
        client: httpx.AsyncClient,
        workflow_id: str,
        operator: dict[str, str],
        stranger: dict[str, str],
    ) -> None:
        ids = [(await _run(client, workflow_id, operator)).json()["id"] for _ in range(3)]
        theirs = await _workflow(client, stranger)
        await _run(client, theirs, stranger)

        first = (await client.get("/v1/runs", params={"limit": 2}, headers=operator)).json()
        assert [r["id"] for r in first["items"]] == [ids[2], ids[1]]
        assert first["next_cursor"] is not None
        params = {"limit": 2, "cursor": first["next_cursor"]}
        second = (await client.get("/v1/runs", params=params, headers=operator)).json()
        assert [r["id"] for r in second["items"]] == [ids[0]]
        assert second["next_cursor"] is None

    async def test_filters_combine_and_sort(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        other_workflow = await _workflow(client, operator)
        ok = (await _run(client, workflow_id, operator, {"inputs": {"x": 1}, "tags": ["t"]})).json()
        bad = (await _run(client, workflow_id, operator, {"inputs": {"x": 1, "key": "bad"}})).json()
        elsewhere = (await _run(client, other_workflow, operator)).json()

        async def listed(**params: Any) -> list[str]:
            response = await client.get("/v1/runs", params=params, headers=operator)
            assert response.status_code == 200, response.text
            return [r["id"] for r in response.json()["items"]]

        assert await listed(status="failed") == [bad["id"]]
        assert await listed(status="completed") == [elsewhere["id"], ok["id"]]
        assert await listed(status="failed, completed") == [elsewhere["id"], bad["id"], ok["id"]]
        assert await listed(status="queued,waiting_human") == []
        assert await listed(tag="t") == [ok["id"]]
        assert await listed(tag="nope") == []
        assert await listed(workflow_id=other_workflow) == [elsewhere["id"]]
        assert await listed(workflow_id=workflow_id, status="completed") == [ok["id"]]
        assert len(await listed(source="api")) == 3
        assert await listed(source="trigger") == []
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert await listed(created_after=later) == []
        assert len(await listed(created_before=later)) == 3
        assert await listed(error_kind="tool_error,timeout") == [bad["id"]]
        assert await listed(error_kind="timeout") == []
        assert len(await listed(version=1)) == 3
        assert await listed(version=2) == []
        assert await listed(order="oldest") == [ok["id"], bad["id"], elsewhere["id"]]
        oldest = (
            await client.get("/v1/runs", params={"order": "oldest", "limit": 2}, headers=operator)
        ).json()
        after = await listed(order="oldest", cursor=oldest["next_cursor"])
        assert after == [elsewhere["id"]]

    @pytest.mark.parametrize(
        ("params", "path"),
        [
            ({"status": "completed,done"}, "query.status"),
            ({"source": "cron"}, "query.source"),
            ({"limit": 0}, "query.limit"),
            ({"created_after": "yesterday"}, "query.created_after"),
            ({"version": 0}, "query.version"),
            ({"order": "random"}, "query.order"),
        ],
    )
    async def test_an_invalid_filter_is_422_naming_it(
        self,
        client: httpx.AsyncClient,
        viewer: dict[str, str],
        params: dict[str, Any],
        path: str,
    ) -> None:
        response = await client.get("/v1/runs", params=params, headers=viewer)
        problem = assert_problem(response, 422, "validation_failed")
        assert any(p.startswith(path) for p in paths(problem)), paths(problem)
