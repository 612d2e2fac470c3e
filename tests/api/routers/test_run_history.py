"""Run history routes: steps, events as JSON and as SSE, checkpoints and their state, tags and
annotations; tenancy, roles and bad parameters."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.routers.sse import HEARTBEAT
from shared.database.models import RunTag
from tests.support.api import assert_problem, paths
from tests.support.sse import asgi_stream, messages
from tests.workflow_compiler.lowering.conftest import ProbeTool, probe_node, set_node, spec

CHAIN = spec(
    set_node("a", 1),
    probe_node("b", "Bearer {{ nodes.a.output }}"),
    output="{{ nodes.b.output }}",
)
EACH = spec(
    {"id": "each", "type": "for_each", "items": [1, 2], "body": [set_node("x", "{{ item }}")]}
)
SSE = {"Accept": "text/event-stream"}


async def adhoc_run(
    client: httpx.AsyncClient, headers: dict[str, str], raw: dict[str, Any], mode: str = "sync"
) -> dict[str, Any]:
    response = await client.post(f"/v1/runs/adhoc?mode={mode}", json={"spec": raw}, headers=headers)
    assert response.status_code in (201, 202), response.text
    return response.json()


@pytest.fixture
async def run_id(client: httpx.AsyncClient, operator: dict[str, str]) -> str:
    """A completed run of ``CHAIN``."""
    run = await adhoc_run(client, operator, CHAIN)
    assert run["status"] == "completed"
    return str(run["id"])


async def two_pages(
    client: httpx.AsyncClient, url: str, cursor: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """The items of a first page of 2 and of the page its cursor leads to, the last one."""
    first = (await client.get(url, params={"limit": 2}, headers=headers)).json()
    assert first["next_cursor"] is not None
    rest = (await client.get(url, params={cursor: first["next_cursor"]}, headers=headers)).json()
    assert rest["next_cursor"] is None
    return [*first["items"], *rest["items"]]


class TestSteps:
    async def test_each_attempt_with_its_io_and_timings(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/steps", headers=viewer)

        assert response.status_code == 200, response.text
        body = response.json()
        a, b = body["items"]
        assert (a["node_id"], a["scope"], a["attempt"], a["status"]) == ("a", "", 1, "completed")
        assert (a["input"], a["output"], a["error"], a["usage"]) == (None, 1, None, None)
        assert b["input"] == {"key": "b", "value": "Bearer 1"}
        assert b["output"] == "Bearer 1"
        assert b["duration_ms"] >= 0
        assert b["started_at"] <= b["ended_at"]
        assert body["next_cursor"] is None

    async def test_for_each_items_have_their_scopes_and_pages_follow(
        self, client: httpx.AsyncClient, operator: dict[str, str]
    ) -> None:
        run = await adhoc_run(client, operator, EACH)
        steps = await two_pages(client, f"/v1/runs/{run['id']}/steps", "cursor", operator)

        assert sorted((s["scope"], s["node_id"]) for s in steps) == [
            ("", "each"),
            ("each[0]", "x"),
            ("each[1]", "x"),
        ]

    async def test_a_failed_attempt_has_its_error(
        self, client: httpx.AsyncClient, operator: dict[str, str]
    ) -> None:
        run = await adhoc_run(client, operator, spec(probe_node("bad")))

        [step] = (await client.get(f"/v1/runs/{run['id']}/steps", headers=operator)).json()["items"]

        assert step["status"] == "failed"
        assert step["error"] == {"kind": "tool_error", "message": "probe 'bad' is broken"}

    async def test_another_tenants_run_is_404(
        self, client: httpx.AsyncClient, stranger: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/steps", headers=stranger)

        assert_problem(response, 404, "not_found")

    async def test_no_key_is_401(self, client: httpx.AsyncClient, run_id: str) -> None:
        assert_problem(await client.get(f"/v1/runs/{run_id}/steps"), 401, "unauthenticated")

    async def test_a_bad_limit_is_422_naming_it(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/steps", params={"limit": 0}, headers=viewer)

        assert paths(assert_problem(response, 422, "validation_failed")) == ["query.limit"]


class TestEventsAsJson:
    async def test_a_page_after_a_seq(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(
            f"/v1/runs/{run_id}/events", params={"after": 1, "limit": 2}, headers=viewer
        )

        assert response.status_code == 200, response.text
        body = response.json()
        started, completed = body["items"]
        assert (started["seq"], started["kind"], started["node_id"]) == (2, "node_started", "a")
        assert started["run_id"] == run_id
        assert (completed["seq"], completed["kind"], completed["scope"]) == (
            3,
            "node_completed",
            "",
        )
        assert completed["data"] == {"output": 1, "usage": {}}
        assert completed["duration_ms"] >= 0
        assert body["next_after"] == 3

    async def test_a_body_node_event_names_its_scope(
        self, client: httpx.AsyncClient, operator: dict[str, str]
    ) -> None:
        run = await adhoc_run(client, operator, EACH)

        body = (await client.get(f"/v1/runs/{run['id']}/events", headers=operator)).json()

        scopes = {e["scope"] for e in body["items"] if e["node_id"] == "x"}
        assert scopes == {"each[0]", "each[1]"}

    async def test_another_tenants_run_is_404(
        self, client: httpx.AsyncClient, stranger: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/events", headers=stranger)

        assert_problem(response, 404, "not_found")

    @pytest.mark.parametrize(
        ("params", "headers", "path"),
        [
            ({"after": -1}, {}, "query.after"),
            ({"limit": 100_000}, {}, "query.limit"),
            ({}, {"Last-Event-ID": "seven"}, "header.last-event-id"),
        ],
    )
    async def test_bad_parameters_are_422_naming_them(
        self,
        client: httpx.AsyncClient,
        viewer: dict[str, str],
        run_id: str,
        params: dict[str, Any],
        headers: dict[str, str],
        path: str,
    ) -> None:
        response = await client.get(
            f"/v1/runs/{run_id}/events", params=params, headers=viewer | headers
        )

        assert paths(assert_problem(response, 422, "validation_failed")) == [path]


class TestEventsAsSse:
    async def test_a_completed_run_streams_every_event_then_ends(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/events", headers=viewer | SSE)

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        sent = messages(response.text)
        assert [(m["id"], m["event"]) for m in sent] == [
            ("1", "run_started"),
            ("2", "node_started"),
            ("3", "node_completed"),
            ("4", "node_started"),
            ("5", "node_completed"),
            ("6", "run_completed"),
        ]
        assert json.loads(sent[5]["data"])["data"] == {"output": "Bearer 1"}

    async def test_last_event_id_resumes_after_it(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(
            f"/v1/runs/{run_id}/events", headers=viewer | SSE | {"Last-Event-ID": "4"}
        )

        assert [m["id"] for m in messages(response.text)] == ["5", "6"]

    async def test_after_resumes_too(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(
            f"/v1/runs/{run_id}/events", params={"after": 5}, headers=viewer | SSE
        )

        assert [m["event"] for m in messages(response.text)] == ["run_completed"]

    async def test_a_running_run_is_followed_with_heartbeats_until_it_completes(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        app.state.sse_heartbeat_s = 0.01
        probe.gates["slow"] = gate = asyncio.Event()
        run = await adhoc_run(client, operator, spec(probe_node("slow", 7)), mode="async")
        assert await probe.started.get() == "slow"

        async with asgi_stream(
            app, f"/v1/runs/{run['id']}/events", headers=operator | SSE
        ) as stream:
            assert stream.status == 200
            first = [await stream.next_chunk(), await stream.next_chunk()]
            while (chunk := await stream.next_chunk()) != HEARTBEAT:
                pytest.fail(f"expected a heartbeat, got {chunk!r}")
            gate.set()
            rest = b"".join(await stream.rest()).decode()

        assert [m["event"] for m in messages(b"".join(first).decode())] == [
            "run_started",
            "node_started",
        ]
        events = [m["event"] for m in messages(rest) if "event" in m]
        assert events == ["node_completed", "run_completed"]

    async def test_a_run_that_waits_for_people_ends_the_stream(
        self, client: httpx.AsyncClient, operator: dict[str, str]
    ) -> None:
        run = await adhoc_run(
            client, operator, spec({"id": "ask", "type": "human", "prompt": "Ok?"})
        )

        response = await client.get(f"/v1/runs/{run['id']}/events", headers=operator | SSE)

        assert [m["event"] for m in messages(response.text)][-1] == "interrupted"

    async def test_another_tenants_run_is_a_404_problem_not_a_stream(
        self, client: httpx.AsyncClient, stranger: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/events", headers=stranger | SSE)

        assert_problem(response, 404, "not_found")


class TestCheckpoints:
    async def test_newest_first_with_the_nodes_each_stored(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        listed = await two_pages(client, f"/v1/runs/{run_id}/checkpoints", "before", viewer)

        assert [(c["step"], c["nodes"]) for c in listed] == [
            (2, ["b"]),
            (1, ["a"]),
            (0, []),
            (-1, []),
        ]
        assert listed[0]["parent_checkpoint_id"] == listed[1]["checkpoint_id"]

    async def test_the_state_at_a_checkpoint(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        listed = (await client.get(f"/v1/runs/{run_id}/checkpoints", headers=viewer)).json()
        after_a = next(c for c in listed["items"] if c["nodes"] == ["a"])

        response = await client.get(
            f"/v1/runs/{run_id}/checkpoints/{after_a['checkpoint_id']}/state", headers=viewer
        )

        assert response.status_code == 200, response.text
        assert response.json() == {
            "checkpoint": after_a,
            "inputs": {},
            "nodes": {"a": 1},
            "next": ["b"],
        }

    async def test_an_unknown_checkpoint_is_404(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/checkpoints/nope/state", headers=viewer)

        assert_problem(response, 404, "not_found")

    async def test_another_tenants_run_is_404(
        self, client: httpx.AsyncClient, stranger: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(f"/v1/runs/{run_id}/checkpoints", headers=stranger)

        assert_problem(response, 404, "not_found")

    async def test_a_bad_limit_is_422(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.get(
            f"/v1/runs/{run_id}/checkpoints", params={"limit": 1000}, headers=viewer
        )

        assert paths(assert_problem(response, 422, "validation_failed")) == ["query.limit"]


class TestTags:
    async def test_an_operator_replaces_the_tags_and_the_run_list_filters_by_them(
        self, client: httpx.AsyncClient, operator: dict[str, str], run_id: str
    ) -> None:
        response = await client.put(
            f"/v1/runs/{run_id}/tags", json={"tags": ["x", "y", "x"]}, headers=operator
        )

        assert response.status_code == 200, response.text
        assert response.json() == {"id": run_id, "tags": ["x", "y"], "annotations": {}}
        assert sorted(await RunTag.filter(run_id=run_id).values_list("tag", flat=True)) == [
            "x",
            "y",
        ]
        listed = await client.get("/v1/runs", params={"tag": "y"}, headers=operator)
        assert [r["id"] for r in listed.json()["items"]] == [run_id]

    async def test_a_viewer_is_403(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.put(f"/v1/runs/{run_id}/tags", json={"tags": []}, headers=viewer)

        assert_problem(response, 403, "forbidden")

    async def test_another_tenants_run_is_404(
        self, client: httpx.AsyncClient, stranger: dict[str, str], run_id: str
    ) -> None:
        response = await client.put(f"/v1/runs/{run_id}/tags", json={"tags": []}, headers=stranger)

        assert_problem(response, 404, "not_found")

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"tags": [""]}, "body.tags[0]"),
            ({"tags": ["t"] * 51}, "body.tags"),
            ({"tags": [], "extra": 1}, "body.extra"),
            ({}, "body.tags"),
        ],
    )
    async def test_bad_tags_are_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        run_id: str,
        body: dict[str, Any],
        path: str,
    ) -> None:
        response = await client.put(f"/v1/runs/{run_id}/tags", json=body, headers=operator)

        assert paths(assert_problem(response, 422, "validation_failed")) == [path]


class TestAnnotations:
    async def test_keys_are_set_and_null_removes_one(
        self, client: httpx.AsyncClient, operator: dict[str, str], run_id: str
    ) -> None:
        url = f"/v1/runs/{run_id}/annotations"
        await client.patch(url, json={"ticket": "T-1", "owner": "ada"}, headers=operator)

        response = await client.patch(url, json={"ticket": None}, headers=operator)

        assert response.status_code == 200, response.text
        assert response.json()["annotations"] == {"owner": "ada"}

    async def test_a_viewer_is_403(
        self, client: httpx.AsyncClient, viewer: dict[str, str], run_id: str
    ) -> None:
        response = await client.patch(
            f"/v1/runs/{run_id}/annotations", json={"a": "b"}, headers=viewer
        )

        assert_problem(response, 403, "forbidden")

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"a": 1}, "body.a"),
            ({"a": "x" * 1001}, "body.a"),
            ({"k" * 101: "x"}, f"body.{'k' * 101}.[key]"),
            (["a"], "body"),
        ],
    )
    async def test_bad_annotations_are_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        run_id: str,
        body: Any,
        path: str,
    ) -> None:
        response = await client.patch(f"/v1/runs/{run_id}/annotations", json=body, headers=operator)

        assert paths(assert_problem(response, 422, "validation_failed")) == [path]

    async def test_too_many_in_total_is_422(
        self, client: httpx.AsyncClient, operator: dict[str, str], run_id: str
    ) -> None:
        url = f"/v1/runs/{run_id}/annotations"
        await client.patch(url, json={f"a{i}": "v" for i in range(50)}, headers=operator)

        response = await client.patch(url, json={"b": "v"}, headers=operator)

        problem = assert_problem(response, 422, "annotations_invalid")
        assert problem["detail"].startswith("body: a run holds at most 50 annotations")


async def test_the_state_at_a_checkpoint_hides_values_under_sensitive_keys(
    client: httpx.AsyncClient, operator: dict[str, str], viewer: dict[str, str]
) -> None:
    spec = {
        "version": "1",
        "nodes": [{"id": "login", "type": "set", "value": {"user": "ann", "password": "pw-1"}}],
    }
    run = (await client.post("/v1/runs/adhoc", json={"spec": spec}, headers=operator)).json()
    [latest, *_] = (await client.get(f"/v1/runs/{run['id']}/checkpoints", headers=viewer)).json()[
        "items"
    ]

    state = await client.get(
        f"/v1/runs/{run['id']}/checkpoints/{latest['checkpoint_id']}/state", headers=viewer
    )

    assert state.json()["nodes"] == {"login": {"user": "ann", "password": "***"}}
