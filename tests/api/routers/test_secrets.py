"""``/v1/secrets``: admins write, operators list, nobody ever reads a value back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.services.secrets import MAX_DESCRIPTION_LENGTH, MAX_VALUE_LENGTH
from shared.crypto import SecretBox, open_secret_box
from shared.database.models import AuditEvent, Secret
from tests.support.api import assert_problem, paths

VALUE = "sk-live-Very-S3cret-9f8e7d"


@pytest.fixture
async def box(app: FastAPI) -> SecretBox:
    """The app's box, opened on the test's database with the key file in ``data_dir``, as
    the app's start-up opens it."""
    box = app.state.secret_box = await open_secret_box(app.state.settings)
    return box


@pytest.fixture
def env_secrets(app: FastAPI) -> tuple[str, ...]:
    """The names the server's operator opens to ``env`` secrets (``PLAIT_ENV_SECRETS``)."""
    names = ("HOOK", "A")
    app.state.settings = app.state.settings.model_copy(update={"env_secrets": names})
    return names


async def _put(
    client: httpx.AsyncClient, name: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await client.put(f"/v1/secrets/{name}", json=body, headers=headers)


class TestPut:
    async def test_creates_then_replaces_never_echoing_the_value(
        self, client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox
    ) -> None:
        created = await _put(
            client, "API_TOKEN", {"value": VALUE, "description": "for the hook"}, admin
        )
        replaced = await _put(client, "API_TOKEN", {"value": VALUE + "2"}, admin)

        assert created.status_code == 201, created.text
        body = created.json()
        assert set(body) == {
            "name",
            "provider",
            "description",
            "created_at",
            "updated_at",
            "last_used_at",
        }
        assert (body["name"], body["provider"], body["description"]) == (
            "API_TOKEN",
            "local",
            "for the hook",
        )
        assert body["last_used_at"] is None
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["description"] == "for the hook"
        for response in (created, replaced):
            assert VALUE not in response.text
        stored = await Secret.get(name="API_TOKEN")
        assert stored.ciphertext is not None
        assert box.decrypt(stored.ciphertext) == VALUE + "2"

    async def test_an_env_secret_takes_no_value(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        box: SecretBox,
        env_secrets: tuple[str, ...],
    ) -> None:
        response = await _put(client, "HOOK", {"provider": "env"}, admin)

        assert response.status_code == 201, response.text
        assert response.json()["provider"] == "env"

    @pytest.mark.parametrize("name", ["CLI_TOKEN", "hook"])
    async def test_an_env_secret_the_operator_did_not_list_is_refused(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        box: SecretBox,
        env_secrets: tuple[str, ...],
        name: str,
    ) -> None:
        response = await _put(client, name, {"provider": "env"}, admin)

        problem = assert_problem(response, 422, "secret_invalid")
        assert f"'{name}'" in problem["detail"]
        assert "PLAIT_ENV_SECRETS does not list it" in problem["detail"]
        assert await Secret.all().count() == 0

    async def test_no_env_secret_unless_the_operator_lists_names(
        self, client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox
    ) -> None:
        response = await _put(client, "HOOK", {"provider": "env"}, admin)

        assert "PLAIT_ENV_SECRETS" in assert_problem(response, 422, "secret_invalid")["detail"]

    async def test_the_keys_setting_cannot_be_an_env_secret(
        self, client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox
    ) -> None:
        response = await _put(client, "KEYS", {"provider": "env"}, admin)

        problem = assert_problem(response, 422, "secret_invalid")
        assert "PLAIT_SECRET_KEYS" in problem["detail"]

    @pytest.mark.parametrize("name", ["1ABC", "A-B", "A.B", "A B", "é", "A" * 129, "secrets.A"])
    async def test_a_name_specs_cannot_read_is_refused(
        self, client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox, name: str
    ) -> None:
        response = await _put(client, name, {"value": VALUE}, admin)

        assert paths(assert_problem(response, 422, "validation_failed")) == ["path.name"]
        assert VALUE not in response.text
        assert await Secret.all().count() == 0

    async def test_the_longest_name_is_accepted(
        self, client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox
    ) -> None:
        response = await _put(client, "_" + "a" * 127, {"value": VALUE}, admin)

        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"value": ""}, "body.value"),
            ({"value": "x" * (MAX_VALUE_LENGTH + 1)}, "body.value"),
            ({"value": 12345}, "body.value"),
            ({"value": ["a"]}, "body.value"),
            (
                {"value": VALUE, "description": "d" * (MAX_DESCRIPTION_LENGTH + 1)},
                "body.description",
            ),
            ({"value": VALUE, "description": 5}, "body.description"),
            ({"value": VALUE, "provider": "vault"}, "body.provider"),
            ({"value": VALUE, "extra": 1}, "body.extra"),
            ({}, "body"),
            ({"provider": "env", "value": VALUE}, "body"),
            ([VALUE], "body"),
        ],
    )
    async def test_a_bad_body_names_the_field_and_never_echoes_the_value(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        box: SecretBox,
        body: Any,
        path: str,
    ) -> None:
        response = await _put(client, "A", body, admin)

        assert paths(assert_problem(response, 422, "validation_failed")) == [path]
        assert VALUE not in response.text
        assert await Secret.all().count() == 0

    async def test_the_longest_value_is_accepted(
        self, client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox
    ) -> None:
        response = await _put(client, "A", {"value": "x" * MAX_VALUE_LENGTH}, admin)

        assert response.status_code == 201, response.text

    async def test_operators_and_viewers_may_not_write(
        self,
        client: httpx.AsyncClient,
        operator: dict[str, str],
        viewer: dict[str, str],
        box: SecretBox,
    ) -> None:
        for headers in (operator, viewer):
            assert_problem(await _put(client, "A", {"value": VALUE}, headers), 403, "forbidden")
        assert_problem(await _put(client, "A", {"value": VALUE}, {}), 401, "unauthenticated")
        assert await Secret.all().count() == 0


