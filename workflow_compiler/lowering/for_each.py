"""``for_each``: a dispatcher, an item runner per item (through ``Send``) and a collector.

    <id>  ──Send(n)──▶  <id>.item  ──▶  <id>.collect  ──▶  next
      └──────── (no items) ──────────────▲

The dispatcher evaluates ``items``, resets the ``res:<id>`` reducer (so a for_each inside a
loop starts fresh) and sends one payload per item: the loop variables, the channels the
body's expressions read, and the item's scope (``<id>[i]`` under the dispatcher's own). Each
runner invokes the separately compiled body graph with the runner's own config, so the body
runs as a LangGraph subgraph: each body node is a checkpointed node in the runner's
namespace and an ``interrupt()`` inside a body pauses the run like any other. Runners wait
on a semaphore per for_each instance, which bounds how many bodies run at once, and append
``(index, result)``; the collector writes the results in item order as the for_each's
output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Overwrite, Send

from workflow_compiler.context import RunContext
from workflow_compiler.executors.runner import CompiledStep, run_step
from workflow_compiler.lowering.state import (
    SCOPE,
    ScopeBuilder,
    nested_scope,
    output_key,
    results_key,
)
from workflow_compiler.lowering.steps import SKIP, State, Targets, task_id

_NS_SEP = "|"
"""Separator of LangGraph checkpoint namespaces (``outer:task|inner:task``)."""

Finish = Callable[[Mapping[str, Any], RunContext], Any]
"""Turns a body graph's final state into the item's result."""


class DispatchNode:
    """Evaluates ``items`` and sends one payload per item to the runner.

    Args:
        step: The for_each node with an ``ItemsExecutor``.
        scope: Scope builder of the graph the for_each is in.
        carry: Channels of this graph that the body reads, copied into each payload.
        item_key: Body channel of the item variable (``as``).
        index_key: Body channel of the index variable (``index_as``).
        runner: Name of the runner node.
        collector: Name of the collector node.
    """

    __slots__ = (
        "_carry",
        "_collector",
        "_id",
        "_index",
        "_item",
        "_key",
        "_results",
        "_runner",
        "_scope",
        "_step",
        "targets",
    )

    def __init__(
        self,
        step: CompiledStep,
        scope: ScopeBuilder,
        *,
        carry: tuple[str, ...],
        item_key: str,
        index_key: str,
        runner: str,
        collector: str,
    ) -> None:
        self._step = step
        self._id = step.node.id
        self._scope = scope
        self._carry = carry
        self._item = item_key
        self._index = index_key
        self._runner = runner
        self._collector = collector
        self._key = output_key(step.node.id)
        self._results = results_key(step.node.id)
        self.targets: Targets = {}

    async def __call__(self, state: State, runtime: Runtime[RunContext]) -> Command[str]:
        run = runtime.context
        scope = self._scope(state, run)
        within = self._scope.where(state)
        items = await run_step(self._step, run, scope, execution_id=task_id(runtime), within=within)
        if not isinstance(items, list):  # the failure became the output (on_error: continue)
            return Command(update={self._key: items}, goto=self.targets[SKIP])
        carried = {key: state[key] for key in self._carry if key in state}
        sends = [
            Send(
                self._runner,
                {
                    **carried,
                    self._item: item,
                    self._index: index,
                    SCOPE: nested_scope(within, self._id, index),
                },
            )
            for index, item in enumerate(items)
        ]
        return Command(update={self._results: Overwrite([])}, goto=sends or self._collector)


def item_runner(
    body: CompiledStateGraph,
    finish: Finish,
    *,
    for_each_id: str,
    index_key: str,
    concurrency: int,
) -> Callable[..., Any]:
    """The runner node: one body run per item, at most ``concurrency`` at a time.

    A closure rather than an object so that LangGraph, which looks for graphs among a node
    function's free variables, recognises ``body`` as a subgraph (for ``get_graph(xray=...)``
    and state inspection).
    """
    results = results_key(for_each_id)

    async def run_item(
        payload: dict[str, Any], config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        run = runtime.context
        async with _semaphore(run, config, for_each_id, concurrency):
            final = await body.ainvoke(payload, config, context=run)
        return {results: [(payload[index_key], finish(final, run))]}

    return run_item


def _semaphore(
    run: RunContext, config: RunnableConfig, for_each_id: str, concurrency: int
) -> asyncio.Semaphore:
    """The semaphore of this for_each instance.

    Keyed by the namespace of the graph the for_each runs in, so each item of an outer
    for_each bounds its own inner for_each separately.
    """
    namespace = config.get("configurable", {}).get("checkpoint_ns", "")
    key = f"{namespace.rpartition(_NS_SEP)[0]}{_NS_SEP}{for_each_id}"
    semaphore = run.semaphores.get(key)
    if semaphore is None:
        semaphore = run.semaphores[key] = asyncio.Semaphore(concurrency)
    return semaphore


class CollectNode:
    """Writes the items' results, in item order, as the for_each's output."""

    __slots__ = ("_key", "_results")

    def __init__(self, for_each_id: str) -> None:
        self._key = output_key(for_each_id)
        self._results = results_key(for_each_id)

    async def __call__(self, state: State) -> dict[str, Any]:
        pairs = sorted(state.get(self._results) or (), key=itemgetter(0))
        return {self._key: [result for _, result in pairs]}
