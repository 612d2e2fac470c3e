"""Graph state: one channel per node output, and the expression scope built over it.

Channel keys all contain ``:``, which spec ids (``[a-z][a-z0-9_]*``) cannot, so a channel never
collides with a LangGraph node named after a spec id::

    wf:inputs        the validated run inputs (written once, by the graph input)
    wf:run           the ``run`` mapping, kept so that resume and continue see it again
    wf:scope         in a body graph: the body pass it runs (``each[3]``), set by the Send
    out:<id>         the output of spec node <id>; nothing else ever writes it
    var:<name>       a for_each loop variable, in a body graph
    res:<id>         (index, result) pairs of for_each <id>'s items, reduced by concatenation

Each node returns ``{"out:<id>": output}`` only, so LangGraph bumps the version of that one
channel and a checkpoint stores it alone; unchanged outputs are never stored again.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from workflow_compiler.context import RunContext
from workflow_compiler.expressions import not_run, references
from workflow_compiler.spec import ForEachNode, Node, child_lists, walk
from workflow_compiler.spec.fields import expression_fields

INPUTS = "wf:inputs"
RUN = "wf:run"
SCOPE = "wf:scope"
OUTPUT_PREFIX = "out:"


def output_key(node_id: str) -> str:
    """The channel holding a node's output."""
    return OUTPUT_PREFIX + node_id


def variable_key(name: str) -> str:
    """The channel holding a for_each loop variable inside its body graph."""
    return "var:" + name


def results_key(for_each_id: str) -> str:
    """The reducer channel collecting a for_each's (index, result) pairs."""
    return "res:" + for_each_id


class NodesView(dict[str, Any]):
    """``nodes`` as expressions see it: ``nodes.<id>.output``, looked up on first access.

    A ``dict`` subclass (the expression sandbox reads attributes of dicts as keys) that starts
    empty and fills itself from the state through ``__missing__``, so building a scope costs
    nothing however many nodes the graph has. A known node that has not run reads as
    ``{"output": NotRun}`` (null, but caught by ``default``); an unknown id is a missing key,
    i.e. undefined.
    """

    __slots__ = ("_keys", "_state")

    def __init__(self, state: Mapping[str, Any], keys: Mapping[str, str]) -> None:
        super().__init__()
        self._state = state
        self._keys = keys

    def __missing__(self, node_id: str) -> dict[str, Any]:
        key = self._keys[node_id]
        entry = {"output": self._state[key] if key in self._state else not_run(node_id)}
        self[node_id] = entry
        return entry


class ScopeBuilder:
    """Builds a node's expression scope from the state of the graph it runs in, and names
    the body pass the node executes in (its events' ``scope``).

    Args:
        node_ids: Nodes whose output channels this graph's state holds.
        variables: Loop variables this graph's state holds.
        nested: The graph is a for_each body, whose ``SCOPE`` channel names its item.
        loops: The loops of this graph whose body the node is in, outermost first.
    """

    __slots__ = ("_loops", "_nested", "_outputs", "_variables")

    def __init__(
        self,
        node_ids: Iterable[str],
        variables: Iterable[str] = (),
        *,
        nested: bool = False,
        loops: Iterable[str] = (),
    ) -> None:
        self._outputs = {node_id: output_key(node_id) for node_id in node_ids}
        self._variables = tuple((name, variable_key(name)) for name in variables)
        self._nested = nested
        self._loops = tuple((loop_id, output_key(loop_id)) for loop_id in loops)

    def __call__(self, state: Mapping[str, Any], run: RunContext) -> dict[str, Any]:
        scope = {
            "inputs": state.get(INPUTS),
            "nodes": NodesView(state, self._outputs),
            "run": run.run,
        }
        for name, key in self._variables:
            scope[name] = state.get(key)
        return scope

    def in_loop(self, loop_id: str) -> ScopeBuilder:
        """The builder of the nodes in the body of loop ``loop_id`` (in this graph)."""
        return ScopeBuilder(
            self._outputs,
            (name for name, _ in self._variables),
            nested=self._nested,
            loops=(*(outer for outer, _ in self._loops), loop_id),
        )

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels ``where`` reads, which a node's input schema must include."""
        return (*((SCOPE,) if self._nested else ()), *(key for _, key in self._loops))

    def where(self, state: Mapping[str, Any]) -> str:
        """The body pass a node executes in: ``""`` at the top level, else its path, e.g.
        ``each[3]/retry#2`` (pass 2 of loop ``retry`` in item 3 of for_each ``each``).

        A loop's output is ``{"iterations": n}`` while its pass n runs, so the pass number is
        read from the state rather than counted, and is right again on resume.
        """
        if not self._loops:
            return (state.get(SCOPE) or "") if self._nested else ""
        parts = [state.get(SCOPE) or ""] if self._nested else []
        parts.extend(f"{loop_id}#{state[key]['iterations']}" for loop_id, key in self._loops)
        return "/".join(part for part in parts if part)


