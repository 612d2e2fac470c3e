"""Every error the API answers is an RFC 7807 problem with the right status and code."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict
from tortoise.exceptions import OperationalError

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from shared.config import Settings
from shared.database import DatabaseUnavailableError
from shared.errors import ConflictError, NotFoundError, PermissionDeniedError, PlaitError
from shared.redaction import Redactor
from workflow_compiler.errors import CheckIssue, InputsInvalidError, SpecInvalidError

_SECRET_TEXT = "password=hunter2 in SELECT * FROM secrets"

_REMEMBERED = "sk-live-4f9a2c"
"""A secret value the app's redactor remembers."""

_RAISED: dict[str, Exception] = {
    "not-found": NotFoundError("workflow wf_1 not found"),
    "conflict": ConflictError("draft revision 3 is stale; the current one is 4"),
    "forbidden": PermissionDeniedError("viewers cannot create workflows"),
    "spec-invalid": SpecInvalidError(
        [
            CheckIssue(path="nodes[0].prompt", message="unknown variable 'x'"),
            CheckIssue(path="nodes[1].id", message="duplicate id 'a'"),
            CheckIssue(path="nodes[2]", message="unreachable", severity="warning"),
        ]
    ),
    "inputs-invalid": InputsInvalidError(
        [CheckIssue(path="inputs.text", message="'text' is a required property")]
    ),
    "database-unavailable": DatabaseUnavailableError("cannot connect"),
    "database-locked": OperationalError(sqlite3.OperationalError("database is locked")),
    "connection-lost": ConnectionRefusedError(_SECRET_TEXT),
    "other-operational": OperationalError(sqlite3.OperationalError(_SECRET_TEXT)),
    "unmapped-plait-error": PlaitError(_SECRET_TEXT),
    "bug": RuntimeError(_SECRET_TEXT),
    "remembered-not-found": NotFoundError(f"no provider with key {_REMEMBERED}"),
    "remembered-inputs-invalid": InputsInvalidError(
        [CheckIssue(path="inputs.key", message=f"'{_REMEMBERED}' is not an email")]
    ),
    "remembered-http": HTTPException(status_code=400, detail=f"bad header {_REMEMBERED}"),
}


class _ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    count: int
    tags: list[str] = []


def _test_router() -> APIRouter:
    router = APIRouter(prefix="/test")

    @router.get("/raise/{kind}")
    async def raise_error(kind: str) -> None:
        raise _RAISED[kind]

    @router.post("/items")
    async def create_item(item: _ItemCreate, limit: int = 10) -> dict[str, int]:
        return {"count": item.count, "limit": limit}

    return router


