"""Latency of the run history API on PostgreSQL: the run list with filters, and run detail.

The script creates a database ``plait_bench_<hex>`` on the server (``--postgres-url``),
migrates it, and seeds it: two tenants, each with a few workflows of two versions, and
``--runs`` runs for the measured tenant (half as many for the other one, so that every query
has to scope by tenant). Runs spread over 90 days and over statuses, sources, workflows and
tags the way a busy deployment's would (skewed, not uniform); each run id encodes its
creation time, as ``new_run_id`` does, and ``RunTag`` rows mirror the tags. Runs and tags go
in with ``COPY``; tenants, workflows, versions and the API key through the services.

Then it serves the real app (``python -m api.cli api``, migrations off) on a free port and
measures sequential requests from one httpx client over keep-alive: ``GET /v1/health``
(unauthenticated, one ``SELECT 1``: the floor of any request), the run list with each
filter, its second page, and run detail for random ids. After a warm-up, each round sends
``--requests`` requests per query, interleaved query by query so that drift on the machine
hits all alike; each round gives a p50 and p99 per query, and the figures are medians over
rounds. The database is dropped at the end, also after a failure or Ctrl-C.

    uv run python bench/api_latency.py [--runs 100000] [--rounds 5] [--requests 200]
        [--postgres-url postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from scratch_database import create_database, database_name, drop_database

from api.services import (
    Principal,
    create_api_key,
    create_version,
    create_workflow,
    publish_version,
    update_draft,
)
from shared.database import close_database, init_database, migrate
from shared.database.models import Role, RunSource, RunStatus, Tenant, WorkflowVersion
from shared.ids import IdPrefix, new_id
from workflow_compiler.registries.builtin import default_tool_registry

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
GOAL_P99_MS = 50.0
HISTORY = timedelta(days=90)
COPY_BATCH = 20_000
STARTUP_SECONDS = 60

STATUS_WEIGHTS = {
    RunStatus.COMPLETED: 80,
    RunStatus.FAILED: 10,
    RunStatus.WAITING_HUMAN: 4,
    RunStatus.CANCELED: 2,
    RunStatus.RUNNING: 2,
    RunStatus.QUEUED: 2,
}
SOURCE_WEIGHTS = {
    RunSource.API: 50,
    RunSource.TRIGGER: 35,
    RunSource.MANUAL: 10,
    RunSource.AGENT: 3,
    RunSource.REPLAY: 2,
}
WORKFLOW_WEIGHTS = (40, 25, 15, 12, 8)
"""Runs per workflow, in percent: a few workflows make most runs."""
COMMON_TAG = "env:prod"
COMMON_TAG_SHARE = 0.6
RARE_TAG = "vip"
RARE_TAG_SHARE = 0.005
OTHER_TAGS = tuple(f"customer:{i:03d}" for i in range(200))
"""One of them on 30 % of runs: a long tail of tags, each on few runs."""

SPEC: dict[str, Any] = {
    "version": "1",
    "inputs": {"type": "object", "properties": {"order_id": {"type": "string"}}},
    "nodes": [{"id": "echo", "type": "set", "value": "{{ inputs.order_id }}"}],
    "output": {"order": "{{ nodes.echo.output }}"},
}

RUN_COLUMNS = (
    "id",
    "tenant_id",
    "workflow_id",
    "version_id",
    "spec_hash",
    "inputs",
    "outputs",
    "status",
    "source",
    "tags",
    "annotations",
    "business_event_id",
    "error_code",
    "error_message",
    "created_at",
    "started_at",
    "ended_at",
    "updated_at",
    "fencing_token",
    "attempt",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Seeded:
    """What the measured queries refer to."""

    key: str
    """An API key of the measured tenant."""
    workflow_ids: list[str]
    """The measured tenant's workflows, most runs first."""
    run_ids: list[str]
    """A sample of the measured tenant's run ids, for run detail."""
    now: datetime
    """The newest run's time; the time filters are relative to it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """One measured request."""

    name: str
    path: str
    """The first request's path; run detail varies the id (``path`` is a template)."""
    params: dict[str, str]
    headers: bool = True
    """Whether it carries the API key (the health route needs none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """A query's latencies, medians over rounds, in milliseconds."""

    p50: float
    p99: float


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _tags(rng: random.Random) -> list[str]:
    tags = []
    if rng.random() < COMMON_TAG_SHARE:
        tags.append(COMMON_TAG)
    if rng.random() < RARE_TAG_SHARE:
        tags.append(RARE_TAG)
    if rng.random() < 0.3:
        tags.append(rng.choice(OTHER_TAGS))
    return tags