def nested_scope(outer: str, for_each_id: str, index: int) -> str:
    """The ``SCOPE`` of item ``index`` of for_each ``for_each_id`` run in pass ``outer``."""
    item = f"{for_each_id}[{index}]"
    return f"{outer}/{item}" if outer else item


@dataclass(frozen=True, slots=True)
class Needs:
    """What some expressions read from outside themselves."""

    node_ids: frozenset[str]
    """Nodes read by a constant id (``nodes.fetch...``)."""
    any_node: bool
    """Some expression reads ``nodes`` with a computed key, so any node may be read."""
    inputs: bool
    variables: frozenset[str]
    """Free names other than the reserved ones: loop variables."""

    @classmethod
    def of(cls, nodes: Sequence[Node], templates: Iterable[str] = ()) -> Needs:
        """The references of every expression in ``nodes`` (nested ones included), plus
        ``templates``: what a for_each body must be given."""
        return cls._of(_sources(nodes, templates))

    @classmethod
    def of_node(cls, node: Node) -> Needs:
        """The references of a node's own expressions: what its LangGraph node reads."""
        return cls._of((field.source, field.condition) for field in expression_fields(node))

    @classmethod
    def _of(cls, sources: Iterable[tuple[str, bool]]) -> Needs:
        """Sources that do not parse are skipped: the static checks reject them first."""
        node_ids: set[str] = set()
        variables: set[str] = set()
        any_node = inputs = False
        for source, condition in sources:
            try:
                refs = references(source, condition=condition)
            except ValueError:
                continue
            for ref in refs:
                if ref.root == "nodes":
                    if ref.path and isinstance(ref.path[0], str):
                        node_ids.add(ref.path[0])
                    else:
                        any_node = True
                elif ref.root == "inputs":
                    inputs = True
                elif ref.root not in ("run", "secrets"):
                    variables.add(ref.root)
        return cls(frozenset(node_ids), any_node, inputs, frozenset(variables))


NOTHING = Needs(frozenset(), any_node=False, inputs=False, variables=frozenset())
"""The needs of a node without expressions."""


def _sources(nodes: Sequence[Node], templates: Iterable[str]) -> Iterator[tuple[str, bool]]:
    for source in templates:
        yield source, False
    for _, node in walk(list(nodes)):
        for field in expression_fields(node):
            yield field.source, field.condition
        if isinstance(node, ForEachNode) and node.result is not None:
            yield node.result, False


def graph_nodes(nodes: Sequence[Node]) -> Iterator[Node]:
    """The nodes that become LangGraph nodes of one graph: every node of the tree except
    those inside for_each bodies, which run in their own body graph."""
    for node in nodes:
        yield node
        if not isinstance(node, ForEachNode):
            for _, children in child_lists(node):
                yield from graph_nodes(children)


class GraphState:
    """The channels of one graph (the top level, or a for_each body).

    Besides the state schema, it gives each node an input schema of only the channels the
    node reads, so LangGraph hands a node those few channels rather than the whole state.

    Args:
        name: Name of the graph, prefix of its schema names.
        node_ids: Nodes whose outputs the state holds: its own, and those carried in.
        variables: Loop variables the state holds.
        for_each_ids: for_each nodes of this graph, each with a results channel.
        nested: The graph is a for_each body (it has a ``SCOPE`` channel).
    """

    def __init__(
        self,
        name: str,
        *,
        node_ids: Iterable[str],
        variables: Iterable[str] = (),
        for_each_ids: Iterable[str] = (),
        nested: bool = False,
    ) -> None:
        self.name = name
        self.node_ids = tuple(dict.fromkeys(node_ids))
        self.variables = tuple(dict.fromkeys(variables))
        self.scope = ScopeBuilder(self.node_ids, self.variables, nested=nested)
        fields: dict[str, Any] = {INPUTS: dict[str, Any], RUN: dict[str, Any]}
        if nested:
            fields[SCOPE] = str
        fields.update((output_key(node_id), Any) for node_id in self.node_ids)
        fields.update((variable_key(var), Any) for var in self.variables)
        fields.update(
            (results_key(fid), Annotated[list[Any], operator.add]) for fid in for_each_ids
        )
        self._fields = fields

    def schema(self) -> type:
        """A TypedDict of every channel, from which ``StateGraph`` derives them."""
        return TypedDict(self.name, self._fields)  # type: ignore[operator]

    def input_schema(self, node_name: str, needs: Needs = NOTHING, *extra: str) -> type | None:
        """A TypedDict of the channels a node reads (``needs`` plus ``extra``); None when it
        may read any node, and so needs the whole state."""
        if needs.any_node:
            return None
        keys = [
            *((INPUTS,) if needs.inputs else ()),
            *(output_key(i) for i in self.node_ids if i in needs.node_ids),
            *(variable_key(v) for v in self.variables if v in needs.variables),
            *extra,
        ]
        fields = {key: self._fields[key] for key in keys}
        return TypedDict(f"{self.name}.{node_name}", fields)  # type: ignore[operator]
