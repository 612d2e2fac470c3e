"""Blocks to LangGraph nodes and edges.

Every block has one entry node and a set of exits, each a way control can leave it:

- ``_Edge(node)``: the node's plain edge to whatever comes next;
- ``_Route(targets, name)``: a routing node's ``goto`` for route ``name`` (an empty branch
  goes straight to the block's successor this way);
- ``_Barrier(nodes)``: a waiting edge that fires once all of the nodes have run (the join of
  a ``parallel``).

Lowering a list connects each block's exits to the next block's entry; an empty list passes
its incoming exits through. A ``parallel`` needs each branch to end in one node for its
barrier, so a branch with several exits (one ending in an ``if``) gets a no-op merge node.
Synthetic nodes are named ``<id>.<role>``: a ``.`` never occurs in a spec id, and LangGraph
only forbids ``|`` and ``:`` in node names.

Each lowering also returns a bound on the supersteps it can take, from which the run's
``recursion_limit`` is set (never LangGraph's default of 25).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from workflow_compiler.context import RunContext
from workflow_compiler.executors import build_executor
from workflow_compiler.executors.runner import CompiledStep
from workflow_compiler.expressions import compile_value
from workflow_compiler.lowering.control import (
    IfExecutor,
    ItemsExecutor,
    LoopExecutor,
    ParallelExecutor,
    SwitchExecutor,
)
from workflow_compiler.lowering.for_each import CollectNode, DispatchNode, Finish, item_runner
from workflow_compiler.lowering.state import (
    INPUTS,
    NOTHING,
    GraphState,
    Needs,
    ScopeBuilder,
    graph_nodes,
    output_key,
    results_key,
    variable_key,
)
from workflow_compiler.lowering.steps import (
    BODY,
    DONE,
    SKIP,
    LoopCheckNode,
    RouteNode,
    StepNode,
    Targets,
    branch_route,
    case_route,
    merge,
)
from workflow_compiler.spec import (
    ForEachNode,
    IfNode,
    LoopNode,
    Node,
    ParallelNode,
    SwitchNode,
)


@dataclass(frozen=True, slots=True)
class _Edge:
    source: str


@dataclass(frozen=True, slots=True, eq=False)
class _Route:
    targets: Targets
    name: str


@dataclass(frozen=True, slots=True)
class _Barrier:
    sources: tuple[str, ...]


_Exit = _Edge | _Route | _Barrier


@dataclass(frozen=True, slots=True)
class LoweredGraph:
    """A compiled graph (no checkpointer) with what running it needs."""

    graph: CompiledStateGraph
    scope: ScopeBuilder
    """Builds a scope over this graph's final state (for ``output`` and for_each results)."""
    steps: int
    """Bound on the supersteps of this graph and of any body graph it runs."""


@dataclass(frozen=True, slots=True)
class _Node:
    action: Any
    reads: type | None
    """Input schema: the channels the node reads; None for the whole state."""
    targets: Targets | None = None
    """The node's route table, if it routes with ``Command``."""
    fixed: tuple[str, ...] = ()
    """Nodes it reaches by ``Send`` or a computed ``goto``."""

    def destinations(self) -> tuple[str, ...] | None:
        """Where the node's ``Command`` may go; LangGraph only uses it to draw the graph."""
        found = [*self.fixed, *(self.targets or {}).values()]
        return tuple(dict.fromkeys(found)) or None


def lower(
    nodes: Sequence[Node],
    *,
    name: str,
    outer_ids: Iterable[str] = (),
    variables: Iterable[str] = (),
    nested: bool = False,
) -> LoweredGraph:
    """Lower a node list into a compiled graph.

    Args:
        nodes: The top-level spec nodes, or a for_each body.
        name: Name of the state schema (and of the graph).
        outer_ids: Nodes outside ``nodes`` whose outputs the state carries (a body's reads).
        variables: Loop variables the state carries.
        nested: ``nodes`` is a for_each body, run once per item.
    """
    return _GraphBuilder(nodes, name, outer_ids, variables, nested=nested).build()


