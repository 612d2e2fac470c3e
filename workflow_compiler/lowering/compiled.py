"""A compiled workflow and its run API: start, resume, continue.

A spec compiles once into a LangGraph graph without a checkpointer; graphs are cached by spec
hash (bounded LRU) and shared by every run of that spec. Each call binds the caller's
checkpointer to a shallow copy of the graph (``Pregel.copy`` without re-validation: about
20 µs, against milliseconds for a compile). The thread id is the run id. The ``RunContext``
(services, clock, semaphores) travels as LangGraph's run ``context`` and is never stored.

Outcomes are values, not exceptions: a node failure that ends the run is
``RunOutcome(status="failed", error=...)``, and a run waiting for people is
``status="waiting_human"`` with one ``PendingInput`` per open question.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    CheckpointMetadata,
    CheckpointTuple,
    copy_checkpoint,
)
from langgraph.checkpoint.base.id import uuid6
from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Interrupt, StateSnapshot

from shared.errors import NotFoundError, PlaitError
from workflow_compiler.context import RunContext, RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import EventKind, RunEvent
from workflow_compiler.expressions import Renderer, compile_value
from workflow_compiler.inputs import InputValidator
from workflow_compiler.lowering.builder import LoweredGraph, lower
from workflow_compiler.lowering.state import INPUTS, RUN
from workflow_compiler.spec import WorkflowSpec
from workflow_compiler.spec.fields import tree_secret_names

CACHE_SIZE = 128
"""Compiled specs kept in memory; the least recently used is dropped first."""

_STEP_MARGIN = 3
"""Supersteps beyond the static bound: LangGraph's own input step, and slack."""

RunStatus = Literal["completed", "waiting_human", "failed"]


class CheckpointNotFoundError(NotFoundError):
    """A run was to be forked from a checkpoint its thread does not have (404)."""