class TestList:
    async def test_operators_list_their_tenants_secrets_without_values(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        operator: dict[str, str],
        stranger: dict[str, str],
        box: SecretBox,
        env_secrets: tuple[str, ...],
    ) -> None:
        await _put(client, "B", {"value": VALUE}, admin)
        await _put(client, "A", {"provider": "env", "description": "from env"}, admin)
        await _put(client, "FOREIGN", {"value": VALUE}, stranger)

        for headers in (operator, admin):
            response = await client.get("/v1/secrets", headers=headers)
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            assert [(i["name"], i["provider"], i["description"]) for i in items] == [
                ("A", "env", "from env"),
                ("B", "local", ""),
            ]
            assert VALUE not in response.text
            assert "ciphertext" not in response.text

    async def test_viewers_and_strangers_to_the_api(
        self, client: httpx.AsyncClient, viewer: dict[str, str], box: SecretBox
    ) -> None:
        assert_problem(await client.get("/v1/secrets", headers=viewer), 403, "forbidden")
        assert_problem(await client.get("/v1/secrets"), 401, "unauthenticated")


class TestDelete:
    async def test_deletes_then_answers_not_found(
        self, client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox
    ) -> None:
        await _put(client, "A", {"value": VALUE}, admin)

        deleted = await client.delete("/v1/secrets/A", headers=admin)
        again = await client.delete("/v1/secrets/A", headers=admin)

        assert deleted.status_code == 204
        assert deleted.content == b""
        assert "'A'" in assert_problem(again, 404, "not_found")["detail"]
        assert await Secret.all().count() == 0

    async def test_another_tenants_secret_is_not_found(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        stranger: dict[str, str],
        box: SecretBox,
    ) -> None:
        await _put(client, "A", {"value": VALUE}, admin)

        assert_problem(await client.delete("/v1/secrets/A", headers=stranger), 404, "not_found")
        assert await Secret.all().count() == 1

    async def test_only_admins_delete(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        operator: dict[str, str],
        viewer: dict[str, str],
        box: SecretBox,
    ) -> None:
        await _put(client, "A", {"value": VALUE}, admin)

        for headers in (operator, viewer):
            assert_problem(await client.delete("/v1/secrets/A", headers=headers), 403, "forbidden")
        assert_problem(await client.delete("/v1/secrets/A"), 401, "unauthenticated")
        assert_problem(
            await client.delete("/v1/secrets/1A", headers=admin), 422, "validation_failed"
        )
        assert await Secret.all().count() == 1


async def test_the_value_is_in_no_answer_and_no_audit_event(
    client: httpx.AsyncClient, admin: dict[str, str], box: SecretBox
) -> None:
    answers = [
        await _put(client, "A", {"value": VALUE, "description": "d"}, admin),
        await _put(client, "A", {"value": VALUE}, admin),
        await client.get("/v1/secrets", headers=admin),
        await client.delete("/v1/secrets/A", headers=admin),
        await client.get("/v1/audit-events", headers=admin),
    ]

    assert [a.status_code for a in answers] == [201, 200, 200, 204, 200]
    audit = await AuditEvent.all().order_by("id")
    assert [e.action for e in audit] == ["secret.create", "secret.update", "secret.delete"]
    assert len(answers[-1].json()["items"]) == 3
    assert all(VALUE not in a.text for a in answers)
    assert all(VALUE not in repr(e.data) for e in audit)


class TestEnvSecretsInRuns:
    """The app hands its runs ``PLAIT_ENV_SECRETS``: a listed ``env`` secret is read from the
    environment, one the operator has since unlisted is missing."""

    SPEC: dict[str, Any] = {
        "version": "1",
        "nodes": [{"id": "hook", "type": "set", "value": "{{ secrets.HOOK }}"}],
    }

    @pytest.fixture(autouse=True)
    async def _hook(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        env_secrets: tuple[str, ...],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("PLAIT_SECRET_HOOK", "from-the-environment")
        response = await _put(client, "HOOK", {"provider": "env"}, admin)
        assert response.status_code == 201, response.text

    async def test_a_run_reads_a_listed_env_secret(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        run = await client.post("/v1/runs/adhoc", json={"spec": self.SPEC}, headers=admin)

        assert run.json()["status"] == "completed", run.text
        assert run.json()["outputs"] == "***"

    async def test_a_run_fails_on_an_env_secret_no_longer_listed(
        self, app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        app.state.settings = app.state.settings.model_copy(update={"env_secrets": ("A",)})

        run = await client.post("/v1/runs/adhoc", json={"spec": self.SPEC}, headers=admin)

        assert run.json()["status"] == "failed", run.text
        assert run.json()["error"]["kind"] == "secret_missing"
        assert "PLAIT_ENV_SECRETS does not list it" in run.json()["error"]["message"]
