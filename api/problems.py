"""Every error the API answers, as one RFC 7807 ``application/problem+json`` body.

One table turns a failure into a problem: the ``code`` of a ``PlaitError`` picks the status
(``_DOMAIN_PROBLEMS``), and the framework's own failures (a body that is not JSON, a field of
the wrong type, an unknown route, a wrong method) get codes of their own. Each problem's
``type`` is ``PROBLEM_TYPE_BASE + code``, the docs page of that code, so a client can branch on
``type`` (or on the code at its end) and a person can follow the link.

Anything else is a bug: it is logged with its traceback and answered 500 ``internal_error``
with a fixed detail, never the exception's text (it may hold a query, a path or a secret).
A database that is down, or a SQLite database locked by another writer, is 503: retrying later
may work.

A detail or a field message may quote what a request or a run held: when the app has a
``Redactor`` (``app.state.redactor``), every secret value it remembers is masked in them before
the problem is sent.

``install_problem_handlers(app)`` registers the whole table; routers only raise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise.exceptions import DBConnectionError, OperationalError

from shared.errors import PlaitError
from shared.redaction import Redactor
from workflow_compiler.errors import CheckIssue, InputsInvalidError, SpecInvalidError

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "Problem",
    "ProblemFieldError",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
]

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://plait.dev/problems/"
"""Each problem's ``type`` is this followed by its code: the docs page for that code."""

PROBLEM_MEDIA_TYPE = "application/problem+json"

_RETRY_AFTER_S = "1"
"""``Retry-After`` on 503s: a locked SQLite database or a restarting server is usually back
within a second."""

_INTERNAL_DETAIL = "The server failed to handle this request. The failure has been logged."


class ProblemFieldError(BaseModel):
    """One invalid part of a request: where it is and what is wrong with it."""

    path: str
    """Dotted path, e.g. ``body.nodes[1].prompt`` or ``query.limit``."""
    message: str


