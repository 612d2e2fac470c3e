"""Real ``plait worker`` and ``plait scheduler`` processes on Redis and the test's database.

The API runs in the test's process (the app, through an ASGI client) and enqueues on Redis;
two worker processes execute the runs and a scheduler process reaps and sweeps. Nodes call a
real HTTP server of the test's (``EffectServer``), which counts every call per run and node:
that is how the tests see, across processes, which nodes executed how often.

The Redis server is the test's own (``redis-server`` on a free port), so a test can stop and
start it without disturbing anything else on the machine.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI
from redis.asyncio import Redis

from api.app import create_app
from api.services import create_api_key
from shared.config import Settings
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import Role, RunEventRecord, RunStatus, Tenant, WorkflowRun
from tests.support.api import bearer
from tests.support.effects import EffectServer
from tests.support.sse import asgi_stream, messages
from tests.support.waiting import until
from workflow_compiler.lowering.state import output_key

NODES = ("fetch", "enrich", "store")
NODE_DELAY_S = 0.3
"""Each node's request takes this long, so that a kill finds nodes in flight."""

LEASE_TTL_S = 2.0
TIMEOUT_S = 60.0
"""Bound of every wait for the processes: they start slowly on a loaded 2-core machine."""


def _spec(effects_url: str, delay_s: float) -> dict[str, Any]:
    """Three nodes in a row, each a call the effect server counts, answered after
    ``delay_s``."""
    return {
        "version": "1",
        "nodes": [
            {
                "id": node,
                "type": "tool",
                "tool": "http_request",
                "args": {"method": "POST", "url": effects_url, "json": {"delay_s": delay_s}},
            }
            for node in NODES
        ],
        "output": {"last": "{{ nodes.store.output.json.node }}"},
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A ``redis-server`` of the test's own, which the test may stop and start again (it
    comes back empty, as a Redis without persistence does)."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        executable = shutil.which("redis-server")
        assert executable is not None, "redis-server is not installed"
        self._process = await asyncio.create_subprocess_exec(
            executable,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._directory),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await until(self._answers, what="redis-server answers", timeout_s=TIMEOUT_S)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None

    async def _answers(self) -> bool:
        client = Redis.from_url(self.url)
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()


