"""Helpers for tests of the HTTP API: key headers and problem documents."""

from __future__ import annotations

from typing import Any

import httpx

from api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE


def bearer(key: str) -> dict[str, str]:
    """Request headers carrying the API key ``key``."""
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check that ``response`` is a problem document of this status and code; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + code
    return body


def paths(problem: dict[str, Any]) -> list[str]:
    """The paths of a validation problem's errors, in order."""
    return [error["path"] for error in problem["errors"]]