class Problem(BaseModel):
    """An RFC 7807 problem, the body of every error response."""

    model_config = ConfigDict(extra="forbid")

    type: str
    """``PROBLEM_TYPE_BASE`` + the stable code, e.g. ``https://plait.dev/problems/not_found``."""
    title: str
    """Short summary of the kind of problem; the same for every problem with this code."""
    status: int
    detail: str
    """What went wrong with this request, for a person."""
    errors: list[ProblemFieldError] | None = None
    """Every invalid field, for validation problems; absent otherwise."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _ProblemKind:
    status: int
    title: str


_DOMAIN_PROBLEMS: Mapping[str, _ProblemKind] = {
    "spec_invalid": _ProblemKind(status=422, title="The spec is invalid"),
    "inputs_invalid": _ProblemKind(status=422, title="The run inputs are invalid"),
    "answer_invalid": _ProblemKind(status=422, title="The answers are invalid"),
    "state_patch_invalid": _ProblemKind(status=422, title="The state patch is invalid"),
    "annotations_invalid": _ProblemKind(status=422, title="The annotations are invalid"),
    "secret_invalid": _ProblemKind(status=422, title="The secret is invalid"),
    "unauthenticated": _ProblemKind(status=401, title="A valid API key is required"),
    "not_found": _ProblemKind(status=404, title="Not found"),
    "conflict": _ProblemKind(status=409, title="Conflict with the current state"),
    "forbidden": _ProblemKind(status=403, title="Not allowed for this role"),
    "database_unavailable": _ProblemKind(status=503, title="The database is unavailable"),
}
"""``PlaitError.code`` → its problem. A code missing here is answered as an internal error."""

_DATABASE_LOCKED = _ProblemKind(status=503, title="The database is busy")
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    DBConnectionError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
)
"""Foreign exceptions meaning the database went away while the app was running."""


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Sequence[ProblemFieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> JSONResponse:
    """The ``application/problem+json`` response for one problem.

    Args:
        redactor: Masks the secret values it remembers in ``detail`` and in each error's
            ``path`` (a key of the request may be one) and ``message``.
    """
    if redactor is not None:
        detail = redactor.text(detail)
        if errors is not None:
            errors = [
                ProblemFieldError(
                    path=redactor.text(error.path), message=redactor.text(error.message)
                )
                for error in errors
            ]
    problem = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        headers=dict(headers) if headers else None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def problem_responses(
    descriptions: Mapping[int, str], *codes: int
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: each problem status in ``codes``, with what it means there."""
    return {code: {"model": Problem, "description": descriptions[code]} for code in codes}


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handler table on ``app``: every error becomes a problem response."""
    app.add_exception_handler(RequestValidationError, _request_validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(PlaitError, _plait_problem)
    app.add_exception_handler(OperationalError, _operational_problem)
    for error in _CONNECTION_ERRORS:
        app.add_exception_handler(error, _connection_problem)
    app.add_middleware(_InternalErrorMiddleware)


async def _request_validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(
            status=400,
            code="malformed_json",
            title="The request body is not valid JSON",
            detail="; ".join(_json_error_text(error) for error in errors),
            redactor=_redactor(request),
        )
    return problem_response(
        status=422,
        code="validation_failed",
        title="The request is invalid",
        detail=f"{len(errors)} invalid field(s) in the request.",
        errors=[
            ProblemFieldError(path=_loc_path(error.get("loc", ())), message=error["msg"])
            for error in errors
        ],
        redactor=_redactor(request),
    )


async def _http_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else status.phrase
    if detail == status.phrase:
        detail = _default_http_detail(request, status)
    return problem_response(
        status=status.value,
        code=status.name.lower(),
        title=status.phrase,
        detail=detail,
        headers=exc.headers,
        redactor=_redactor(request),
    )


async def _plait_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlaitError)
    kind = _DOMAIN_PROBLEMS.get(exc.code)
    if kind is None:
        return _internal_problem(request, exc)
    issues = exc.issues if isinstance(exc, SpecInvalidError | InputsInvalidError) else None
    return problem_response(
        status=kind.status,
        code=exc.code,
        title=kind.title,
        detail=exc.message,
        errors=_issue_errors(issues) if issues is not None else None,
        headers=_challenge(kind.status) or _retry_after(kind.status),
        redactor=_redactor(request),
    )


def _redactor(request: Request) -> Redactor | None:
    """The caller's tenant's view of the app's redactor (the process's own values only when
    the caller is unknown: masking another tenant's values would confirm guesses of them).
    Apps built without one (some tests) answer unredacted."""
    redactor: Redactor | None = getattr(request.app.state, "redactor", None)
    if redactor is None:
        return None
    return redactor.for_tenant(getattr(request.state, "tenant_id", None))


def _challenge(status: int) -> dict[str, str] | None:
    """RFC 6750: a 401 says which scheme to authenticate with."""
    return {"WWW-Authenticate": "Bearer"} if status == HTTPStatus.UNAUTHORIZED else None


async def _operational_problem(request: Request, exc: Exception) -> JSONResponse:
    """SQLite reports a write lock it waited too long for as an operational error."""
    if "database is locked" not in str(exc):
        return _internal_problem(request, exc)
    logger.warning("%s %s: the database is locked", request.method, request.url.path)
    return problem_response(
        status=_DATABASE_LOCKED.status,
        code="database_locked",
        title=_DATABASE_LOCKED.title,
        detail="Another writer holds the database lock; retry shortly.",
        headers=_retry_after(_DATABASE_LOCKED.status),
    )


async def _connection_problem(request: Request, exc: Exception) -> JSONResponse:
    logger.warning(
        "%s %s: lost the database: %s", request.method, request.url.path, type(exc).__name__
    )
    kind = _DOMAIN_PROBLEMS["database_unavailable"]
    return problem_response(
        status=kind.status,
        code="database_unavailable",
        title=kind.title,
        detail="The database cannot be reached; retry shortly.",
        headers=_retry_after(kind.status),
    )


def _internal_problem(request: Request | None, exc: BaseException) -> JSONResponse:
    where = f"{request.method} {request.url.path}" if request is not None else "request"
    logger.error("%s failed", where, exc_info=exc)
    return problem_response(
        status=500, code="internal_error", title="Internal server error", detail=_INTERNAL_DETAIL
    )


class _InternalErrorMiddleware:
    """Answers an exception no handler took with a 500 problem, and logs it once.

    Starlette's own 500 handler re-raises after answering (so the server logs the traceback a
    second time, and test transports raise); this middleware sits inside it and ends the
    request here. A response already under way (a stream) cannot be replaced: then the
    exception goes on up.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, send_tracking)
        except Exception as exc:
            if started:
                raise
            await _internal_problem(Request(scope), exc)(scope, receive, send)


def _loc_path(loc: Sequence[Any]) -> str:
    """``("body", "nodes", 1, "prompt")`` → ``body.nodes[1].prompt``, the spec's path style."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _json_error_text(error: Mapping[str, Any]) -> str:
    position = error.get("loc", ())[-1:]
    at = f" at character {position[0]}" if position and isinstance(position[0], int) else ""
    reason = error.get("ctx", {}).get("error", error["msg"])
    return f"Invalid JSON{at}: {reason}"


def _issue_errors(issues: Sequence[CheckIssue]) -> list[ProblemFieldError]:
    """Every error-severity issue, with the path into the spec or the inputs."""
    return [
        ProblemFieldError(path=issue.path, message=issue.message)
        for issue in issues
        if issue.severity == "error"
    ]


def _default_http_detail(request: Request, status: HTTPStatus) -> str:
    target = f"{request.method} {request.url.path}"
    if status == HTTPStatus.NOT_FOUND:
        return f"Nothing is served at {request.url.path}."
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        return f"{request.method} is not allowed on {request.url.path}."
    return f"{target}: {status.description}"


def _retry_after(status: int) -> dict[str, str] | None:
    return {"Retry-After": _RETRY_AFTER_S} if status == HTTPStatus.SERVICE_UNAVAILABLE else None
