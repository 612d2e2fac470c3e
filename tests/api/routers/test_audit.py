"""``GET /v1/audit-events``: admins read their tenant's log, newest first, a page at a time."""

from __future__ import annotations

import httpx

from tests.support.api import assert_problem, paths


async def _create(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    response = await client.post("/v1/workflows", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestAuditEvents:
    async def test_admins_page_through_their_tenants_changes_newest_first(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        operator: dict[str, str],
        stranger: dict[str, str],
    ) -> None:
        first = await _create(client, operator, "a")
        second = await _create(client, admin, "b")
        await _create(client, stranger, "elsewhere")

        page = (await client.get("/v1/audit-events", params={"limit": 1}, headers=admin)).json()
        rest = (
            await client.get(
                "/v1/audit-events", params={"cursor": page["next_cursor"]}, headers=admin
            )
        ).json()

        events = page["items"] + rest["items"]
        assert [(e["action"], e["target_id"]) for e in events] == [
            ("workflow.create", second),
            ("workflow.create", first),
        ]
        assert events[0]["actor"] != events[1]["actor"]
        assert rest["next_cursor"] is None

    async def test_only_admins_may_read_it(
        self, client: httpx.AsyncClient, operator: dict[str, str]
    ) -> None:
        assert_problem(await client.get("/v1/audit-events", headers=operator), 403, "forbidden")
        assert_problem(await client.get("/v1/audit-events"), 401, "unauthenticated")

    async def test_a_bad_limit_is_422_naming_it(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        response = await client.get("/v1/audit-events", params={"limit": 0}, headers=admin)
        assert paths(assert_problem(response, 422, "validation_failed")) == ["query.limit"]
