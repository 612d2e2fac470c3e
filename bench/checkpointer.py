"""What a checkpointer adds to a LangGraph run: TortoiseSaver against the official savers.

Graphs are built directly with LangGraph (no Plait spec, so the compiler's cost stays out):
a linear chain of 10 and of 50 nodes, and a 1→8→1 fan-out; every node writes its own state
channel, as Plait's lowering does. Each graph runs with no checkpointer (bare), with
``TortoiseSaver`` and with the official saver of the same backend: ``AsyncSqliteSaver``
(a file beside TortoiseSaver's, same pragmas) and ``AsyncPostgresSaver`` (psycopg, on the
same server, in a database this script creates and drops). Runs rotate among the three one
by one, so drift on the machine hits all alike; each round gives medians, and the figures are
medians over rounds. The added cost per superstep is (saver - bare) / supersteps, counted as
LangGraph counts them: step 0 runs the ``__start__`` node that writes the input, then one
step per layer of nodes (linear N: N + 1; fan-out: 4). A run writes one checkpoint per
superstep plus one for the input (step -1); the script checks that count on every saver.

Storage: a linear graph of N nodes, each writing an object that holds 10 KB of text, for
N = 10, 25, 50, one run each before any timed run; the figure is the growth of the saver's
tables (data, indexes and, on PostgreSQL, TOAST) over that run. Storing what changed gives
linear growth; storing the whole state at every step gives quadratic growth.

    uv run python bench/checkpointer.py [--rounds 5] [--runs 20] [--backend all]
        [--postgres-url postgres://postgres@127.0.0.1:5432/postgres] [--durability async]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

import aiosqlite
import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from shared.database.checkpointer import open_saver

TORTOISE = "TortoiseSaver"
BARE = "bare"
STORAGE_SIZES = (10, 25, 50)
PAYLOAD_BYTES = 10 * 1024
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"

Durability = Literal["sync", "async"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    """A benchmark graph and the number of supersteps one run of it takes."""

    name: str
    builder: StateGraph
    supersteps: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """TortoiseSaver and the official saver, ready on one database backend."""

    name: str
    savers: Mapping[str, BaseCheckpointSaver]
    """TortoiseSaver first, then the official saver, by display name."""
    table_bytes: Callable[[str], Awaitable[int]]
    """Bytes the named saver's tables take now (data, indexes and, on PostgreSQL, TOAST)."""

    @property
    def official(self) -> str:
        """The official saver's display name."""
        return next(name for name in self.savers if name != TORTOISE)


def _state(fields: list[str], kind: type) -> type:
    return TypedDict("BenchState", dict.fromkeys(fields, kind))  # type: ignore[operator]


def _writer(key: str, value: Any) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    # async: under ainvoke LangGraph runs sync nodes in a thread pool, which adds noise.
    async def node(_: dict[str, Any]) -> dict[str, Any]:
        return {key: value}

    return node


def linear(n: int, output: Callable[[int], Any]) -> StateGraph:
    """N nodes in a chain; node ``s{i}`` writes ``output(i)`` to its own channel."""
    names = [f"s{i}" for i in range(n)]
    builder = StateGraph(_state(names, object))
    for i, name in enumerate(names):
        builder.add_node(name, _writer(name, output(i)))
    for before, after in zip([START, *names], [*names, END], strict=True):
        builder.add_edge(before, after)
    return builder


def fan_out(width: int = 8) -> StateGraph:
    """One node, ``width`` parallel nodes after it, and a node that waits for all of them."""
    branches = [f"b{i}" for i in range(width)]
    names = ["a", *branches, "c"]
    builder = StateGraph(_state(names, int))
    for i, name in enumerate(names):
        builder.add_node(name, _writer(name, i))
    builder.add_edge(START, "a")
    for branch in branches:
        builder.add_edge("a", branch)
    builder.add_edge(branches, "c")
    builder.add_edge("c", END)
    return builder


def shapes() -> list[Shape]:
    """The timed graphs: small integer outputs, so the savers' per-step cost dominates."""
    return [
        Shape(name="linear 10", builder=linear(10, _index), supersteps=11),
        Shape(name="linear 50", builder=linear(50, _index), supersteps=51),
        Shape(name="fan-out 1→8→1", builder=fan_out(), supersteps=4),
    ]


def _index(i: int) -> int:
    return i