def _run_row(
    rng: random.Random,
    tenant_id: str,
    versions: Sequence[WorkflowVersion],
    weights: Sequence[int],
    now: datetime,
) -> tuple[tuple[Any, ...], list[str]]:
    """One ``workflow_runs`` row (``RUN_COLUMNS`` order) and its tags."""
    created = now - HISTORY * rng.random()
    version = rng.choices(versions, weights=weights)[0]
    status = _weighted(rng, STATUS_WEIGHTS)
    order = f"ord_{rng.randrange(10**8):08d}"
    tags = _tags(rng)
    started = None if status == RunStatus.QUEUED else created + timedelta(milliseconds=40)
    final = status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED)
    ended = created + timedelta(seconds=rng.uniform(0.1, 30)) if final else None
    failed = status == RunStatus.FAILED
    row = (
        new_id(IdPrefix.RUN, now_ms=int(created.timestamp() * 1000)),
        tenant_id,
        version.workflow_id,  # type: ignore[attr-defined]
        version.id,
        version.spec_hash,
        json.dumps({"order_id": order, "lines": rng.randrange(1, 20), "currency": "EUR"}),
        json.dumps({"order": order, "total": round(rng.uniform(5, 500), 2)})
        if status == RunStatus.COMPLETED
        else None,
        str(status),
        str(_weighted(rng, SOURCE_WEIGHTS)),
        json.dumps(tags),
        json.dumps({"ticket": f"T-{rng.randrange(10**5)}"} if rng.random() < 0.2 else {}),
        order,
        "tool_error" if failed else None,
        "http_request: 503 Service Unavailable from https://erp.example.com" if failed else None,
        created,
        started,
        ended,
        ended or started or created,
        0 if started is None else 1,
        0 if started is None else 1,
    )
    return row, tags


async def _workflows(tenant: Tenant, at: datetime) -> list[list[WorkflowVersion]]:
    """Five workflows of ``tenant``, each with version 1 and version 2 (published)."""
    principal = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id="bench")
    tools = default_tool_registry(load_plugins=False)
    result = []
    for i in range(len(WORKFLOW_WEIGHTS)):
        workflow = await create_workflow(principal, name=f"workflow {i}", spec=SPEC, at=at)
        first, _ = await create_version(principal, workflow.id, tools=tools, at=at)
        draft = {**SPEC, "description": "v2"}
        await update_draft(principal, workflow.id, base_revision=1, spec=draft, at=at)
        second, _ = await create_version(principal, workflow.id, tools=tools, at=at)
        await publish_version(principal, workflow.id, second.version_number, at=at)
        result.append([first, second])
    return result


async def _copy_runs(
    connection: asyncpg.Connection,
    tenant: Tenant,
    workflows: list[list[WorkflowVersion]],
    count: int,
    now: datetime,
    rng: random.Random,
) -> list[str]:
    """``count`` runs of ``tenant`` with their tag rows; returns their ids."""
    versions = [version for pair in workflows for version in pair]
    weights = [w * share for w in WORKFLOW_WEIGHTS for share in (1, 3)]
    ids: list[str] = []
    for start in range(0, count, COPY_BATCH):
        rows, tag_rows = [], []
        for _ in range(min(COPY_BATCH, count - start)):
            row, tags = _run_row(rng, tenant.id, versions, weights, now)
            rows.append(row)
            tag_rows.extend((tenant.id, row[0], tag) for tag in tags)
            ids.append(row[0])
        await connection.copy_records_to_table("workflow_runs", records=rows, columns=RUN_COLUMNS)
        await connection.copy_records_to_table(
            "workflow_run_tags", records=tag_rows, columns=("tenant_id", "run_id", "tag")
        )
    return ids