class ResumeError(PlaitError):
    """``resume`` was given no answers, or answers to questions the run is not asking."""

    code = "resume_invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingInput:
    """A question a ``human`` node is waiting on."""

    id: str
    """The interrupt id; ``resume`` takes answers keyed by it."""
    node_id: str
    prompt: str
    schema: Mapping[str, Any]
    """JSON Schema the answer must satisfy."""
    error: str | None = None
    """Why the previous answer was refused, when this is a repeated question."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """Where a run stands after a call returned."""

    status: RunStatus
    output: Any = None
    """The rendered ``output`` mapping, when completed."""
    pending: list[PendingInput] = field(default_factory=list)
    """Open questions, when waiting_human."""
    error: NodeError | None = None
    """The failure that ended the run, when failed."""


class CompiledWorkflow:
    """A spec lowered to a LangGraph graph, runnable any number of times.

    Attributes:
        spec: The spec it was compiled from.
        spec_hash: ``spec.spec_hash()``, the cache key.
        graph: The compiled graph, without a checkpointer.
        secret_names: Every secret any node of the spec reads (known up front so that an
            execution can mask their values before a node meets one).
    """

    def __init__(self, spec: WorkflowSpec, spec_hash: str) -> None:
        lowered: LoweredGraph = lower(spec.nodes, name="Workflow")
        self.spec = spec
        self.spec_hash = spec_hash
        self.graph: CompiledStateGraph = lowered.graph
        self.recursion_limit = lowered.steps + _STEP_MARGIN
        """Bound on supersteps per call, from the spec's structure (loops times max_iterations)."""
        self._scope = lowered.scope
        self._output = _output_renderer(spec)
        self._inputs = InputValidator(spec.inputs)
        self.secret_names = tree_secret_names(spec.nodes)

    def validate_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The run inputs ``start`` would run with: checked, defaults applied.

        Raises:
            InputsInvalidError: every violation of the spec's input schema, with its path.
        """
        return self._inputs(inputs)

    def mermaid(self) -> str:
        """The graph as a Mermaid flowchart, for_each bodies drawn inside their runners."""
        return self.graph.get_graph(xray=True).draw_mermaid()

    async def start(
        self,
        inputs: Mapping[str, Any],
        *,
        run_id: str,
        services: RuntimeServices,
        checkpointer: BaseCheckpointSaver | None,
        run: Mapping[str, Any] | None = None,
    ) -> RunOutcome:
        """Run from the beginning until it completes, fails or waits for a person.

        Args:
            inputs: Run inputs; validated against the spec, defaults applied.
            run_id: The run's id, also the LangGraph thread id.
            services: Tools, providers, secrets, events, clock.
            checkpointer: Where checkpoints go; None runs without persistence (no resume).
            run: What expressions see as ``run`` (``id`` defaults to ``run_id``).

        Raises:
            InputsInvalidError: ``inputs`` fail the spec's input schema.
        """
        values = self._inputs(inputs)
        run_info = {"id": run_id, **(run or {})}
        context = RunContext(run_id=run_id, services=services, run=run_info)
        await _emit(context, "run_started", {"inputs": values})
        return await self._invoke({INPUTS: values, RUN: run_info}, context, checkpointer)

    async def resume(
        self,
        answers: Mapping[str, Any],
        *,
        run_id: str,
        services: RuntimeServices,
        checkpointer: BaseCheckpointSaver,
    ) -> RunOutcome:
        """Answer pending questions (keyed by ``PendingInput.id``) and run on.

        Questions left unanswered are asked again in the outcome.

        Raises:
            ResumeError: no answers, or an id that is not a pending question. (LangGraph
                would take a mapping without known ids as the answer itself.)
        """
        snapshot = await self._snapshot(run_id, checkpointer)
        pending = {item.id for item in snapshot.interrupts}
        unknown = sorted(set(answers) - pending)
        if not answers or unknown:
            detail = f"unknown question ids {unknown}" if unknown else "no answers given"
            raise ResumeError(f"cannot resume run '{run_id}': {detail}")
        context = _context(run_id, services, snapshot)
        return await self._invoke(Command(resume=dict(answers)), context, checkpointer)

    async def continue_run(
        self, *, run_id: str, services: RuntimeServices, checkpointer: BaseCheckpointSaver
    ) -> RunOutcome:
        """Run on from the last checkpoint, after a failure or a crash.

        Nodes that finished are not executed again; a node that failed is retried.
        """
        snapshot = await self._snapshot(run_id, checkpointer)
        return await self._invoke(None, _context(run_id, services, snapshot), checkpointer)

    async def pending(self, run_id: str, checkpointer: BaseCheckpointSaver) -> list[PendingInput]:
        """The questions a run waiting for people asks now (empty when it asks none)."""
        snapshot = await self._snapshot(run_id, checkpointer)
        return _pending(list(snapshot.interrupts))

    async def prepare_fork(
        self,
        *,
        run_id: str,
        checkpoint_id: str,
        values: Mapping[str, Any],
        checkpointer: BaseCheckpointSaver,
    ) -> None:
        """Make an earlier checkpoint of thread ``run_id``, with some state replaced, the
        thread's latest, for ``continue_run`` to run on from.

        The nodes that were due at that checkpoint execute again, and everything after
        them; the run's later checkpoints are left alone (the new ones branch off). Stored
        before anything executes, so a fork whose process stops at any point afterwards is
        continued from the fork point, never from the thread's old head. ``values``
        replaces node outputs (``{node_id: output}``, top-level nodes) and, under ``INPUTS``,
        the inputs, as if they had been so at that checkpoint.

        Raises:
            CheckpointNotFoundError: the thread has no such checkpoint.
        """
        config = _config(run_id, self.recursion_limit)
        config["configurable"] |= {"checkpoint_ns": "", "checkpoint_id": checkpoint_id}
        saved = await checkpointer.aget_tuple(config)
        if saved is None:
            raise CheckpointNotFoundError(f"run '{run_id}' has no checkpoint '{checkpoint_id}'")
        await _patched(checkpointer, saved, values)

    async def _snapshot(self, run_id: str, checkpointer: BaseCheckpointSaver) -> StateSnapshot:
        """The run's latest state, with its pending interrupts."""
        return await self._bind(checkpointer).aget_state(_config(run_id, self.recursion_limit))

    async def _invoke(
        self,
        graph_input: Any,
        context: RunContext,
        checkpointer: BaseCheckpointSaver | None,
    ) -> RunOutcome:
        """Invoke the graph on the run's thread, from its latest checkpoint."""
        graph = self._bind(checkpointer)
        config: RunnableConfig = (
            {"recursion_limit": self.recursion_limit}
            if checkpointer is None
            else _config(context.run_id, self.recursion_limit)
        )
        try:
            final = await graph.ainvoke(graph_input, config, context=context)
            interrupts: list[Interrupt] = final.get("__interrupt__") or []
            if interrupts:
                return RunOutcome(status="waiting_human", pending=_pending(interrupts))
            output = self._output(self._scope(final, context))
        except NodeError as error:
            return await _failed(context, error)
        except GraphRecursionError as exc:
            error = NodeError(ErrorKind.LIMIT_EXCEEDED, f"run exceeded its step bound: {exc}")
            return await _failed(context, error)
        await _emit(context, "run_completed", {"output": output})
        return RunOutcome(status="completed", output=output)

    def _bind(self, checkpointer: BaseCheckpointSaver | None) -> CompiledStateGraph:
        """The cached graph with ``checkpointer``: a shallow copy, not a recompile."""
        if checkpointer is None:
            return self.graph
        return self.graph.copy({"checkpointer": checkpointer, "auto_validate": False})