def _payload(i: int) -> dict[str, str]:
    """A node output (an object, as Plait's usually are) holding 10 KB of random text.

    Random, so TOAST cannot compress it away. An object rather than a bare string because
    ``AsyncPostgresSaver`` keeps str/int/float/bool channel values inline in every
    checkpoint row (quadratic growth) and only stores other values as blobs per version.
    """
    text = base64.b64encode(random.Random(i).randbytes(PAYLOAD_BYTES * 3 // 4)).decode()
    return {"text": text}


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


async def _run(
    graph: CompiledStateGraph, thread_id: str, durability: Durability | None
) -> dict[str, Any]:
    # durability only with a checkpointer: LangGraph warns that it means nothing without one.
    extra = {} if durability is None else {"durability": durability}
    return await graph.ainvoke({}, _config(thread_id), **extra)


async def _checkpoints(saver: BaseCheckpointSaver, thread_id: str) -> int:
    return len([c async for c in saver.alist(_config(thread_id))])


async def measure(
    shape: Shape, backend: Backend, *, rounds: int, runs: int, durability: Durability
) -> dict[str, float]:
    """Median ms per run of each contestant and added ms per superstep of each saver.

    Returns keys ``"<name> ms"`` for bare and both savers, ``"<saver> +ms"`` for both
    savers and ``"ratio"`` (TortoiseSaver's added cost over the official saver's), each the
    median over rounds of the per-round figure.
    """
    contestants: dict[str, BaseCheckpointSaver | None] = {BARE: None, **backend.savers}
    graphs = {name: shape.builder.compile(checkpointer=s) for name, s in contestants.items()}
    await _run(graphs[BARE], "warm", None)
    for name, saver in backend.savers.items():
        await _run(graphs[name], f"warm-{name}", durability)
        stored = await _checkpoints(saver, f"warm-{name}")
        assert stored == shape.supersteps + 1, (name, shape.name, stored)
        await saver.adelete_thread(f"warm-{name}")
    per_round: dict[str, list[float]] = {}
    for r in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in contestants}
        gc.collect()
        for i in range(runs):
            order = list(contestants)
            order = order[i % len(order) :] + order[: i % len(order)]
            for name in order:
                saver = contestants[name]
                started = time.perf_counter()
                await _run(graphs[name], f"{name}-{r}-{i}", None if saver is None else durability)
                times[name].append(time.perf_counter() - started)
        medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        added = {
            name: (medians[name] - medians[BARE]) / shape.supersteps for name in backend.savers
        }
        for name, ms in medians.items():
            per_round.setdefault(f"{name} ms", []).append(ms)
        for name, ms in added.items():
            per_round.setdefault(f"{name} +ms", []).append(ms)
        per_round.setdefault("ratio", []).append(added[TORTOISE] / added[backend.official])
        for name, saver in backend.savers.items():
            for i in range(runs):
                await saver.adelete_thread(f"{name}-{r}-{i}")
    return {key: statistics.median(values) for key, values in per_round.items()}


async def stored_bytes(backend: Backend, saver_name: str, n: int, *, durability: Durability) -> int:
    """Growth of the saver's tables over one run of N nodes with 10 KB outputs."""
    graph = linear(n, _payload).compile(checkpointer=backend.savers[saver_name])
    before = await backend.table_bytes(saver_name)
    await _run(graph, f"storage-{n}-{secrets.token_hex(4)}", durability)
    return await backend.table_bytes(saver_name) - before


TORTOISE_TABLES = (
    "workflow_run_checkpoints",
    "workflow_run_checkpoint_blobs",
    "workflow_run_checkpoint_writes",
)
SQLITE_OFFICIAL_TABLES = ("checkpoints", "writes")
POSTGRES_OFFICIAL_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


def _sqlite_table_bytes(path: Path, tables: tuple[str, ...]) -> int:
    """Pages of the tables and their indexes, read through ``dbstat`` (WAL included)."""
    marks = ", ".join("?" * len(tables))
    with closing(sqlite3.connect(path)) as conn:
        (size,) = conn.execute(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
            f"(SELECT name FROM sqlite_schema WHERE tbl_name IN ({marks}))",
            tables,
        ).fetchone()
    return int(size)


# Plait's SQLite pragmas (shared/database/connection.py), applied to the official saver's
# connection too, so the comparison is of the savers and not of fsync policies.
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


@asynccontextmanager
async def sqlite_backend() -> AsyncIterator[Backend]:
    """Both savers on SQLite: two files in one temporary directory."""
    with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
        plait_db, official_db = Path(tmp) / "plait.db", Path(tmp) / "official.db"
        async with (
            open_saver(f"sqlite://{plait_db}") as tortoise,
            aiosqlite.connect(official_db) as conn,
        ):
            for pragma in _SQLITE_PRAGMAS:
                await conn.execute(pragma)
            official = AsyncSqliteSaver(conn)
            await official.setup()
            files = {TORTOISE: (plait_db, TORTOISE_TABLES)}
            files["AsyncSqliteSaver"] = (official_db, SQLITE_OFFICIAL_TABLES)

            async def table_bytes(name: str) -> int:
                return await asyncio.to_thread(_sqlite_table_bytes, *files[name])

            yield Backend(
                name="SQLite",
                savers={TORTOISE: tortoise, "AsyncSqliteSaver": official},
                table_bytes=table_bytes,
            )


_POSTGRES_TABLE_BYTES = """
    SELECT coalesce(sum(pg_relation_size(part.oid, 'main')), 0)
    FROM pg_class AS t
    JOIN pg_class AS part ON part.oid IN (t.oid, t.reltoastrelid) OR part.oid IN (
        SELECT indexrelid FROM pg_index WHERE indrelid IN (t.oid, t.reltoastrelid)
    )
    WHERE t.relkind = 'r' AND t.relnamespace = 'public'::regnamespace AND t.relname = ANY(%s)
"""
"""Main-fork bytes of the tables, their TOAST tables and every index of either. Free-space
and visibility maps are left out: autovacuum creates them at moments of its choosing, which
would make one run's growth depend on when it ran."""


@asynccontextmanager
async def postgres_backend(server_url: str) -> AsyncIterator[Backend]:
    """Both savers in one fresh database on the server of ``server_url``, dropped after."""
    database = f"plait_bench_{secrets.token_hex(4)}"
    url = urlsplit(server_url)._replace(path=f"/{database}").geturl()
    async with await psycopg.AsyncConnection.connect(server_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        async with (
            open_saver(url) as tortoise,
            AsyncPostgresSaver.from_conn_string(url) as official,
            await psycopg.AsyncConnection.connect(url, autocommit=True) as probe,
        ):
            await official.setup()
            tables = {TORTOISE: TORTOISE_TABLES, "AsyncPostgresSaver": POSTGRES_OFFICIAL_TABLES}

            async def table_bytes(name: str) -> int:
                cursor = await probe.execute(_POSTGRES_TABLE_BYTES, (list(tables[name]),))
                (size,) = await cursor.fetchone()  # type: ignore[misc]
                return int(size)

            yield Backend(
                name="PostgreSQL",
                savers={TORTOISE: tortoise, "AsyncPostgresSaver": official},
                table_bytes=table_bytes,
            )
    finally:
        async with await psycopg.AsyncConnection.connect(server_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def report(backend: Backend, *, rounds: int, runs: int, durability: Durability) -> None:
    """Print the storage table, then the timing table, of one backend as markdown."""
    official = backend.official
    print(f"\n### {backend.name}: {TORTOISE} vs {official}\n")
    print("Bytes stored, linear graph, 10 KB output per node (growth of the saver's tables):\n")
    print("| saver | N = 10 | N = 25 | N = 50 | per node at 10 / 25 / 50 | 50 ÷ 10 |")
    print("|---|---:|---:|---:|---|---:|")
    for name in backend.savers:
        # A first run allocates each table's and index's first pages (and TOAST tables),
        # which would otherwise count against N = 10.
        await stored_bytes(backend, name, STORAGE_SIZES[0], durability=durability)
        sizes = [await stored_bytes(backend, name, n, durability=durability) for n in STORAGE_SIZES]
        per_node = " / ".join(
            f"{s / n / 1024:.1f} KiB" for s, n in zip(sizes, STORAGE_SIZES, strict=True)
        )
        kib = " | ".join(f"{s / 1024:,.0f} KiB" for s in sizes)
        print(f"| {name} | {kib} | {per_node} | {sizes[-1] / sizes[0]:.1f} |")
    print(f"\nTime, durability={durability!r}, medians of {rounds} rounds x {runs} runs:\n")
    print(
        f"| graph | supersteps | bare ms | {TORTOISE} ms | {official} ms "
        f"| {TORTOISE} +ms/superstep | {official} +ms/superstep | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for shape in shapes():
        m = await measure(shape, backend, rounds=rounds, runs=runs, durability=durability)
        print(
            f"| {shape.name} | {shape.supersteps} | {m[f'{BARE} ms']:.2f} "
            f"| {m[f'{TORTOISE} ms']:.2f} | {m[f'{official} ms']:.2f} "
            f"| {m[f'{TORTOISE} +ms']:.3f} | {m[f'{official} +ms']:.3f} | {m['ratio']:.2f} |"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--runs", type=int, default=20, help="runs of each contestant per round")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a server where the script may create and drop a database plait_bench_<hex>",
    )
    parser.add_argument(
        "--durability",
        choices=("async", "sync"),
        default="async",
        help="LangGraph durability of the timed runs (async: LangGraph's and Plait's default)",
    )
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3 (the figures are medians over rounds)")
    print(f"rounds={args.rounds} runs/round={args.runs} durability={args.durability}")
    backends: list[Callable[[], Any]] = []
    if args.backend in ("sqlite", "all"):
        backends.append(sqlite_backend)
    if args.backend in ("postgres", "all"):
        backends.append(lambda: postgres_backend(args.postgres_url))
    for open_backend in backends:
        async with open_backend() as backend:
            await report(backend, rounds=args.rounds, runs=args.runs, durability=args.durability)


if __name__ == "__main__":
    asyncio.run(main())
