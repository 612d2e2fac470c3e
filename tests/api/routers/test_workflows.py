"""``/v1/workflows``: every route's happy path, its documented errors, roles and tenancy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from shared.database.models import AuditEvent
from tests.support.api import assert_problem

AT = datetime(2026, 1, 2, tzinfo=UTC)

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [{"id": "echo", "type": "set", "value": "{{ inputs.text }}"}],
}


@pytest.fixture
async def workflow_id(client: httpx.AsyncClient, operator: dict[str, str]) -> str:
    body = {"name": "triage", "description": "d", "tags": ["support"], "spec": SPEC}
    response = await client.post("/v1/workflows", json=body, headers=operator)
    assert response.status_code == 201, response.text
    return response.json()["id"]


class TestCreateWorkflow:
    async def test_creates_the_workflow_and_its_draft(
        self, client: httpx.AsyncClient, workflow_id: str, viewer: dict[str, str]
    ) -> None:
        response = await client.get(f"/v1/workflows/{workflow_id}", headers=viewer)
        assert response.status_code == 200
        body = response.json()
        assert workflow_id.startswith("wf_")
        assert (body["name"], body["tags"], body["published_version_number"]) == (
            "triage",
            ["support"],
            None,
        )
        draft = (await client.get(f"/v1/workflows/{workflow_id}/draft", headers=viewer)).json()
        assert (draft["revision"], draft["spec"], draft["workflow_id"]) == (1, SPEC, workflow_id)
        assert await AuditEvent.filter(action="workflow.create", target_id=workflow_id).exists()

    async def test_needs_an_api_key(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/workflows", json={"name": "w"})
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_a_viewer_may_not(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.post("/v1/workflows", json={"name": "w"}, headers=viewer)
        assert_problem(response, 403, "forbidden")

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"name": "w", "owner": "me"}, "body.owner"),
            ({"name": 3}, "body.name"),
            ({"name": ""}, "body.name"),
            ({"name": "w", "tags": "a"}, "body.tags"),
            ({"name": "w", "spec": [1]}, "body.spec"),
            ({}, "body.name"),
        ],
    )
    async def test_an_invalid_body_is_422_with_the_path(
        self, client: httpx.AsyncClient, operator: dict[str, str], body: Any, path: str
    ) -> None:
        response = await client.post("/v1/workflows", json=body, headers=operator)
        problem = assert_problem(response, 422, "validation_failed")
        assert path in [error["path"] for error in problem["errors"]]


class TestListWorkflows:
    async def test_pages_newest_first_with_a_cursor(
        self, client: httpx.AsyncClient, operator: dict[str, str], stranger: dict[str, str]
    ) -> None:
        for n in range(3):
            await client.post("/v1/workflows", json={"name": f"w{n}"}, headers=operator)
        await client.post("/v1/workflows", json={"name": "theirs"}, headers=stranger)

        first = (await client.get("/v1/workflows?limit=2", headers=operator)).json()
        cursor = first["next_cursor"]
        second = (
            await client.get(
                "/v1/workflows", params={"limit": 2, "cursor": cursor}, headers=operator
            )
        ).json()

        ids = [w["id"] for w in first["items"] + second["items"]]
        assert len(first["items"]) == 2
        assert second["next_cursor"] is None
        assert ids == sorted(ids, reverse=True)
        assert len(set(ids)) == 3
        assert "theirs" not in {w["name"] for w in first["items"] + second["items"]}

    @pytest.mark.parametrize("limit", ["0", "201", "many"])
    async def test_a_bad_limit_is_422(
        self, client: httpx.AsyncClient, viewer: dict[str, str], limit: str
    ) -> None:
        response = await client.get("/v1/workflows", params={"limit": limit}, headers=viewer)
        problem = assert_problem(response, 422, "validation_failed")
        assert problem["errors"][0]["path"] == "query.limit"


class TestGetWorkflow:
    async def test_unknown_id_is_404(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.get("/v1/workflows/wf_nope", headers=viewer)
        assert_problem(response, 404, "not_found")

    async def test_another_tenants_workflow_is_404_everywhere(
        self, client: httpx.AsyncClient, workflow_id: str, stranger: dict[str, str]
    ) -> None:
        base = f"/v1/workflows/{workflow_id}"
        calls = [
            client.get(base, headers=stranger),
            client.patch(base, json={"name": "x"}, headers=stranger),
            client.delete(base, headers=stranger),
            client.get(f"{base}/draft", headers=stranger),
            client.patch(f"{base}/draft", json={"base_revision": 1, "spec": {}}, headers=stranger),
            client.post(f"{base}/versions", headers=stranger),
            client.get(f"{base}/versions", headers=stranger),
            client.get(f"{base}/versions/1", headers=stranger),
        ]
        for call in calls:
            assert_problem(await call, 404, "not_found")


class TestUpdateWorkflow:
    async def test_changes_only_the_given_fields(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        response = await client.patch(
            f"/v1/workflows/{workflow_id}", json={"tags": ["a", "b"]}, headers=operator
        )
        assert response.status_code == 200
        assert (response.json()["name"], response.json()["tags"]) == ("triage", ["a", "b"])
        assert await AuditEvent.filter(action="workflow.update", target_id=workflow_id).exists()

    async def test_unknown_fields_are_422(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        response = await client.patch(
            f"/v1/workflows/{workflow_id}", json={"published_version_number": 3}, headers=operator
        )
        assert_problem(response, 422, "validation_failed")


class TestDeleteWorkflow:
    async def test_an_admin_deletes_it(
        self, client: httpx.AsyncClient, workflow_id: str, admin: dict[str, str]
    ) -> None:
        response = await client.delete(f"/v1/workflows/{workflow_id}", headers=admin)
        assert response.status_code == 204
        after = await client.get(f"/v1/workflows/{workflow_id}/draft", headers=admin)
        assert_problem(after, 404, "not_found")
        assert await AuditEvent.filter(action="workflow.delete", target_id=workflow_id).exists()

    async def test_an_operator_may_not(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        response = await client.delete(f"/v1/workflows/{workflow_id}", headers=operator)
        assert_problem(response, 403, "forbidden")


class TestUpdateDraft:
    async def test_stores_any_object_and_increments_the_revision(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        response = await client.patch(
            f"/v1/workflows/{workflow_id}/draft",
            json={"base_revision": 1, "spec": {"nodes": "not yet"}},
            headers=operator,
        )
        assert response.status_code == 200
        assert (response.json()["revision"], response.json()["spec"]) == (2, {"nodes": "not yet"})

    async def test_a_stale_revision_is_409(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        url = f"/v1/workflows/{workflow_id}/draft"
        await client.patch(url, json={"base_revision": 1, "spec": {}}, headers=operator)

        response = await client.patch(url, json={"base_revision": 1, "spec": {}}, headers=operator)

        problem = assert_problem(response, 409, "conflict")
        assert "revision 2" in problem["detail"]

    @pytest.mark.parametrize(
        "body",
        [
            {"spec": {}},
            {"base_revision": "one", "spec": {}},
            {"base_revision": 1, "spec": []},
            {"base_revision": 1, "spec": {}, "extra": True},
        ],
    )
    async def test_an_invalid_body_is_422(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str], body: Any
    ) -> None:
        response = await client.patch(
            f"/v1/workflows/{workflow_id}/draft", json=body, headers=operator
        )
        assert_problem(response, 422, "validation_failed")

    async def test_a_spec_nested_too_deeply_to_store_is_422(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        deep = {"a": []}
        for _ in range(300):
            deep = {"a": deep}
        response = await client.patch(
            f"/v1/workflows/{workflow_id}/draft",
            content=json.dumps({"base_revision": 1, "spec": deep}),
            headers={**operator, "Content-Type": "application/json"},
        )
        problem = assert_problem(response, 422, "validation_failed")
        assert problem["errors"][0]["path"] == "body.spec"

    async def test_a_viewer_may_not(
        self, client: httpx.AsyncClient, workflow_id: str, viewer: dict[str, str]
    ) -> None:
        response = await client.patch(
            f"/v1/workflows/{workflow_id}/draft",
            json={"base_revision": 1, "spec": {}},
            headers=viewer,
        )
        assert_problem(response, 403, "forbidden")


class TestVersions:
    async def test_create_then_the_same_spec_returns_the_same_version(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        url = f"/v1/workflows/{workflow_id}/versions"
        created = await client.post(url, headers=operator)
        again = await client.post(url, headers=operator)

        assert (created.status_code, again.status_code) == (201, 200)
        assert again.json() == created.json()
        body = created.json()
        assert (body["version_number"], body["status"], body["created_from_draft_revision"]) == (
            1,
            "draft",
            1,
        )
        assert len(body["spec_hash"]) == 64
        listed = (await client.get(url, headers=operator)).json()
        assert [v["id"] for v in listed] == [body["id"]]
        one = await client.get(f"{url}/1", headers=operator)
        assert one.json() == body

    async def test_an_invalid_draft_is_422_with_every_error_and_its_path(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        bad = {"version": "1", "nodes": [{"id": "a", "type": "set"}, {"id": "a", "type": "set"}]}
        await client.patch(
            f"/v1/workflows/{workflow_id}/draft",
            json={"base_revision": 1, "spec": bad},
            headers=operator,
        )

        response = await client.post(f"/v1/workflows/{workflow_id}/versions", headers=operator)

        problem = assert_problem(response, 422, "spec_invalid")
        paths = [error["path"] for error in problem["errors"]]
        assert paths
        assert all(path.startswith("nodes[") for path in paths)

    async def test_an_unknown_version_is_404_and_a_bad_number_422(
        self, client: httpx.AsyncClient, workflow_id: str, viewer: dict[str, str]
    ) -> None:
        url = f"/v1/workflows/{workflow_id}/versions"
        assert_problem(await client.get(f"{url}/9", headers=viewer), 404, "not_found")
        assert_problem(await client.get(f"{url}/x", headers=viewer), 422, "validation_failed")
        assert_problem(await client.get(f"{url}/0", headers=viewer), 422, "validation_failed")

    async def test_publish_archive_and_graph(
        self, client: httpx.AsyncClient, workflow_id: str, operator: dict[str, str]
    ) -> None:
        url = f"/v1/workflows/{workflow_id}/versions"
        await client.post(url, headers=operator)
        await client.patch(
            f"/v1/workflows/{workflow_id}/draft",
            json={"base_revision": 1, "spec": {**SPEC, "name": "second"}},
            headers=operator,
        )
        await client.post(url, headers=operator)

        published = await client.post(f"{url}/1/publish", headers=operator)
        assert (published.status_code, published.json()["status"]) == (200, "published")
        workflow = (await client.get(f"/v1/workflows/{workflow_id}", headers=operator)).json()
        assert workflow["published_version_number"] == 1

        assert_problem(await client.post(f"{url}/1/archive", headers=operator), 409, "conflict")
        archived = await client.post(f"{url}/2/archive", headers=operator)
        assert archived.json()["status"] == "archived"
        assert_problem(await client.post(f"{url}/2/publish", headers=operator), 409, "conflict")

        graph = await client.get(f"{url}/1/graph", headers=operator)
        assert graph.status_code == 200
        assert "echo" in graph.json()["mermaid"]

    async def test_a_viewer_may_not_publish(
        self,
        client: httpx.AsyncClient,
        workflow_id: str,
        operator: dict[str, str],
        viewer: dict[str, str],
    ) -> None:
        await client.post(f"/v1/workflows/{workflow_id}/versions", headers=operator)
        response = await client.post(
            f"/v1/workflows/{workflow_id}/versions/1/publish", headers=viewer
        )
        assert_problem(response, 403, "forbidden")


class TestValidate:
    async def test_a_valid_spec_is_ok(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.post("/v1/workflows/validate", json={"spec": SPEC}, headers=viewer)
        assert response.status_code == 200
        assert response.json() == {"ok": True, "errors": [], "warnings": []}

    @pytest.mark.parametrize(
        "spec",
        [None, 1, "text", [1, 2], {}, {"version": "1", "nodes": [{"id": "a", "type": "nope"}]}],
    )
    async def test_any_json_is_judged_never_500(
        self, client: httpx.AsyncClient, viewer: dict[str, str], spec: Any
    ) -> None:
        response = await client.post("/v1/workflows/validate", json={"spec": spec}, headers=viewer)
        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is False
        assert all({"path", "message"} == set(error) for error in body["errors"])
        assert body["errors"]

    async def test_a_body_without_spec_is_422(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        response = await client.post("/v1/workflows/validate", json={"specs": {}}, headers=viewer)
        assert_problem(response, 422, "validation_failed")
