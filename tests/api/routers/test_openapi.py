"""The OpenAPI document is complete (every route documents its answers and problems) and true
(real answers match the documented schema of their status), and bodies are bounded."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from shared.config import Settings
from tests.support.api import assert_problem
from tests.workflow_compiler.lowering.conftest import ProbeTool

SPEC: dict[str, Any] = {
    "version": "1",
    "inputs": {"type": "object", "properties": {"x": {"type": "integer", "default": 2}}},
    "nodes": [
        {"id": "call", "type": "tool", "tool": "probe", "args": {"key": "k", "value": 1}},
        {"id": "ask", "type": "human", "prompt": "ok?", "schema": {"type": "boolean"}},
    ],
    "output": {"answer": "{{ nodes.ask.output }}"},
}

PUBLIC = {("/v1/health", "get")}
"""Operations that need no API key."""

READ_ONLY = {"get"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite:///unused.db"))
    return app.openapi()


class TestCompleteness:
    def test_every_operation_documents_its_answers_and_problems(
        self, document: dict[str, Any]
    ) -> None:
        gaps = []
        for path, method, operation in _operations(document):
            responses = operation["responses"]
            name = f"{method.upper()} {path}"
            if not operation.get("description"):
                gaps.append(f"{name}: no description")
            successes = [code for code in responses if code.startswith("2")]
            if not successes:
                gaps.append(f"{name}: no success response")
            for code in successes:
                content = responses[code].get("content", {})
                if code != "204" and "schema" not in content.get("application/json", {}):
                    gaps.append(f"{name}: {code} has no schema")
            needed = {"500", "503"}
            if (path, method) not in PUBLIC:
                needed |= {"401"}
            if operation.get("parameters") or "requestBody" in operation:
                needed |= {"422"}
            if "requestBody" in operation:
                needed |= {"400", "413"}
            if method not in READ_ONLY and path != "/v1/workflows/validate":
                needed |= {"403"}
            if "{" in path and method != "put":  # a PUT creates what it names: never a 404
                needed |= {"404"}
            gaps.extend(f"{name}: {code} undocumented" for code in sorted(needed - set(responses)))
        assert gaps == []

    def test_every_problem_is_documented_as_problem_json(self, document: dict[str, Any]) -> None:
        for path, method, operation in _operations(document):
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert response["content"] == {
                        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, f"{method} {path} {code}"
        assert "HTTPValidationError" not in document["components"]["schemas"]

    def test_routes_are_authenticated_with_bearer_keys(self, document: dict[str, Any]) -> None:
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        for path, method, operation in _operations(document):
            if (path, method) not in PUBLIC:
                assert operation.get("security") == [{"HTTPBearer": []}], f"{method} {path}"


class _Checker:
    """Checks answers against the schema the document gives their route and status."""

    def __init__(self, app: FastAPI) -> None:
        self.document = app.openapi()
        self.routes = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in self.document["paths"]
        ]
        self.checked: set[tuple[str, str, str]] = set()

    def __call__(self, response: httpx.Response) -> httpx.Response:
        request = response.request
        method = request.method.lower()
        template = next(path for pattern, path in self.routes if pattern.match(request.url.path))
        operation = self.document["paths"][template][method]
        code = str(response.status_code)
        assert code in operation["responses"], f"{method} {template} answered {code}"
        content = operation["responses"][code].get("content")
        if content is not None:
            media_type = response.headers["content-type"].split(";")[0]
            assert media_type in content, f"{method} {template} {code} sent {media_type}"
            schema = {**content[media_type]["schema"], "components": self.document["components"]}
            body = response.text if media_type == "text/event-stream" else response.json()
            Draft202012Validator(schema).validate(body)
        self.checked.add((method, template, code))
        return response


class TestTruth:
    async def test_answers_match_the_documented_schemas(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        viewer: dict[str, str],
        stranger: dict[str, str],
        probe: ProbeTool,
    ) -> None:
        check = _Checker(app)
        workflow = check(
            await client.post("/v1/workflows", json={"name": "w", "spec": SPEC}, headers=admin)
        ).json()
        url = f"/v1/workflows/{workflow['id']}"
        check(await client.get("/v1/workflows", headers=viewer))
        check(await client.get(url, headers=stranger))
        check(await client.patch(url, json={"description": "d"}, headers=admin))
        check(await client.get(f"{url}/draft", headers=viewer))
        check(
            await client.patch(
                f"{url}/draft", json={"spec": SPEC, "base_revision": 9}, headers=admin
            )
        )
        check(await client.post(f"{url}/versions", headers=admin))
        check(await client.post(f"{url}/versions", headers=admin))
        check(await client.get(f"{url}/versions", headers=viewer))
        check(await client.get(f"{url}/versions/1", headers=viewer))
        check(await client.get(f"{url}/versions/1/graph", headers=viewer))
        check(await client.post(f"{url}/runs", json={}, headers=admin))
        check(await client.post(f"{url}/versions/1/publish", headers=admin))
        check(await client.post(f"{url}/versions/1/archive", headers=admin))
        check(await client.post("/v1/workflows/validate", json={"spec": {}}, headers=viewer))
        run = check(await client.post(f"{url}/runs", json={}, headers=admin)).json()
        check(await client.post(f"{url}/runs", json={"inputs": {"x": "two"}}, headers=admin))
        check(await client.post(f"{url}/runs", json={}, headers=viewer))
        check(await client.post(f"{url}/runs", json={}, params={"mode": "async"}, headers=admin))
        check(await client.post("/v1/runs/adhoc", json={"spec": {"nodes": 1}}, headers=admin))
        check(await client.post(f"{url}/runs", json={"stream": True}, headers=admin))
        check(await client.get("/v1/runs", params={"status": "waiting_human"}, headers=viewer))
        check(await client.get("/v1/runs", params={"status": "nope"}, headers=viewer))
        check(await client.get(f"/v1/runs/{run['id']}", headers=viewer))
        check(await client.post(f"/v1/runs/{run['id']}/retry", headers=admin))
        check(
            await client.post(
                f"/v1/runs/{run['id']}/resume", json={"answers": {"ask": 1}}, headers=admin
            )
        )
        check(
            await client.post(
                f"/v1/runs/{run['id']}/resume", json={"answers": {"ask": True}}, headers=admin
            )
        )
        check(await client.post(f"/v1/runs/{run['id']}/rerun", headers=admin))
        check(
            await client.post(
                f"/v1/runs/{run['id']}/replay", json={"checkpoint_id": "x"}, headers=admin
            )
        )
        check(await client.post(f"/v1/runs/{run['id']}/cancel", headers=admin))
        for kind in ("node-types", "tools", "models"):
            check(await client.get(f"/v1/catalog/{kind}", headers=viewer))
        check(await client.get("/v1/health"))
        check(await client.get("/v1/runs"))
        check(
            await client.post(
                "/v1/workflows",
                content=b"{",
                headers={**admin, "content-type": "application/json"},
            )
        )
        check(await client.delete(url, headers=admin))

        statuses = {code for _, _, code in check.checked}
        assert {"200", "201", "202", "204", "400", "401", "403", "404", "409", "422"} <= statuses


class TestBodyLimit:
    @pytest.fixture
    async def small(self, database: str) -> Any:
        app = create_app(
            Settings(database_url=database, migrate_on_start=False, max_request_bytes=1024)
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client

    async def test_a_declared_length_over_the_limit_is_413(self, small: httpx.AsyncClient) -> None:
        body = b'{"name": "' + b"x" * 2000 + b'"}'
        response = await small.post("/v1/workflows", content=body)

        problem = assert_problem(response, 413, "request_too_large")
        assert "1024 bytes" in problem["detail"]

    async def test_a_chunked_body_over_the_limit_is_413(self, small: httpx.AsyncClient) -> None:
        async def chunks() -> Any:
            for _ in range(4):
                yield b"x" * 512

        response = await small.post(
            "/v1/workflows", content=chunks(), headers={"Authorization": "Bearer plait_x"}
        )

        assert_problem(response, 413, "request_too_large")

    async def test_a_body_within_the_limit_goes_through(self, small: httpx.AsyncClient) -> None:
        response = await small.post("/v1/workflows", json={"name": "w"})

        assert_problem(response, 401, "unauthenticated")


class TestMalformedBodies:
    """Every route taking a body answers a 4xx problem to bodies that are not what it takes."""

    BODIES = [
        pytest.param(b"{", 400, id="not-json"),
        pytest.param(b"[]", 422, id="an-array"),
        pytest.param(b'"text"', 422, id="a-string"),
        pytest.param(b'{"unknown_field": 1}', 422, id="an-unknown-field"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, 400, id="nested-100k-deep"),
        pytest.param(b'{"n": ' + b"9" * 5000 + b"}", 400, id="a-5000-digit-number"),
    ]

    @pytest.mark.parametrize(("body", "status"), BODIES)
    async def test_every_body_route_refuses_with_a_problem(
        self,
        document: dict[str, Any],
        client: httpx.AsyncClient,
        admin: dict[str, str],
        body: bytes,
        status: int,
    ) -> None:
        answers = {}
        for path, method, operation in _operations(document):
            if "requestBody" not in operation:
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            response = await client.request(
                method,
                url,
                content=body,
                headers={**admin, "content-type": "application/json"},
            )
            answers[f"{method.upper()} {path}"] = response.status_code
            assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, response.text
        assert set(answers.values()) == {status}, answers
