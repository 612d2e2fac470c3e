"""Async runs per second end to end (API → Redis → workers → PostgreSQL), beside the floor.

The script creates a database ``plait_bench_<hex>`` on the server (``--postgres-url``),
migrates it, and seeds one tenant, an operator key and a published workflow of three ``set``
nodes, each reading the one before (``SPEC``). It starts the deployment of DESIGN §5 as
subprocesses on 127.0.0.1: ``plait api`` on a free port, ``--workers`` copies of ``plait worker
--concurrency W`` and ``plait scheduler``, all on that database, on Redis (``--redis-url``)
under a Redis prefix of their own (``plait_bench_<hex>``, so no key of the tests or of
another deployment is touched), with ``PLAIT_MIGRATE_ON_START=false``.

Each round measures, one after the other so that they never share the machine:

- The floor: the same workflow started in this process in a tight loop, through the very
  service the API calls (``api.services.start_run``, sync mode) on a ``RunExecutor`` built
  as every Plait process builds it (``process_executor``: ``TortoiseSaver`` checkpoints,
  ``RecordingSink`` events and steps, tenant secrets and providers, leases), on the same
  PostgreSQL database. So a floor run writes what a worker's run writes (the row with its
  audit event, ``running`` under a lease, three nodes' checkpoints, events and steps, the
  outcome); what it leaves out is the hand-over: HTTP and authentication, the Redis message,
  the worker reading the row again, and a second process. It runs one run
  at a time (the cost of one run) and ``W`` at a time (one worker's load without a queue).
- End to end: ``--runs`` runs submitted with ``POST /v1/workflows/{id}/runs?mode=async``
  from one httpx client, ``--concurrency`` requests in flight; the time from the first
  submit to the last ``ended_at`` written (completion is detected by polling PostgreSQL
  directly, on an index, so the API is not loaded by the watcher). Enqueue-to-start latency
  is ``started_at - created_at`` of each run (the API writes ``created_at`` just before it
  enqueues). Under this saturating load it mostly measures the backlog, so the round also
  submits ``--paced-runs`` runs at a fixed rate below capacity (``--paced-rate``; by default
  half what the round's saturated batch reached), whose latencies are what a run waits on a
  deployment that keeps up.

Every run must complete (a failed one stops the script). The figures are medians over rounds;
the ratio end to end ÷ floor is taken per round. CPU time per run is read from ``/proc``
(Linux) for each process of the deployment, PostgreSQL's processes that serve this database
(not the backends of other databases, e.g. tests running beside), Redis, and this script,
over the saturated batch and over the floor's ``W``-at-a-time batch; the rest of the
machine's busy time is shown as "anything else". The database and the Redis keys are
removed and every subprocess is stopped at the end, also after a failure, Ctrl-C or SIGTERM.
``--profile DIR`` also records the API and the first worker with ``py-spy`` (on ``PATH``;
raw collapsed stacks) in the last round; py-spy takes CPU too, so read throughput from a run
without it.

    uv run python bench/throughput.py [--runs 1000] [--rounds 3] [--concurrency 32]
        [--workers 2] [--worker-concurrency 16] [--paced-rate R] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from cryptography.fernet import Fernet
from redis.asyncio import Redis
from scratch_database import create_database, database_name, drop_database

from api.services import (
    Principal,
    create_api_key,
    create_version,
    create_workflow,
    publish_version,
    start_run,
)
from api.services.process_executor import process_executor
from api.services.run_events import RunEventHub
from api.services.run_executor import LeaseKeeping, RunExecutor
from api.services.run_leases import process_owner
from api.services.run_records import LeaseTerms
from api.services.runs import ExecutionMode
from shared.config import Settings
from shared.crypto import open_secret_box
from shared.database import close_database, init_database, migrate
from shared.database.models import Role, RunStatus, Tenant
from shared.redaction import redactor_for
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.models import StaticModelProviders

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
GOAL_RUNS_PER_S = 150.0
STARTUP_S = 60.0
POLL_S = 0.02
"""How often the watcher counts the runs still queued or running."""
STOP_S = 30.0
"""How long a stopped subprocess may take to exit before it is killed."""

SPEC: dict[str, Any] = {
    "version": "1",
    "inputs": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "nodes": [
        {"id": "a", "type": "set", "value": {"n": "{{ inputs.n }}"}},
        {"id": "b", "type": "set", "value": {"n": "{{ nodes.a.output.n + 1 }}"}},
        {"id": "c", "type": "set", "value": {"n": "{{ nodes.b.output.n + 1 }}"}},
    ],
    "output": {"n": "{{ nodes.c.output.n }}"},
}

_PENDING = (str(RunStatus.QUEUED), str(RunStatus.RUNNING))


@dataclass(frozen=True, slots=True, kw_only=True)
class Seeded:
    """What the runs are started with."""

    tenant_id: str
    key: str
    """An operator key of the tenant, for the API."""
    workflow_id: str
    """The published three-node workflow."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """The running subprocesses, by name (``api``, ``worker1``, …, ``scheduler``)."""

    base_url: str
    processes: dict[str, subprocess.Popen[bytes]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """One batch of end-to-end runs, as PostgreSQL recorded them."""

    runs_per_s: float
    """Runs ÷ (last ``ended_at`` - first submit)."""
    wait_ms: list[float]
    """``started_at - created_at`` of each run: enqueue to start."""
    total_ms: list[float]
    """``ended_at - created_at`` of each run."""
    post_ms: list[float]
    """Each submit's HTTP round trip, as the client saw it."""


