"""``CurrentPrincipal`` and ``require_role`` on a tiny app with Plait's problem handlers: 401
(with a Bearer challenge) without a valid key, 403 for a role too low, the principal otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from api.deps import CurrentPrincipal, require_role
from api.problems import PROBLEM_TYPE_BASE, install_problem_handlers
from api.services import Principal, create_api_key
from shared.database.models import Role, Tenant


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"tenant_id": principal.tenant_id, "role": principal.role, "key": principal.key_id}

    @app.get("/admin")
    async def admin(
        principal: Annotated[Principal, Depends(require_role(Role.ADMIN))],
    ) -> dict[str, str]:
        return {"key": principal.key_id}

    return app


@pytest.fixture
async def client(database: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _key(role: Role) -> tuple[str, str, str]:
    """A new key of ``role``: its plaintext, its id and its tenant's id."""
    tenant = await Tenant.create(name="acme")
    row, plaintext = await create_api_key(tenant, role, name="test", at=datetime.now(UTC))
    return plaintext, row.id, tenant.id


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestCurrentPrincipal:
    async def test_a_valid_key_names_the_principal(self, client: httpx.AsyncClient) -> None:
        token, key_id, tenant_id = await _key(Role.VIEWER)

        response = await client.get("/me", headers=_bearer(token))

        assert response.status_code == 200
        assert response.json() == {"tenant_id": tenant_id, "role": "viewer", "key": key_id}

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "plait_0123456789ab_secret"},
        ],
    )
    async def test_a_missing_or_malformed_header_is_401(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/me", headers=headers)

        assert response.status_code == 401
        assert response.json()["type"] == PROBLEM_TYPE_BASE + "unauthenticated"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["WWW-Authenticate"] == "Bearer"

    async def test_a_wrong_key_is_401(self, client: httpx.AsyncClient) -> None:
        token, _, _ = await _key(Role.ADMIN)

        response = await client.get("/me", headers=_bearer(token[:-4] + "AAAA"))

        assert response.status_code == 401
        assert response.json()["type"] == PROBLEM_TYPE_BASE + "unauthenticated"
        assert response.headers["content-type"] == "application/problem+json"


class TestRequireRole:
    @pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
    async def test_a_lower_role_is_403(self, client: httpx.AsyncClient, role: Role) -> None:
        token, _, _ = await _key(role)

        response = await client.get("/admin", headers=_bearer(token))

        assert response.status_code == 403
        assert response.json()["type"] == PROBLEM_TYPE_BASE + "forbidden"

    async def test_the_required_role_passes(self, client: httpx.AsyncClient) -> None:
        token, key_id, _ = await _key(Role.ADMIN)

        response = await client.get("/admin", headers=_bearer(token))

        assert response.status_code == 200
        assert response.json() == {"key": key_id}

    async def test_no_key_is_401_before_any_role_check(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/admin")

        assert response.status_code == 401
