"""What an expression may read at one point of the node tree (DESIGN §3, references).

Blocks have one entry and one exit, so the scope at any point is computed in one pass over the
tree: a node that has *surely* run is a plain reference; one that *may* have run (a branch of
an ``if``/``switch``, a later node of a ``loop`` body from the previous pass) reads as null when
it did not; anything else cannot be read, and ``hidden`` remembers why for the message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from workflow_compiler.checks.types import SchemaAt
from workflow_compiler.spec import IfNode, Node, ParallelNode, SwitchNode, child_lists, walk


@dataclass(frozen=True, slots=True)
class Scope:
    """Node ids and loop variables visible at one point; every change returns a new scope."""

    sure: frozenset[str] = frozenset()
    """Nodes that ran before this point on every path."""
    maybe: Mapping[str, str] = field(default_factory=dict)
    """Nodes that ran on some paths only, each with the reason."""
    hidden: Mapping[str, str] = field(default_factory=dict)
    """Nodes that exist but can never be read here, each with the reason."""
    variables: Mapping[str, SchemaAt | None] = field(default_factory=dict)
    """Loop variables in scope, with the schema of their value when known."""

    def ran(self, node_id: str) -> Scope:
        return dataclasses.replace(self, sure=self.sure | {node_id})

    def may_have_run(self, reasons: Mapping[str, str]) -> Scope:
        return dataclasses.replace(self, maybe={**reasons, **self.maybe})

    def hiding(self, reasons: Mapping[str, str]) -> Scope:
        return dataclasses.replace(self, hidden={**self.hidden, **reasons})

    def unhiding(self, ids: Collection[str]) -> Scope:
        hidden = {k: v for k, v in self.hidden.items() if k not in ids}
        return dataclasses.replace(self, hidden=hidden)

    def binding(self, variables: Mapping[str, SchemaAt | None]) -> Scope:
        return dataclasses.replace(self, variables={**self.variables, **variables})


def after_choice(entry: Scope, ends: list[Scope], reason: str) -> Scope:
    """The scope after an ``if``/``switch``: sure only what every branch made sure.

    Args:
        entry: The scope each branch started from.
        ends: The scope at the end of each branch (an empty ``else`` counts, as ``entry``).
        reason: Why a node run by some branches only may not have run.
    """
    sure = frozenset.intersection(*(end.sure for end in ends))
    maybe: dict[str, str] = {}
    for end in ends:
        for node_id, why in end.maybe.items():
            maybe.setdefault(node_id, why)
    for end in ends:
        for node_id in end.sure - sure:
            maybe.setdefault(node_id, reason)
    return Scope(sure, maybe, _hidden(ends), entry.variables)


def after_all(entry: Scope, ends: list[Scope]) -> Scope:
    """The scope after a ``parallel``: the join waits for every branch."""
    sure = frozenset.union(*(end.sure for end in ends))
    maybe: dict[str, str] = {}
    for end in ends:
        for node_id, why in end.maybe.items():
            if node_id not in sure:
                maybe.setdefault(node_id, why)
    return Scope(sure, maybe, _hidden(ends), entry.variables)


def _hidden(ends: list[Scope]) -> dict[str, str]:
    hidden: dict[str, str] = {}
    for end in ends:
        hidden.update(end.hidden)
    return hidden


def tree_ids(nodes: list[Node]) -> list[str]:
    """Ids of the nodes and of everything nested in them."""
    return [node.id for _, node in walk(nodes)]


def visible_after(nodes: list[Node]) -> Iterator[str]:
    """Ids readable (surely or maybe) once the list has run: not those of loop bodies."""
    for node in nodes:
        yield node.id
        if isinstance(node, IfNode | SwitchNode | ParallelNode):
            for _, children in child_lists(node):
                yield from visible_after(children)
