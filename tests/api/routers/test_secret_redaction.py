"""A secret used by a run is nowhere in what the run left behind: not in any table (checkpoint
blobs decoded), not in the logs, not in the event stream, not in any API answer about the run.

One node echoes the secret in its output; another sends it in a header to an endpoint that
answers it back in its body; a third, which never read it, fetches it from where it was stored.
The scan then looks for the plaintext everywhere. A second test checks that another tenant's
data is not masked with this tenant's secret (which would let it test guesses).

Needs the secrets API (``PUT /v1/secrets/{name}``) and the app's wiring of ``TenantSecrets`` and
the ``Redactor`` (issue 6); it fails at the ``PUT`` until they exist. The app of the route
tests (``conftest.app``) should keep its key file in ``tmp_path`` (``data_dir``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from tortoise import Tortoise

from shared.database.checkpointer import TortoiseSaver
from shared.database.connection import APP_LABEL
from shared.database.models.checkpoints import CheckpointBlob, CheckpointRecord, CheckpointWrite

SECRET = "plait-e2e-s3cr3t-7Qx9"
"""The secret's plaintext: it must not be found anywhere."""

ECHO_URL = "https://echo.test/whoami"
STORED_URL = "https://echo.test/stored"
"""Answers the secret in its body to a node that never read it (it was stored there before)."""

SPEC: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "echo", "type": "set", "value": "echo {{ secrets.API_TOKEN }}"},
        {
            "id": "call",
            "type": "tool",
            "tool": "http_request",
            "args": {
                "url": ECHO_URL,
                "headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}"},
            },
        },
        {"id": "fetch", "type": "tool", "tool": "http_request", "args": {"url": STORED_URL}},
    ],
    "output": {
        "echo": "{{ nodes.echo.output }}",
        "call": "{{ nodes.call.output }}",
        "fetch": "{{ nodes.fetch.output.json }}",
    },
}


@pytest.fixture
def echo_server() -> Iterator[respx.Route]:
    """An endpoint that answers the ``Authorization`` header it got back in its body."""
    with respx.mock(assert_all_called=True) as router:
        router.get(STORED_URL).mock(return_value=httpx.Response(200, json={"stored": SECRET}))
        yield router.get(ECHO_URL).mock(
            side_effect=lambda request: httpx.Response(
                200, json={"you_sent": request.headers["Authorization"]}
            )
        )


async def _database_text() -> str:
    """Every row of every table, checkpoints decoded with the checkpointer's serializer."""
    serde = TortoiseSaver().serde
    texts = [repr(await model.all().values()) for model in Tortoise.apps[APP_LABEL].values()]
    texts += [
        repr(serde.loads_typed((row.type, row.checkpoint))) for row in await CheckpointRecord.all()
    ]
    texts += [
        repr(serde.loads_typed((row.type, row.blob)))
        for row in await CheckpointBlob.all()
        if row.blob is not None
    ]
    texts += [repr(serde.loads_typed((row.type, row.blob))) for row in await CheckpointWrite.all()]
    return "\n".join(texts)


async def _answers_about(client: httpx.AsyncClient, run_id: str, headers: dict[str, str]) -> str:
    """The body of every read of the run the API offers, the SSE stream included."""
    reads = [
        f"/v1/runs/{run_id}",
        f"/v1/runs/{run_id}/steps",
        f"/v1/runs/{run_id}/events",
        f"/v1/runs/{run_id}/checkpoints",
        "/v1/runs",
        "/v1/secrets",
    ]
    bodies = []
    for path in reads:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        bodies.append(response.text)
    checkpoints = json.loads(bodies[3])["items"]
    assert checkpoints
    for checkpoint in checkpoints:
        state = await client.get(
            f"/v1/runs/{run_id}/checkpoints/{checkpoint['checkpoint_id']}/state", headers=headers
        )
        assert state.status_code == 200, state.text
        bodies.append(state.text)
    stream = await client.get(
        f"/v1/runs/{run_id}/events", headers=headers | {"Accept": "text/event-stream"}
    )
    assert stream.status_code == 200, stream.text
    assert "event: run_completed" in stream.text
    bodies.append(stream.text)
    return "\n".join(bodies)


async def test_a_secret_a_run_used_is_nowhere_in_what_it_left(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    echo_server: respx.Route,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []

    stored = await client.put("/v1/secrets/API_TOKEN", json={"value": SECRET}, headers=admin)
    answers.append(stored.text)
    assert stored.status_code in (200, 201), stored.text
    created = await client.post(
        "/v1/workflows", json={"name": "uses-a-secret", "spec": SPEC}, headers=admin
    )
    workflow_id = created.json()["id"]
    for step in ("versions", "versions/1/publish"):
        response = await client.post(f"/v1/workflows/{workflow_id}/{step}", headers=admin)
        assert response.status_code in (200, 201), response.text
    started = await client.post(
        f"/v1/workflows/{workflow_id}/runs", json={"inputs": {}}, headers=admin
    )
    answers.append(started.text)

    run = started.json()
    assert run["status"] == "completed", started.text
    assert echo_server.calls.last.request.headers["Authorization"] == f"Bearer {SECRET}"
    assert run["outputs"]["echo"] == "echo ***"
    assert run["outputs"]["call"]["json"] == {"you_sent": "Bearer ***"}
    assert run["outputs"]["fetch"] == {"stored": "***"}
    answers.append(await _answers_about(client, run["id"], admin))
    everything = {
        "API answers": "\n".join(answers),
        "database": await _database_text(),
        "logs": caplog.text
        + "".join(f"{record.getMessage()}{record.exc_text or ''}" for record in caplog.records),
    }
    assert {where: SECRET in text for where, text in everything.items()} == dict.fromkeys(
        everything, False
    )


async def test_another_tenants_data_is_not_masked_with_this_tenants_secret(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    stranger: dict[str, str],
    echo_server: respx.Route,
) -> None:
    await client.put("/v1/secrets/API_TOKEN", json={"value": SECRET}, headers=admin)
    used = await client.post("/v1/runs/adhoc", json={"spec": SPEC}, headers=admin)
    assert used.json()["status"] == "completed", used.text
    guess = {"version": "1", "nodes": [{"id": "guess", "type": "set", "value": [SECRET, "x"]}]}

    answer = await client.post("/v1/runs/adhoc", json={"spec": guess}, headers=stranger)

    assert answer.json()["outputs"] == [SECRET, "x"]