async def seed(url: str, runs: int) -> Seeded:
    """Fill the migrated database at ``url``; return what the queries need."""
    rng = random.Random(42)
    now = datetime.now(UTC).replace(microsecond=0)
    await init_database(url, migrate=False)
    try:
        measured = await Tenant.create(name="measured")
        neighbour = await Tenant.create(name="neighbour")
        _, key = await create_api_key(measured, Role.VIEWER, name="bench", at=now)
        measured_workflows = await _workflows(measured, now - HISTORY)
        neighbour_workflows = await _workflows(neighbour, now - HISTORY)
    finally:
        await close_database()
    connection = await asyncpg.connect(url)
    try:
        run_ids = await _copy_runs(connection, measured, measured_workflows, runs, now, rng)
        await _copy_runs(connection, neighbour, neighbour_workflows, runs // 2, now, rng)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return Seeded(
        key=key,
        workflow_ids=[pair[0].workflow_id for pair in measured_workflows],  # type: ignore[attr-defined]
        run_ids=rng.sample(run_ids, min(len(run_ids), 5000)),
        now=now,
    )


def queries(seeded: Seeded, second_page_cursor: str) -> list[Query]:
    """What is measured, health first."""
    month_ago = seeded.now - timedelta(days=30)
    return [
        Query(name="GET /v1/health (floor)", path="/v1/health", params={}, headers=False),
        Query(name="runs", path="/v1/runs", params={"limit": "50"}),
        Query(
            name="runs ?status=failed,canceled",
            path="/v1/runs",
            params={"limit": "50", "status": "failed,canceled"},
        ),
        Query(
            name="runs ?workflow_id=<least used>&status=completed",
            path="/v1/runs",
            params={"limit": "50", "workflow_id": seeded.workflow_ids[-1], "status": "completed"},
        ),
        Query(
            name="runs ?workflow_id=<least used>&status=canceled (0.2% of runs)",
            path="/v1/runs",
            params={"limit": "50", "workflow_id": seeded.workflow_ids[-1], "status": "canceled"},
        ),
        Query(
            name="runs ?source=replay (2% of runs)",
            path="/v1/runs",
            params={"limit": "50", "source": "replay"},
        ),
        Query(
            name=f"runs ?tag={COMMON_TAG} ({COMMON_TAG_SHARE:.0%} of runs)",
            path="/v1/runs",
            params={"limit": "50", "tag": COMMON_TAG},
        ),
        Query(
            name=f"runs ?tag={RARE_TAG} ({RARE_TAG_SHARE:.1%} of runs)",
            path="/v1/runs",
            params={"limit": "50", "tag": RARE_TAG},
        ),
        Query(
            name="runs ?created_after=-30d&created_before=-29d",
            path="/v1/runs",
            params={
                "limit": "50",
                "created_after": month_ago.isoformat(),
                "created_before": (month_ago + timedelta(days=1)).isoformat(),
            },
        ),
        Query(
            name="runs ?created_after=-89d&created_before=-88d",
            path="/v1/runs",
            params={
                "limit": "50",
                "created_after": (seeded.now - timedelta(days=89)).isoformat(),
                "created_before": (seeded.now - timedelta(days=88)).isoformat(),
            },
        ),
        Query(
            name="runs, second page (cursor)",
            path="/v1/runs",
            params={"limit": "50", "cursor": second_page_cursor},
        ),
        Query(name="GET /v1/runs/{id} (random ids)", path="/v1/runs/{id}", params={}),
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(database_url: str) -> Iterator[str]:
    """``plait api`` on the database, migrations off; yields its base URL once it answers."""
    port = _free_port()
    env = {**os.environ, "PLAIT_DATABASE_URL": database_url, "PLAIT_MIGRATE_ON_START": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                httpx.get(f"{base}/v1/health", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("plait api did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _request(
    client: httpx.Client, query: Query, key: str, rng: random.Random, ids: list[str]
) -> float:
    """Send ``query`` once; its latency in ms."""
    path = query.path.replace("{id}", rng.choice(ids))
    headers = {"Authorization": f"Bearer {key}"} if query.headers else {}
    started = time.perf_counter()
    response = client.get(path, params=query.params, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{query.name}: {response.status_code} {response.text[:200]}")
    return elapsed


def _percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(
    base: str, seeded: Seeded, *, rounds: int, requests: int, warmup: int
) -> tuple[list[Query], dict[str, Figures], list[int]]:
    """p50/p99 per query (medians over rounds), and how many runs each list query returned."""
    rng = random.Random(7)
    with httpx.Client(base_url=base, timeout=30) as client:
        first = client.get(
            "/v1/runs", params={"limit": "50"}, headers={"Authorization": f"Bearer {seeded.key}"}
        ).json()
        measured = queries(seeded, first["next_cursor"])
        sizes = []
        for query in measured:
            path = query.path.replace("{id}", seeded.run_ids[0])
            headers = {"Authorization": f"Bearer {seeded.key}"} if query.headers else {}
            body = client.get(path, params=query.params, headers=headers).json()
            sizes.append(len(body["items"]) if "items" in body else -1)
        for _ in range(warmup):
            for query in measured:
                _request(client, query, seeded.key, rng, seeded.run_ids)
        per_round: dict[str, list[tuple[float, float]]] = {q.name: [] for q in measured}
        for number in range(rounds):
            samples: dict[str, list[float]] = {q.name: [] for q in measured}
            for _ in range(requests):
                for query in measured:
                    samples[query.name].append(
                        _request(client, query, seeded.key, rng, seeded.run_ids)
                    )
            for name, values in samples.items():
                per_round[name].append((_percentile(values, 0.5), _percentile(values, 0.99)))
            print(f"round {number + 1}/{rounds} done", file=sys.stderr)
    figures = {
        name: Figures(
            p50=statistics.median(p50 for p50, _ in values),
            p99=statistics.median(p99 for _, p99 in values),
        )
        for name, values in per_round.items()
    }
    return measured, figures, sizes


def report(measured: list[Query], figures: dict[str, Figures], sizes: list[int]) -> None:
    floor = figures[measured[0].name]
    print("\n| request | runs returned | p50 ms | p99 ms | p50 ÷ health | p99 ≤ 50 ms |")
    print("|---|---:|---:|---:|---:|:---:|")
    for query, size in zip(measured, sizes, strict=True):
        figure = figures[query.name]
        returned = "—" if size < 0 else str(size)
        ok = "yes" if figure.p99 <= GOAL_P99_MS else "**no**"
        print(
            f"| {query.name} | {returned} | {figure.p50:.2f} | {figure.p99:.2f} "
            f"| {figure.p50 / floor.p50:.1f} | {ok} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs of the measured tenant")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (median)")
    parser.add_argument("--requests", type=int, default=200, help="requests per query per round")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per query")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="the server")
    parser.add_argument(
        "--keep", action="store_true", help="wait for Enter before dropping the database"
    )
    args = parser.parse_args()
    # One event loop per phase, and the requests outside any: Ctrl-C anywhere stops the
    # server and drops the database in the ``finally`` blocks.
    name = database_name()
    url = asyncio.run(create_database(args.postgres_url, name))
    print(f"database {name}", file=sys.stderr)
    try:
        started = time.perf_counter()
        asyncio.run(migrate(url))
        seeded = asyncio.run(seed(url, args.runs))
        print(f"migrated and seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with api_server(url) as base:
            measured, figures, sizes = measure(
                base, seeded, rounds=args.rounds, requests=args.requests, warmup=args.warmup
            )
        print(
            f"runs={args.runs} (+{args.runs // 2} of another tenant) rounds={args.rounds} "
            f"requests/round={args.requests}"
        )
        report(measured, figures, sizes)
        if args.keep:
            input(f"database {url} kept until Enter: ")
    finally:
        asyncio.run(drop_database(args.postgres_url, name))


if __name__ == "__main__":
    main()