def _context(run_id: str, services: RuntimeServices, snapshot: StateSnapshot) -> RunContext:
    """The context of a run that already started, ``run`` read back from its state."""
    return RunContext(run_id=run_id, services=services, run=snapshot.values.get(RUN) or {})


def _config(run_id: str, recursion_limit: int) -> RunnableConfig:
    """The config of a checkpointed call. Without a checkpointer the thread id is left out:
    LangGraph copies ``configurable`` into every task's metadata, a cost for nothing there."""
    return {"configurable": {"thread_id": run_id}, "recursion_limit": recursion_limit}


async def _patched(
    checkpointer: BaseCheckpointSaver, saved: CheckpointTuple, values: Mapping[str, Any]
) -> None:
    """Store a sibling of checkpoint ``saved`` holding ``values`` (channel → value); its id
    sorts after every other of the thread, so it is the thread's latest.

    Only the replaced channels get a new version; the channels that decide which nodes run
    next (and what each node has seen) are those of ``saved``, so the same nodes are due.
    """
    checkpoint = copy_checkpoint(saved.checkpoint)
    checkpoint["id"] = str(uuid6(clock_seq=saved.metadata.get("step", 0) + 1))
    new_versions: dict[str, Any] = {}
    for channel, value in values.items():
        version = checkpointer.get_next_version(checkpoint["channel_versions"].get(channel), None)
        checkpoint["channel_values"][channel] = value
        checkpoint["channel_versions"][channel] = version
        new_versions[channel] = version
    metadata: CheckpointMetadata = {
        "source": "update",
        "step": saved.metadata.get("step", 0),
        "parents": saved.metadata.get("parents", {}),
    }
    parent = saved.parent_config or {
        "configurable": {
            "thread_id": saved.config["configurable"]["thread_id"],
            "checkpoint_ns": "",
        }
    }
    await checkpointer.aput(parent, checkpoint, metadata, new_versions)


def _output_renderer(spec: WorkflowSpec) -> Renderer:
    """Renders ``spec.output`` in the final scope; unset: the last top-level node's output."""
    if spec.output is not None:
        return compile_value(spec.output)
    last = spec.nodes[-1].id
    return lambda scope: scope["nodes"][last]["output"]


def _pending(interrupts: list[Interrupt]) -> list[PendingInput]:
    pending = []
    for item in interrupts:
        value = item.value
        pending.append(
            PendingInput(
                id=item.id,
                node_id=value["node_id"],
                prompt=value["prompt"],
                schema=value["schema"],
                error=value.get("error"),
            )
        )
    return pending


async def _failed(context: RunContext, error: NodeError) -> RunOutcome:
    await _emit(context, "run_failed", {"error": error.to_dict()})
    return RunOutcome(status="failed", error=error)


async def _emit(context: RunContext, kind: EventKind, data: dict[str, Any]) -> None:
    services = context.services
    await services.events.emit(
        RunEvent(kind=kind, run_id=context.run_id, at=services.clock.now(), data=data)
    )


_cache: OrderedDict[str, CompiledWorkflow] = OrderedDict()
_cache_lock = threading.Lock()


def compile_workflow(spec: WorkflowSpec) -> CompiledWorkflow:
    """The compiled form of a checked spec, from the cache when the same spec was compiled.

    The spec must have passed the static checks (``parse_spec``); lowering trusts them.
    """
    key = spec.spec_hash()
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is not None:
            _cache.move_to_end(key)
            return compiled
    compiled = CompiledWorkflow(spec, key)
    with _cache_lock:
        compiled = _cache.setdefault(key, compiled)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def clear_cache() -> None:
    """Forget every compiled spec (benchmarks measure cold compiles with it)."""
    with _cache_lock:
        _cache.clear()
