"""What Plait's compiler adds to the cost of running a LangGraph graph.

A linear spec of N ``set`` nodes (each reads the previous node's output and adds one) runs
through ``compile_workflow(...).start`` beside a hand-written LangGraph ``StateGraph`` doing the
same work in plain Python, with no checkpointer and with ``InMemorySaver``. Runs alternate one
by one so drift on the machine hits both alike; each round gives the ratio of the two median
run times, and the figure is the median over rounds.

Also measured: compile time per node (cache cleared) and the cache-hit path.

    uv run python bench/compiler_overhead.py [--rounds 7] [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

import httpx
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.lowering.compiled import clear_cache
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.models import StaticModelProviders
from workflow_compiler.secrets import MappingSecrets

SIZES = (10, 50)


def linear_spec(n: int) -> dict[str, Any]:
    """N set nodes, each one more than the one before."""
    nodes = [{"id": "s0", "type": "set", "value": {"n": "{{ inputs.start }}"}}]
    nodes += [
        {"id": f"s{i}", "type": "set", "value": {"n": f"{{{{ nodes.s{i - 1}.output.n + 1 }}}}"}}
        for i in range(1, n)
    ]
    return {
        "version": "1",
        "inputs": {"type": "object", "properties": {"start": {"type": "integer"}}},
        "nodes": nodes,
        "output": {"n": f"{{{{ nodes.s{n - 1}.output.n }}}}"},
    }


def hand_written(n: int) -> StateGraph:
    """The same work as ``linear_spec(n)``, written directly against LangGraph.

    Nodes are ``async def``: under ``ainvoke`` LangGraph runs sync nodes in a thread pool,
    which is slower and would flatter Plait.
    """
    fields: dict[str, Any] = {"start": int, **{f"s{i}": dict for i in range(n)}}
    state = TypedDict("HandState", fields)  # type: ignore[operator]
    builder = StateGraph(state)

    def step(i: int) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
        key, previous = f"s{i}", f"s{i - 1}"

        async def first(s: dict[str, Any]) -> dict[str, Any]:
            return {key: {"n": s["start"]}}

        async def later(s: dict[str, Any]) -> dict[str, Any]:
            return {key: {"n": s[previous]["n"] + 1}}

        return first if i == 0 else later

    for i in range(n):
        builder.add_node(f"s{i}", step(i))
    builder.add_edge(START, "s0")
    for i in range(1, n):
        builder.add_edge(f"s{i - 1}", f"s{i}")
    builder.add_edge(f"s{n - 1}", END)
    return builder


async def _seconds(run: Callable[[int], Awaitable[Any]], i: int) -> float:
    started = time.perf_counter()
    await run(i)
    return time.perf_counter() - started


async def measure_run_overhead(
    n: int, *, checkpointed: bool, rounds: int, runs: int, services: RuntimeServices
) -> tuple[float, float, float]:
    """Median seconds per run of Plait and of the hand-written graph, and the median ratio.

    Runs alternate one by one (Plait, LangGraph, LangGraph, Plait, …), so a change of machine
    speed hits both; each round gives the ratio of the two medians, and the figure is the
    median over rounds.
    """
    compiled = compile_workflow(parse_spec(linear_spec(n), tools=services.tools))
    saver = InMemorySaver() if checkpointed else None
    graph = hand_written(n).compile(checkpointer=saver)

    async def plait(i: int) -> None:
        outcome = await compiled.start(
            {"start": 1}, run_id=f"p{i}", services=services, checkpointer=saver
        )
        assert outcome.status == "completed"
        assert outcome.output == {"n": n}

    async def langgraph(i: int) -> None:
        config = {"configurable": {"thread_id": f"l{i}"}}
        result = await graph.ainvoke({"start": 1}, config)
        assert result[f"s{n - 1}"] == {"n": n}

    await plait(-1)
    await langgraph(-1)
    plait_medians, base_medians, ratios = [], [], []
    for r in range(rounds):
        plait_times, base_times = [], []
        gc.collect()
        for i in range(runs):
            run_id = r * runs + i
            if i % 2 == 0:
                plait_times.append(await _seconds(plait, run_id))
                base_times.append(await _seconds(langgraph, run_id))
            else:
                base_times.append(await _seconds(langgraph, run_id))
                plait_times.append(await _seconds(plait, run_id))
        plait_medians.append(statistics.median(plait_times))
        base_medians.append(statistics.median(base_times))
        ratios.append(plait_medians[-1] / base_medians[-1])
        if saver is not None:
            saver.storage.clear()
            saver.writes.clear()
            saver.blobs.clear()
    return (
        statistics.median(plait_medians),
        statistics.median(base_medians),
        statistics.median(ratios),
    )


def measure_compile(n: int, *, rounds: int, services: RuntimeServices) -> tuple[float, float]:
    """Median seconds of (a cold compile, a cache hit) for ``linear_spec(n)``."""
    spec = parse_spec(linear_spec(n), tools=services.tools)
    cold, hit = [], []
    for _ in range(rounds):
        clear_cache()
        started = time.perf_counter()
        compile_workflow(spec)
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(1000):
            compile_workflow(spec)
        hit.append((time.perf_counter() - started) / 1000)
    return statistics.median(cold), statistics.median(hit)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median)")
    parser.add_argument("--runs", type=int, default=100, help="runs of each per round")
    args = parser.parse_args()
    async with httpx.AsyncClient() as http:
        services = RuntimeServices(
            tools=default_tool_registry(load_plugins=False),
            models=StaticModelProviders.from_env({}),
            secrets=MappingSecrets({}),
            http=http,
        )
        print(f"rounds={args.rounds} runs/round={args.runs}")
        print("| nodes | checkpointer | Plait ms/run | LangGraph ms/run | ratio |")
        print("|---:|---|---:|---:|---:|")
        for n in SIZES:
            for checkpointed in (False, True):
                plait, base, ratio = await measure_run_overhead(
                    n,
                    checkpointed=checkpointed,
                    rounds=args.rounds,
                    runs=args.runs,
                    services=services,
                )
                saver = "InMemorySaver" if checkpointed else "none"
                print(f"| {n} | {saver} | {plait * 1e3:.3f} | {base * 1e3:.3f} | {ratio:.3f} |")
        print()
        print("| nodes | cold compile ms | per node ms | cache hit µs |")
        print("|---:|---:|---:|---:|")
        for n in SIZES:
            cold, hit = measure_compile(n, rounds=args.rounds, services=services)
            print(f"| {n} | {cold * 1e3:.2f} | {cold * 1e3 / n:.3f} | {hit * 1e6:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