@dataclass(slots=True)
class Round:
    """One round's figures."""

    floor_one: float = 0.0
    """In-process runs/s, one at a time."""
    floor_many: float = 0.0
    """In-process runs/s, ``--worker-concurrency`` at a time."""
    saturated: Batch | None = None
    paced: Batch | None = None
    paced_rate: float = 0.0
    """Runs/s of the paced batch."""
    cpu_ms: dict[str, float] = field(default_factory=dict)
    """CPU ms per run of each component over the saturated batch; ``busy``: the machine's."""
    floor_cpu_ms: dict[str, float] = field(default_factory=dict)
    """The same over the floor's batch of ``--worker-concurrency`` at a time."""


# --- database, Redis and the deployment -------------------------------------------------


async def drop_redis_keys(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix:`` (the run stream and its consumer group)."""
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def seed() -> Seeded:
    """Tenant, key and published workflow, through the services (Tortoise initialized)."""
    now = datetime.now(UTC)
    tenant = await Tenant.create(name="bench")
    _, key = await create_api_key(tenant, Role.OPERATOR, name="bench", at=now)
    principal = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id="bench")
    tools = default_tool_registry(load_plugins=False)
    workflow = await create_workflow(principal, name="three sets", spec=SPEC, at=now)
    version, _ = await create_version(principal, workflow.id, tools=tools, at=now)
    await publish_version(principal, workflow.id, version.version_number, at=now)
    return Seeded(tenant_id=tenant.id, key=key, workflow_id=workflow.id)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to all, then wait for each (killed after ``STOP_S``)."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def deployment(env: dict[str, str], *, workers: int, concurrency: int) -> Iterator[Deployment]:
    """API, workers and scheduler as subprocesses; yields once the API answers. Their logs
    go to a temporary directory, whose tails are printed if anything fails."""
    port = _free_port()
    commands = {"api": ["api", "--port", str(port)], "scheduler": ["scheduler"]}
    for number in range(1, workers + 1):
        commands[f"worker{number}"] = ["worker", "--concurrency", str(concurrency)]
    logs = Path(tempfile.mkdtemp(prefix="plait_bench_logs_"))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, arguments in commands.items():
            with (logs / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "api.cli", *arguments],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        base_url = f"http://127.0.0.1:{port}"
        _wait_for_health(base_url, processes)
        yield Deployment(base_url=base_url, processes=processes)
    except BaseException:
        _stop(processes)
        for log in sorted(logs.iterdir()):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {log.name} (last lines)", *tail, sep="\n", file=sys.stderr)
        raise
    else:
        _stop(processes)
        _print_warnings(logs)
    finally:
        shutil.rmtree(logs, ignore_errors=True)


def _print_warnings(logs: Path, most: int = 10) -> None:
    """Show what the deployment logged at WARNING or above (a clean run logs nothing)."""
    for log in sorted(logs.iterdir()):
        lines = log.read_text(errors="replace").splitlines()
        flagged = [line for line in lines if "WARNING" in line or "ERROR" in line]
        if flagged:
            print(
                f"--- {log.name}: {len(flagged)} warning(s)",
                *flagged[:most],
                sep="\n",
                file=sys.stderr,
            )


def _wait_for_health(base_url: str, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        dead = [name for name, process in processes.items() if process.poll() is not None]
        if dead:
            raise RuntimeError(f"exited at start: {', '.join(dead)}")
        try:
            httpx.get(f"{base_url}/v1/health", timeout=1).raise_for_status()
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError("plait api did not start") from None
            time.sleep(0.1)


# --- CPU accounting -----------------------------------------------------------------------

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def _servers_cpu_s(database: str) -> dict[str, float]:
    """CPU seconds of PostgreSQL's processes that work for ``database`` (its backends, and
    the shared ones: postmaster, WAL writer, checkpointer, …; not other databases' backends,
    such as the tests') and of ``redis-server``."""
    totals = {"postgres": 0.0, "redis": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if comm == "redis-server":
            totals["redis"] += _process_cpu_s(int(entry.name))
        elif comm == "postgres":
            backend = "(" in command or "[local]" in command
            if not backend or f" {database} " in command:
                totals["postgres"] += _process_cpu_s(int(entry.name))
    return totals


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent not idle since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) * _TICK_S


def cpu_snapshot(processes: dict[str, subprocess.Popen[bytes]], database: str) -> dict[str, float]:
    """CPU seconds so far by component: ``api``, ``workers`` (summed), ``scheduler``,
    ``postgres`` (for ``database``), ``redis``, ``bench`` (this process), ``busy`` (the
    machine)."""
    snapshot = {"api": 0.0, "workers": 0.0, "scheduler": 0.0}
    for name, process in processes.items():
        key = "workers" if name.startswith("worker") else name
        snapshot[key] += _process_cpu_s(process.pid)
    snapshot |= _servers_cpu_s(database)
    times = os.times()
    snapshot["bench"] = times.user + times.system
    snapshot["busy"] = _machine_busy_s()
    return snapshot


def cpu_per_run(before: dict[str, float], after: dict[str, float], runs: int) -> dict[str, float]:
    """CPU ms per run by component between two snapshots."""
    return {key: (after[key] - before[key]) * 1000 / runs for key in after}


# --- measuring ----------------------------------------------------------------------------


async def bounded(count: int, in_flight: int, one: Callable[[int], Awaitable[None]]) -> None:
    """``one(0) … one(count - 1)``, at most ``in_flight`` at a time."""
    numbers = iter(range(count))

    async def lane() -> None:
        for number in numbers:
            await one(number)

    await asyncio.gather(*(lane() for _ in range(min(in_flight, count))))


async def floor_batch(
    executor: RunExecutor, principal: Principal, workflow_id: str, runs: int, in_flight: int
) -> float:
    """In-process runs/s: ``start_run`` in sync mode, as the API's service does."""

    async def one(number: int) -> None:
        run, _ = await start_run(
            principal,
            workflow_id,
            inputs={"n": number},
            mode=ExecutionMode.SYNC,
            executor=executor,
            at=datetime.now(UTC),
        )
        if run.status is not RunStatus.COMPLETED:
            raise RuntimeError(f"floor run {run.id} ended {run.status}: {run.error_message}")

    started = time.perf_counter()
    await bounded(runs, in_flight, one)
    return runs / (time.perf_counter() - started)


@asynccontextmanager
async def floor_executor(settings: Settings) -> AsyncIterator[RunExecutor]:
    """The executor a Plait process builds (``worker.runtime``), without a queue."""
    async with httpx.AsyncClient() as http:
        executor = process_executor(
            tools=default_tool_registry(),
            models=StaticModelProviders.from_env({}),
            http=http,
            box=await open_secret_box(settings),
            redactor=redactor_for(settings),
            hub=RunEventHub(),
            env_secrets=lambda: settings.env_secrets,
            lease=LeaseKeeping(
                terms=LeaseTerms(owner=process_owner(), ttl_s=settings.lease_ttl_s),
                check_s=settings.lease_check_s,
            ),
        )
        try:
            yield executor
        finally:
            await executor.aclose()


class EndToEnd:
    """Submits runs over HTTP and reads their times back from PostgreSQL."""

    def __init__(
        self, client: httpx.AsyncClient, watcher: asyncpg.Connection, seeded: Seeded
    ) -> None:
        self._client = client
        self._watcher = watcher
        self._seeded = seeded
        self._path = f"/v1/workflows/{seeded.workflow_id}/runs"

    async def _submit(self, number: int, ids: list[str], post_ms: list[float]) -> None:
        started = time.perf_counter()
        response = await self._client.post(
            self._path, params={"mode": "async"}, json={"inputs": {"n": number}}
        )
        post_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 202:
            raise RuntimeError(f"submit: {response.status_code} {response.text[:300]}")
        ids.append(response.json()["id"])

    async def saturated(self, runs: int, in_flight: int, timeout_s: float) -> Batch:
        """``runs`` runs, ``in_flight`` submits at a time, as fast as they are accepted."""
        ids: list[str] = []
        post_ms: list[float] = []
        first = datetime.now(UTC)
        await bounded(runs, in_flight, lambda n: self._submit(n, ids, post_ms))
        return await self._collect(ids, post_ms, first, timeout_s)

    async def paced(self, runs: int, rate: float, timeout_s: float) -> Batch:
        """``runs`` runs, one every ``1 / rate`` s whatever the answers take."""
        ids: list[str] = []
        post_ms: list[float] = []
        first = datetime.now(UTC)
        start = time.perf_counter()
        tasks = []
        for number in range(runs):
            await asyncio.sleep(max(0.0, start + number / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(self._submit(number, ids, post_ms)))
        await asyncio.gather(*tasks)
        return await self._collect(ids, post_ms, first, timeout_s)

    async def _collect(
        self, ids: list[str], post_ms: list[float], first: datetime, timeout_s: float
    ) -> Batch:
        """Wait until no run of the tenant is queued or running, then read the batch."""
        deadline = time.monotonic() + timeout_s
        while await self._watcher.fetchval(
            "SELECT count(*) FROM workflow_runs WHERE tenant_id = $1 AND status = ANY($2)",
            self._seeded.tenant_id,
            list(_PENDING),
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"runs still pending after {timeout_s:.0f} s")
            await asyncio.sleep(POLL_S)
        rows = await self._watcher.fetch(
            "SELECT id, status, created_at, started_at, ended_at FROM workflow_runs"
            " WHERE id = ANY($1)",
            ids,
        )
        failed = [row["id"] for row in rows if row["status"] != str(RunStatus.COMPLETED)]
        if len(rows) != len(ids) or failed:
            raise RuntimeError(f"{len(failed)} run(s) did not complete, e.g. {failed[:3]}")
        last = max(row["ended_at"] for row in rows)
        return Batch(
            runs_per_s=len(rows) / (last - first).total_seconds(),
            wait_ms=[_ms(row["started_at"] - row["created_at"]) for row in rows],
            total_ms=[_ms(row["ended_at"] - row["created_at"]) for row in rows],
            post_ms=post_ms,
        )


def _ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@contextmanager
def py_spy(directory: Path | None, processes: dict[str, subprocess.Popen[bytes]]) -> Iterator[None]:
    """Record the API and the first worker with py-spy (raw collapsed stacks) for the block;
    nothing without ``directory``."""
    if directory is None:
        yield
        return
    binary = shutil.which("py-spy")
    if binary is None:
        raise RuntimeError("--profile needs py-spy on PATH (pip install py-spy)")
    directory.mkdir(parents=True, exist_ok=True)
    spies = {
        name: subprocess.Popen(
            [
                *(binary, "record", "--pid", str(processes[name].pid), "--rate", "250"),
                *("--format", "raw", "--output", str(directory / f"{name}.txt"), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("api", "worker1")
    }
    try:
        yield
    finally:
        for spy in spies.values():
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for spy in spies.values():
            try:
                spy.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()


@dataclass(frozen=True, slots=True, kw_only=True)
class Bench:
    """What every round uses."""

    args: argparse.Namespace
    executor: RunExecutor
    """The floor's executor, in this process."""
    principal: Principal
    seeded: Seeded
    e2e: EndToEnd
    processes: dict[str, subprocess.Popen[bytes]]
    database: str

    def cpu(self) -> dict[str, float]:
        """``cpu_snapshot`` of the deployment and the bench database."""
        return cpu_snapshot(self.processes, self.database)

    async def floor(self, runs: int, in_flight: int) -> float:
        """In-process runs/s (``floor_batch``)."""
        return await floor_batch(
            self.executor, self.principal, self.seeded.workflow_id, runs, in_flight
        )

    async def round(self, *, profile: Path | None) -> Round:
        """The floor one at a time, then ``--worker-concurrency`` at a time, then end to end
        saturated, then paced; CPU is counted over the second and the third."""
        args, result = self.args, Round()
        result.floor_one = await self.floor(args.floor_runs, 1)
        before = self.cpu()
        result.floor_many = await self.floor(args.floor_runs, args.worker_concurrency)
        result.floor_cpu_ms = cpu_per_run(before, self.cpu(), args.floor_runs)
        before = self.cpu()
        with py_spy(profile, self.processes):
            saturated = await self.e2e.saturated(args.runs, args.concurrency, args.timeout)
        result.cpu_ms = cpu_per_run(before, self.cpu(), args.runs)
        result.saturated = saturated
        result.paced_rate = args.paced_rate or saturated.runs_per_s / 2
        result.paced = await self.e2e.paced(args.paced_runs, result.paced_rate, args.timeout)
        return result


async def measure(
    args: argparse.Namespace, url: str, settings: Settings, env: dict[str, str]
) -> tuple[list[Round], tuple[float, float, float]]:
    """Seed, start the deployment, warm up, and measure ``args.rounds`` rounds; the rounds
    and the load average (1 min before and after, 5 min after)."""
    await init_database(url, migrate=False)
    try:
        seeded = await seed()
        headers = {"Authorization": f"Bearer {seeded.key}"}
        limits = httpx.Limits(max_connections=args.concurrency)
        with deployment(env, workers=args.workers, concurrency=args.worker_concurrency) as dep:
            watcher = await asyncpg.connect(url)
            try:
                async with (
                    floor_executor(settings) as executor,
                    httpx.AsyncClient(
                        base_url=dep.base_url, headers=headers, timeout=60, limits=limits
                    ) as client,
                ):
                    bench = Bench(
                        args=args,
                        executor=executor,
                        principal=Principal(
                            tenant_id=seeded.tenant_id, role=Role.OPERATOR, key_id="bench"
                        ),
                        seeded=seeded,
                        e2e=EndToEnd(client, watcher, seeded),
                        processes=dep.processes,
                        database=urlsplit(url).path[1:],
                    )
                    print("warming up", file=sys.stderr)
                    await bench.floor(args.warmup, args.worker_concurrency)
                    await bench.e2e.saturated(args.warmup, args.concurrency, args.timeout)
                    load_before = os.getloadavg()[0]
                    rounds = []
                    for number in range(args.rounds):
                        last = number == args.rounds - 1
                        result = await bench.round(profile=args.profile if last else None)
                        rounds.append(result)
                        assert result.saturated is not None
                        print(
                            f"round {number + 1}/{args.rounds}: end to end "
                            f"{result.saturated.runs_per_s:.1f} runs/s, floor "
                            f"{result.floor_one:.1f} / {result.floor_many:.1f} runs/s",
                            file=sys.stderr,
                        )
                    return rounds, (load_before, *os.getloadavg()[:2])
            finally:
                await watcher.close()
    finally:
        await close_database()


# --- report -------------------------------------------------------------------------------


def report(args: argparse.Namespace, rounds: list[Round], load: tuple[float, float, float]) -> None:
    def med(values: Callable[[Round], float]) -> float:
        return statistics.median(values(r) for r in rounds)

    def sat(r: Round) -> Batch:
        assert r.saturated is not None
        return r.saturated

    def paced(r: Round) -> Batch:
        assert r.paced is not None
        return r.paced

    e2e = med(lambda r: sat(r).runs_per_s)
    many = args.worker_concurrency
    print(
        f"\nruns/round={args.runs} rounds={args.rounds} client in flight={args.concurrency} "
        f"workers={args.workers}x{many} floor runs/round={args.floor_runs} "
        f"load average 1 min: {load[0]:.2f} before, {load[1]:.2f} after (5 min {load[2]:.2f})"
    )
    print("\n| path | runs in flight | runs/s | ms/run | end to end ÷ this |")
    print("|---|---:|---:|---:|---:|")
    rows = [
        ("in-process floor, one at a time", "1", lambda r: r.floor_one),
        ("in-process floor, one worker's load", str(many), lambda r: r.floor_many),
        (
            f"end to end: API → Redis → {args.workers} workers → PostgreSQL",
            f"{args.concurrency} submits, {args.workers}x{many} runs",
            lambda r: sat(r).runs_per_s,
        ),
    ]
    for name, in_flight, value in rows:
        ratio = med(lambda r, value=value: sat(r).runs_per_s / value(r))  # type: ignore[misc]
        rate = med(value)
        print(f"| {name} | {in_flight} | {rate:.1f} | {1000 / rate:.2f} | {ratio:.2f} |")
    verdict = "met" if e2e >= GOAL_RUNS_PER_S else "**not met**"
    print(f"\nGoal ≥ {GOAL_RUNS_PER_S:.0f} runs/s end to end: {verdict} ({e2e:.1f}).")

    print(
        "\n| load | enqueue→start p50 ms | p99 ms | created→ended p50 ms | p99 ms "
        "| POST p50 ms | p99 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    batches = [
        (f"saturated ({args.runs} runs, {args.concurrency} in flight)", sat),
        (f"paced ({args.paced_runs} runs at {med(lambda r: r.paced_rate):.0f}/s)", paced),
    ]
    for name, batch in batches:
        cells = [
            med(lambda r, batch=batch, attr=attr, q=q: percentile(getattr(batch(r), attr), q))  # type: ignore[misc]
            for attr in ("wait_ms", "total_ms", "post_ms")
            for q in (0.5, 0.99)
        ]
        print(f"| {name} | " + " | ".join(f"{cell:.1f}" for cell in cells) + " |")

    print(f"\n| CPU ms per run | end to end | in-process floor, {many} at a time |")
    print("|---|---:|---:|")
    labels = {
        "api": "plait api",
        "workers": f"plait worker (all {args.workers})",
        "scheduler": "plait scheduler",
        "bench": "this process (HTTP client and watcher / the floor's executor)",
        "postgres": "PostgreSQL (this database's backends, shared processes)",
        "redis": "Redis",
    }
    for side in ("cpu_ms", "floor_cpu_ms"):
        for r in rounds:
            figures = getattr(r, side)
            figures["other"] = figures["busy"] - sum(figures[key] for key in labels)
    labels |= {"other": "anything else on the machine", "busy": "machine busy, all cores"}
    for key, label in labels.items():
        e2e_ms = med(lambda r, key=key: r.cpu_ms[key])  # type: ignore[misc]
        floor_ms = med(lambda r, key=key: r.floor_cpu_ms[key])  # type: ignore[misc]
        print(f"| {label} | {e2e_ms:.2f} | {floor_ms:.2f} |")
    deployment_ms = med(
        lambda r: sum(r.cpu_ms[k] for k in ("api", "workers", "scheduler", "postgres", "redis"))
    )
    cores = os.cpu_count() or 1
    print(
        f"\nThe deployment (API, workers, scheduler, PostgreSQL, Redis) spends "
        f"{deployment_ms:.1f} ms of CPU per run: at most {cores * 1000 / deployment_ms:.0f} "
        f"runs/s on {cores} otherwise idle cores; {GOAL_RUNS_PER_S:.0f} runs/s needs "
        f"≤ {cores * 1000 / GOAL_RUNS_PER_S:.1f} ms."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="end-to-end runs per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median)")
    parser.add_argument("--concurrency", type=int, default=32, help="submits in flight")
    parser.add_argument("--workers", type=int, default=2, help="plait worker processes")
    parser.add_argument(
        "--worker-concurrency", type=int, default=16, help="runs a worker executes at once"
    )
    parser.add_argument("--floor-runs", type=int, default=300, help="floor runs per round")
    parser.add_argument("--paced-runs", type=int, default=250, help="paced runs per round")
    parser.add_argument(
        "--paced-rate", type=float, help="paced runs/s (default: half the saturated rate)"
    )
    parser.add_argument("--warmup", type=int, default=100, help="warm-up runs (each path)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a batch may take")
    parser.add_argument("--profile", type=Path, help="py-spy the API and worker1 (last round)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="the server")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="must be local")
    args = parser.parse_args()
    if args.rounds < 1 or args.runs < 1 or args.floor_runs < 1 or args.paced_runs < 1:
        parser.error("--rounds, --runs, --floor-runs and --paced-runs must be at least 1")

    # SIGTERM (a ``kill``, a CI timeout) unwinds like Ctrl-C, through the cleanup below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    name = database_name()
    data_dir = Path(tempfile.mkdtemp(prefix="plait_bench_data_"))
    secret_keys = Fernet.generate_key().decode()
    # One event loop per phase, and the deployment's processes in a ``with`` inside: Ctrl-C
    # anywhere stops them and still drops the database and the Redis keys.
    url = asyncio.run(create_database(args.postgres_url, name))
    print(f"database {name}, Redis prefix {name}", file=sys.stderr)
    try:
        asyncio.run(migrate(url))
        env = {
            **os.environ,
            "PLAIT_DATABASE_URL": url,
            "PLAIT_REDIS_URL": args.redis_url,
            "PLAIT_REDIS_PREFIX": name,
            "PLAIT_DATA_DIR": str(data_dir),
            "PLAIT_SECRET_KEYS": secret_keys,
            "PLAIT_MIGRATE_ON_START": "false",
        }
        settings = Settings(
            database_url=url, data_dir=data_dir, secret_keys=secret_keys, migrate_on_start=False
        )
        rounds, load = asyncio.run(measure(args, url, settings, env))
        report(args, rounds, load)
    finally:
        asyncio.run(drop_redis_keys(args.redis_url, name))
        asyncio.run(drop_database(args.postgres_url, name))
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
