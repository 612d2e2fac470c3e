"""The OpenAPI document, made true about errors: every error response is a problem.

FastAPI documents the request-validation 422 with its own ``HTTPValidationError`` body and the
problems a route declares as ``application/json``; neither is what the API sends. This module
rewrites the generated document once, so that every 4xx/5xx response of every operation is an
``application/problem+json`` ``Problem``, and adds the responses any route can give: 503 when
the database is unavailable or busy, 500 for an unexpected failure, and for a route taking a
body 400 (not JSON) and 413 (too large).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_MEDIA_TYPE

__all__ = ["install_openapi"]

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

_EVERY_ROUTE = {
    "500": "An unexpected failure; the detail is fixed and the cause is in the server's log.",
    "503": "The database is unavailable or busy; retry after `Retry-After` seconds.",
}

_WITH_A_BODY = {
    "400": "The body is not valid JSON.",
    "413": "The body is larger than the server accepts (`PLAIT_MAX_REQUEST_BYTES`).",
}

_REQUEST_INVALID = (
    "The request is invalid (malformed JSON, a wrong type, an unknown field, a value out of "
    "range); `errors` lists every invalid field with its path."
)

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the rewritten document (built on first use, then kept)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            app.openapi_schema = _with_problems(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_problems(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses: dict[str, Any] = operation["responses"]
            added = _EVERY_ROUTE | (_WITH_A_BODY if "requestBody" in operation else {})
            for code, description in added.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if int(code) < 400:
                    continue
                if code == "422" and response.get("description") == "Validation Error":
                    response["description"] = _REQUEST_INVALID
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document