@asynccontextmanager
async def _serving(database: str, redactor: Redactor | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with the test routes, its redactor replaced by ``redactor``."""
    app: FastAPI = create_app(Settings(database_url=database, migrate_on_start=False))
    app.include_router(_test_router(), prefix="/v1")
    app.state.redactor = redactor
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def client(database: str) -> AsyncIterator[httpx.AsyncClient]:
    async with _serving(database, None) as client:
        yield client


@pytest.fixture
async def redacting_client(database: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app, its redactor remembering ``_REMEMBERED``."""
    redactor = Redactor()
    redactor.remember([_REMEMBERED])
    async with _serving(database, redactor) as client:
        yield client


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + code
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


class TestRoutingProblems:
    async def test_unknown_route_is_404(self, client: httpx.AsyncClient) -> None:
        body = _problem(await client.get("/v1/nothing-here"), 404, "not_found")
        assert body["detail"] == "Nothing is served at /v1/nothing-here."
        assert "errors" not in body

    async def test_wrong_method_is_405_with_allow(self, client: httpx.AsyncClient) -> None:
        response = await client.delete("/v1/health")
        body = _problem(response, 405, "method_not_allowed")
        assert body["detail"] == "DELETE is not allowed on /v1/health."
        assert response.headers["allow"] == "GET"


class TestDomainProblems:
    @pytest.mark.parametrize(
        ("kind", "status", "code"),
        [
            ("not-found", 404, "not_found"),
            ("conflict", 409, "conflict"),
            ("forbidden", 403, "forbidden"),
            ("database-unavailable", 503, "database_unavailable"),
        ],
    )
    async def test_code_maps_to_status(
        self, client: httpx.AsyncClient, kind: str, status: int, code: str
    ) -> None:
        body = _problem(await client.get(f"/v1/test/raise/{kind}"), status, code)
        assert body["detail"] == str(_RAISED[kind])

    async def test_spec_invalid_lists_every_error(self, client: httpx.AsyncClient) -> None:
        body = _problem(await client.get("/v1/test/raise/spec-invalid"), 422, "spec_invalid")
        assert body["errors"] == [
            {"path": "nodes[0].prompt", "message": "unknown variable 'x'"},
            {"path": "nodes[1].id", "message": "duplicate id 'a'"},
        ]

    async def test_inputs_invalid_lists_paths(self, client: httpx.AsyncClient) -> None:
        body = _problem(await client.get("/v1/test/raise/inputs-invalid"), 422, "inputs_invalid")
        assert body["errors"] == [
            {"path": "inputs.text", "message": "'text' is a required property"}
        ]

    async def test_database_unavailable_asks_to_retry(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/test/raise/database-unavailable")
        assert response.headers["retry-after"] == "1"


class TestDatabaseProblems:
    async def test_locked_sqlite_is_503(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/test/raise/database-locked")
        _problem(response, 503, "database_locked")
        assert response.headers["retry-after"] == "1"

    async def test_lost_connection_is_503_without_its_text(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/test/raise/connection-lost")
        _problem(response, 503, "database_unavailable")
        assert "hunter2" not in response.text


class TestInternalErrors:
    @pytest.mark.parametrize("kind", ["bug", "other-operational", "unmapped-plait-error"])
    async def test_500_hides_the_exception_and_logs_it(
        self, client: httpx.AsyncClient, kind: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR, logger="api.problems"):
            response = await client.get(f"/v1/test/raise/{kind}")
        body = _problem(response, 500, "internal_error")
        assert "hunter2" not in response.text
        assert "SELECT" not in response.text
        assert body["detail"] == (
            "The server failed to handle this request. The failure has been logged."
        )
        [record] = [r for r in caplog.records if r.name == "api.problems"]
        assert record.exc_info is not None
        assert record.exc_info[1] is _RAISED[kind]


class TestRequestValidationProblems:
    async def test_valid_request_passes(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/test/items?limit=3", json={"name": "a", "count": 2, "tags": ["x"]}
        )
        assert response.status_code == 200
        assert response.json() == {"count": 2, "limit": 3}

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/test/items",
            content=b'{"name": "a", "count": ',
            headers={"content-type": "application/json"},
        )
        body = _problem(response, 400, "malformed_json")
        assert str(body["detail"]).startswith("Invalid JSON at character ")
        assert "errors" not in body

    async def test_wrong_types_list_every_path(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/test/items?limit=many",
            json={"name": 5, "count": "two", "tags": ["ok", 7], "colour": "red"},
        )
        body = _problem(response, 422, "validation_failed")
        errors = body["errors"]
        assert isinstance(errors, list)
        paths = [error["path"] for error in errors]
        assert sorted(paths) == sorted(
            ["body.name", "body.count", "body.tags[1]", "body.colour", "query.limit"]
        )
        assert all(error["message"] for error in errors)

    async def test_missing_body_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/test/items", json={"name": "a"})
        body = _problem(response, 422, "validation_failed")
        assert body["errors"] == [{"path": "body.count", "message": "Field required"}]


class TestRedaction:
    @pytest.mark.parametrize(
        ("kind", "status", "code", "detail"),
        [
            ("remembered-not-found", 404, "not_found", "no provider with key ***"),
            ("remembered-http", 400, "bad_request", "bad header ***"),
        ],
    )
    async def test_a_remembered_value_is_masked_in_the_detail(
        self, redacting_client: httpx.AsyncClient, kind: str, status: int, code: str, detail: str
    ) -> None:
        response = await redacting_client.get(f"/v1/test/raise/{kind}")

        assert _problem(response, status, code)["detail"] == detail

    async def test_a_remembered_value_is_masked_in_field_errors(
        self, redacting_client: httpx.AsyncClient
    ) -> None:
        response = await redacting_client.get("/v1/test/raise/remembered-inputs-invalid")

        body = _problem(response, 422, "inputs_invalid")
        assert body["errors"] == [{"path": "inputs.key", "message": "'***' is not an email"}]

    async def test_a_remembered_value_is_masked_in_a_request_field_path(
        self, redacting_client: httpx.AsyncClient
    ) -> None:
        response = await redacting_client.post(
            "/v1/test/items", json={"name": "a", "count": 1, _REMEMBERED: True}
        )

        body = _problem(response, 422, "validation_failed")
        assert [error["path"] for error in body["errors"]] == ["body.***"]
        assert _REMEMBERED not in response.text

    async def test_an_app_without_a_redactor_answers_as_raised(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/v1/test/raise/remembered-not-found")

        body = _problem(response, 404, "not_found")
        assert body["detail"] == f"no provider with key {_REMEMBERED}"