class Processes:
    """Starts ``plait`` commands as processes on the test's database and Redis; their output
    goes to files in ``directory``, shown when a wait fails."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self._directory = directory
        self._env = env
        self._started: list[tuple[asyncio.subprocess.Process, Path]] = []

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        log = self._directory / f"{args[0]}-{len(self._started)}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "api.cli", *args, env=self._env, stdout=out, stderr=out
            )
        self._started.append((process, log))
        return process

    def log_of(self, process: asyncio.subprocess.Process) -> str:
        return next(log.read_text() for started, log in self._started if started is process)

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in self._started)

    async def stop_all(self) -> None:
        for process, _ in self._started:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self._started:
            try:
                await asyncio.wait_for(process.wait(), timeout=TIMEOUT_S)
            except TimeoutError:
                process.kill()
                await process.wait()


class Deployment:
    """The API in this process, ``plait worker`` and ``plait scheduler`` processes, Redis."""

    def __init__(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        processes: Processes,
        workers: list[asyncio.subprocess.Process],
        redis: RedisServer,
        effects: EffectServer,
    ) -> None:
        self.app = app
        self.client = client
        self.workers = workers
        self.headers = headers
        self.processes = processes
        self.redis = redis
        self.effects = effects

    async def start_run(self, *, delay_s: float = NODE_DELAY_S) -> str:
        """An async run of the three-node spec, created through the API (202: queued)."""
        response = await self.client.post(
            "/v1/runs/adhoc",
            headers=self.headers,
            json={"spec": _spec(self.effects.url, delay_s), "mode": "async"},
        )
        assert response.status_code == 202, response.text
        return response.json()["id"]

    async def wait(self, condition: Callable[[], Awaitable[bool]], what: str) -> None:
        try:
            await until(condition, what=what, timeout_s=TIMEOUT_S)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.processes.logs()}") from None

    async def wait_listening(self) -> None:
        """Wait until every worker reads the run stream (a Redis client whose last command is
        ``XREADGROUP``), so that runs are shared between them."""
        redis = Redis.from_url(self.redis.url)

        async def all_listen() -> bool:
            clients = await redis.client_list()
            return sum(client["cmd"] == "xreadgroup" for client in clients) >= len(self.workers)

        try:
            await self.wait(all_listen, "every worker listens")
        finally:
            await redis.aclose()

    async def wait_completed(self, run_ids: list[str]) -> list[WorkflowRun]:
        async def all_ended() -> bool:
            ended = await WorkflowRun.filter(
                id__in=run_ids,
                status__in=[RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED],
            ).count()
            return ended == len(run_ids)

        await self.wait(all_ended, f"all {len(run_ids)} runs end")
        runs = await WorkflowRun.filter(id__in=run_ids)
        assert {run.id: run.status for run in runs} == dict.fromkeys(run_ids, RunStatus.COMPLETED)
        assert all(run.outputs == {"last": "store"} for run in runs)
        return runs


@asynccontextmanager
async def deployment(
    database: str, tmp_path: Path, *, workers: int, worker_concurrency: int
) -> AsyncIterator[Deployment]:
    """Everything started; everything stopped afterwards, whatever the test did."""
    key = Fernet.generate_key().decode()
    prefix = f"plait-test-{uuid4().hex}"
    redis = RedisServer(tmp_path)
    env = {
        **os.environ,
        "PLAIT_DATABASE_URL": database,
        "PLAIT_REDIS_URL": redis.url,
        "PLAIT_REDIS_PREFIX": prefix,
        "PLAIT_SECRET_KEYS": key,
        "PLAIT_DATA_DIR": str(tmp_path / "data"),
        "PLAIT_MIGRATE_ON_START": "false",
        "PLAIT_LEASE_TTL_S": str(LEASE_TTL_S),
        "PLAIT_LEASE_CHECK_S": "0.2",
        "PLAIT_SCHEDULER_INTERVAL_S": "0.5",
        "PLAIT_SWEEP_AFTER_S": "3",
    }
    processes = Processes(tmp_path, env)
    settings = Settings(
        database_url=database,
        redis_url=redis.url,
        redis_prefix=prefix,
        secret_keys=key,
        data_dir=tmp_path / "data",
        migrate_on_start=False,
        lease_ttl_s=LEASE_TTL_S,
    )
    async with AsyncExitStack() as stack:
        await redis.start()
        stack.push_async_callback(redis.stop)
        effects = await stack.enter_async_context(EffectServer())
        stack.push_async_callback(processes.stop_all)
        started = [
            await processes.start("worker", "--concurrency", str(worker_concurrency))
            for _ in range(workers)
        ]
        await processes.start("scheduler")
        app = create_app(settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        )
        tenant = await Tenant.create(name="acme")
        _, api_key = await create_api_key(tenant, Role.OPERATOR, name="test", at=datetime.now(UTC))
        yield Deployment(app, client, bearer(api_key), processes, started, redis, effects)


async def _finished_nodes(run_ids: list[str]) -> set[tuple[str, str]]:
    """(run, node) pairs whose output is stored in the run's latest checkpoint or its pending
    writes: nodes that finished for good, which no later execution may execute again."""
    saver = TortoiseSaver()
    finished: set[tuple[str, str]] = set()
    for run_id in run_ids:
        saved = await saver.aget_tuple({"configurable": {"thread_id": run_id}})
        if saved is None:
            continue
        written = set(saved.checkpoint["channel_values"])
        written |= {channel for _, channel, _ in saved.pending_writes or ()}
        finished |= {(run_id, node) for node in NODES if output_key(node) in written}
    return finished


async def _held_by(process: asyncio.subprocess.Process) -> list[str]:
    """The runs the process executes: its pid is in its lease owner (``host:pid:random``)."""
    return await WorkflowRun.filter(
        status=RunStatus.RUNNING, lease_owner__contains=f":{process.pid}:"
    ).values_list("id", flat=True)


class TestWorkerProcesses:
    async def test_a_killed_workers_runs_complete_and_finished_nodes_never_run_again(
        self, database: str, tmp_path: Path
    ) -> None:
        async with deployment(database, tmp_path, workers=2, worker_concurrency=4) as plait:
            await plait.wait_listening()
            run_ids = [await plait.start_run() for _ in range(12)]
            victim = plait.workers[0]

            async def victim_has_progress() -> bool:
                held = await _held_by(victim)
                return len(held) >= 2 and bool(await _finished_nodes(held))

            await plait.wait(victim_has_progress, "the first worker holds runs with progress")
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            finished_before_kill = await _finished_nodes(run_ids)
            orphans = await _held_by(victim)

            await plait.wait_completed(run_ids)

            assert orphans, "the kill found no run in flight on the killed worker"
            for run_id, node in finished_before_kill:
                assert plait.effects.count(run_id, node) == 1, (run_id, node)
            for run_id in run_ids:
                assert all(plait.effects.count(run_id, node) >= 1 for node in NODES)
            # A node in flight at the kill executed again, with the same idempotency key: an
            # endpoint honouring the key performs its side effect once.
            again = {pair: keys for pair, keys in plait.effects.keys.items() if len(keys) > 1}
            assert all(len(set(keys)) == 1 for keys in again.values()), again
            taken_over = await WorkflowRun.filter(id__in=orphans).values_list("attempt", flat=True)
            assert set(taken_over) == {2}, "each orphan continued in a second attempt"

    async def test_runs_created_while_redis_restarts_all_complete(
        self, database: str, tmp_path: Path
    ) -> None:
        async with deployment(database, tmp_path, workers=2, worker_concurrency=8) as plait:
            run_ids = [await plait.start_run(delay_s=0) for _ in range(10)]
            await plait.redis.stop()
            run_ids += [await plait.start_run(delay_s=0) for _ in range(10)]
            await plait.redis.start()
            run_ids += [await plait.start_run(delay_s=0) for _ in range(10)]

            await plait.wait_completed(run_ids)

            for run_id in run_ids:
                assert [plait.effects.count(run_id, node) for node in NODES] == [1, 1, 1]

    async def test_a_stale_workers_late_writes_are_refused(
        self, database: str, tmp_path: Path
    ) -> None:
        async with deployment(database, tmp_path, workers=2, worker_concurrency=4) as plait:
            await plait.wait_listening()
            run_id = await plait.start_run()

            async def held() -> bool:
                run = await WorkflowRun.get(id=run_id)
                return run.status is RunStatus.RUNNING and run.lease_owner is not None

            await plait.wait(held, "a worker holds the run")
            holders = [worker for worker in plait.workers if await _held_by(worker)]
            assert len(holders) == 1
            stale = holders[0]
            stale.send_signal(signal.SIGSTOP)
            try:
                await plait.wait_completed([run_id])
                completed = await WorkflowRun.get(id=run_id)
                events = await RunEventRecord.filter(run_id=run_id).count()
            finally:
                stale.send_signal(signal.SIGCONT)

            async def stale_gave_up() -> bool:
                return "taken over by another process" in plait.processes.log_of(stale)

            await plait.wait(stale_gave_up, "the stale worker notices it lost the run")
            after = await WorkflowRun.get(id=run_id)
            assert (after.status, after.outputs, after.ended_at, after.fencing_token) == (
                completed.status,
                completed.outputs,
                completed.ended_at,
                completed.fencing_token,
            )
            assert completed.attempt == 2
            assert await RunEventRecord.filter(run_id=run_id).count() == events

    async def test_events_of_a_run_on_a_worker_reach_a_follower_of_the_api(
        self, database: str, tmp_path: Path
    ) -> None:
        async with deployment(database, tmp_path, workers=1, worker_concurrency=4) as plait:
            # No heartbeat within the stream's read timeout: only a notification that came
            # through Redis from the worker can make the stream read on.
            plait.app.state.sse_heartbeat_s = 3600.0
            await plait.wait_listening()
            run_id = await plait.start_run()
            async with asgi_stream(
                plait.app,
                f"/v1/runs/{run_id}/events",
                headers=plait.headers | {"Accept": "text/event-stream"},
            ) as stream:
                assert stream.status == 200
                body = b"".join(await stream.rest()).decode()

        kinds = [message["event"] for message in messages(body) if "event" in message]
        assert kinds[0] == "run_started"
        assert kinds.count("node_completed") == len(NODES)
        assert kinds[-1] == "run_completed"