class _GraphBuilder:
    """Collects one graph's nodes and edges while blocks are lowered, then compiles it.

    Nodes are added to the ``StateGraph`` only at the end, once every route table is filled,
    so that each routing node can declare its destinations (for drawing).
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        name: str,
        outer_ids: Iterable[str],
        variables: Iterable[str],
        *,
        nested: bool,
    ) -> None:
        self._spec_nodes = nodes
        self._name = name
        local = list(graph_nodes(nodes))
        self._state = GraphState(
            name,
            node_ids=[*outer_ids, *(node.id for node in local)],
            variables=variables,
            for_each_ids=[node.id for node in local if isinstance(node, ForEachNode)],
            nested=nested,
        )
        self._scope = self._state.scope
        self._nodes: dict[str, _Node] = {}
        self._edges: dict[tuple[str, str], None] = {}
        self._waiting: dict[tuple[tuple[str, ...], str], None] = {}
        self._body_steps = 0

    def build(self) -> LoweredGraph:
        exits, steps = self._list(self._spec_nodes, [_Edge(START)])
        self._connect(exits, END)
        builder = StateGraph(self._state.schema(), context_schema=RunContext)
        for node_name, node in self._nodes.items():
            builder.add_node(
                node_name,
                node.action,
                input_schema=node.reads,
                destinations=node.destinations(),
            )
        for source, target in self._edges:
            builder.add_edge(source, target)
        for sources, target in self._waiting:
            builder.add_edge(list(sources), target)
        graph = builder.compile(name=self._name)
        return LoweredGraph(graph, self._scope, max(steps, self._body_steps))

    def _list(self, nodes: Sequence[Node], incoming: list[_Exit]) -> tuple[list[_Exit], int]:
        """Lower blocks in sequence; returns the last block's exits and the supersteps."""
        steps = 0
        for node in nodes:
            entry, exits, block_steps = self._block(node)
            self._connect(incoming, entry)
            incoming = exits
            steps += block_steps
        return incoming, steps

    def _block(self, node: Node) -> tuple[str, list[_Exit], int]:
        """Lower one node and what it contains: (entry, exits, supersteps)."""
        match node:
            case IfNode() | SwitchNode():
                return self._branching(node)
            case ParallelNode():
                return self._parallel(node)
            case LoopNode():
                return self._loop(node)
            case ForEachNode():
                return self._for_each(node)
            case _:
                step = CompiledStep.build(node, build_executor(node))
                self._add(node.id, StepNode(step, self._scope), self._reads(node))
                return node.id, [_Edge(node.id)], 1

    def _branching(self, node: IfNode | SwitchNode) -> tuple[str, list[_Exit], int]:
        if isinstance(node, IfNode):
            action = RouteNode(
                CompiledStep.build(node, IfExecutor(node)), self._scope, branch_route
            )
            branches = [("then", node.then), ("else", node.else_)]
        else:
            action = RouteNode(
                CompiledStep.build(node, SwitchExecutor(node)), self._scope, case_route
            )
            branches = [(str(i), case.nodes) for i, case in enumerate(node.cases)]
            branches.append(("default", node.default))
        self._add(node.id, action, self._reads(node), action.targets)
        exits: list[_Exit] = []
        longest = 0
        for route, branch in branches:
            branch_exits, steps = self._list(branch, [_Route(action.targets, route)])
            exits += branch_exits
            longest = max(longest, steps)
        if node.on_error == "continue":
            exits.append(_Route(action.targets, SKIP))
        return node.id, exits, 1 + longest

    def _parallel(self, node: ParallelNode) -> tuple[str, list[_Exit], int]:
        step = CompiledStep.build(node, ParallelExecutor())
        self._add(node.id, StepNode(step, self._scope), self._reads(node))
        ends: list[str] = []
        longest = 0
        for i, branch in enumerate(node.branches):
            branch_exits, steps = self._list(branch, [_Edge(node.id)])
            if len(branch_exits) == 1 and isinstance(branch_exits[0], _Edge):
                ends.append(branch_exits[0].source)
            else:
                join = f"{node.id}.branch{i}"
                self._add(join, merge, self._state.input_schema(join))
                self._connect(branch_exits, join)
                ends.append(join)
                steps += 1
            longest = max(longest, steps)
        return node.id, [_Barrier(tuple(dict.fromkeys(ends)))], 1 + longest

    def _loop(self, node: LoopNode) -> tuple[str, list[_Exit], int]:
        step = CompiledStep.build(node, LoopExecutor(node))
        targets: Targets = {}
        repeat = f"{node.id}.repeat"
        outer = self._scope
        entry = LoopCheckNode(step, outer, targets, entry=True)
        self._add(node.id, entry, self._reads(node, node.id, output_key(node.id)), targets)
        self._scope = outer.in_loop(node.id)  # the repeat check and the body run in a pass
        check = LoopCheckNode(step, self._scope, targets, entry=False)
        self._add(repeat, check, self._reads(node, repeat, output_key(node.id)), targets)
        body_exits, body_steps = self._list(node.body, [_Route(targets, BODY)])
        self._scope = outer
        self._connect(body_exits, repeat)
        return node.id, [_Route(targets, DONE)], 1 + node.max_iterations * (body_steps + 1)

    def _for_each(self, node: ForEachNode) -> tuple[str, list[_Exit], int]:
        needs = Needs.of(node.body, [node.result] if node.result is not None else [])
        own = (node.as_, node.index_as)
        carried_ids = [i for i in self._state.node_ids if needs.any_node or i in needs.node_ids]
        carried_vars = [v for v in self._state.variables if v in needs.variables and v not in own]
        body = lower(
            node.body,
            name=f"{self._name}.{node.id}",
            outer_ids=carried_ids,
            variables=(*carried_vars, *own),
            nested=True,
        )
        self._body_steps = max(self._body_steps, body.steps)
        carry = (
            *((INPUTS,) if needs.inputs else ()),
            *map(output_key, carried_ids),
            *map(variable_key, carried_vars),
        )
        runner, collector = f"{node.id}.item", f"{node.id}.collect"
        dispatch = DispatchNode(
            CompiledStep.build(node, ItemsExecutor(node)),
            self._scope,
            carry=carry,
            item_key=variable_key(node.as_),
            index_key=variable_key(node.index_as),
            runner=runner,
            collector=collector,
        )
        reads = self._reads(node, node.id, *carry)
        self._add(node.id, dispatch, reads, dispatch.targets, fixed=(runner, collector))
        run_item = item_runner(
            body.graph,
            _finish(node, body.scope),
            for_each_id=node.id,
            index_key=variable_key(node.index_as),
            concurrency=node.concurrency,
        )
        self._add(runner, run_item, None)  # its input is the Send payload, not the state
        self._add(
            collector,
            CollectNode(node.id),
            self._state.input_schema(collector, NOTHING, results_key(node.id)),
        )
        self._edges[runner, collector] = None
        exits: list[_Exit] = [_Edge(collector)]
        if node.on_error == "continue":
            exits.append(_Route(dispatch.targets, SKIP))
        return node.id, exits, 3

    def _reads(self, node: Node, name: str | None = None, *extra: str) -> type | None:
        """Input schema of the LangGraph node ``name`` (default: the spec id) running
        ``node``: the channels of its own expressions and of its scope, plus ``extra``."""
        return self._state.input_schema(
            name or node.id, Needs.of_node(node), *extra, *self._scope.channels
        )

    def _add(
        self,
        name: str,
        action: Any,
        reads: type | None,
        targets: Targets | None = None,
        fixed: tuple[str, ...] = (),
    ) -> None:
        self._nodes[name] = _Node(action, reads, targets, fixed)

    def _connect(self, exits: list[_Exit], target: str) -> None:
        """Make every exit lead to ``target``, which may be ``END``."""
        for exit_ in exits:
            match exit_:
                case _Edge(source) | _Barrier((source,)):
                    self._edges[source, target] = None
                case _Route(targets, name):
                    targets[name] = target
                case _Barrier(sources):
                    self._waiting[sources, target] = None


def _finish(node: ForEachNode, scope: ScopeBuilder) -> Finish:
    """An item's result from its body's final state: ``result`` rendered in the body's scope,
    or the output of the body's last node."""
    if node.result is None:
        last = output_key(node.body[-1].id)
        return lambda final, run: final.get(last)
    render = compile_value(node.result)
    return lambda final, run: render(scope(final, run))
