"""Names and references of every expression, checked in the scope where it is evaluated.

One pass over the tree in execution order (see ``scope``): each node's templates and
conditions are parsed, each name they read must exist in that scope, each
``nodes.<id>.output`` must come from a node that ran before, and each constant path is
type-checked against the schema of the value it starts from (see ``types`` and ``outputs``).
``for_each.items`` must yield a list.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from workflow_compiler.checks.outputs import ExpressionTyper, literal_schema, output_schema
from workflow_compiler.checks.paths import json_type
from workflow_compiler.checks.report import IssueLog
from workflow_compiler.checks.scope import (
    Scope,
    after_all,
    after_choice,
    tree_ids,
    visible_after,
)
from workflow_compiler.checks.syntax import parse_source
from workflow_compiler.checks.types import (
    UNKNOWN,
    Resolution,
    SchemaAt,
    describe,
    item_schema,
    known_types,
    resolve,
)
from workflow_compiler.expressions import (
    ENV,
    ExpressionSyntaxError,
    Reference,
    is_template,
    single_expression,
    template_sources,
)
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import (
    RESERVED_NAMES,
    ForEachNode,
    IfNode,
    LoopNode,
    Node,
    ParallelNode,
    SwitchNode,
    WorkflowSpec,
    child_lists,
    walk,
)
from workflow_compiler.spec.fields import expression_fields

_PLAIN_PATH = re.compile(
    r"\s*[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[(?:\d+|'[^']*'|\"[^\"]*\")\])*\s*"
)
"""An expression that is nothing but a name and constant keys: its type is the path's type."""
_UNCHECKED_ROOTS = frozenset({"run", "secrets"}) | frozenset(ENV.globals)
"""Names that are always defined and whose contents the checks know nothing about."""
_INTEGER = SchemaAt.own({"type": "integer"})


def check_references(
    spec: WorkflowSpec, *, tools: ToolRegistry, node_paths: dict[str, str], log: IssueLog
) -> None:
    """Check every expression of the spec, the final ``output`` mapping included.

    Args:
        spec: A spec that passed the structure checks.
        tools: Registry with the tools' result schemas.
        node_paths: Path of each node id (its first occurrence).
        log: Receives the issues.
    """
    _Walker(spec, tools, node_paths, log).run()


class _Walker:
    """Walks the tree once in execution order, carrying the scope."""

    def __init__(
        self, spec: WorkflowSpec, tools: ToolRegistry, node_paths: dict[str, str], log: IssueLog
    ) -> None:
        self._spec = spec
        self._tools = tools
        self._ids = node_paths
        self._log = log
        self._inputs = SchemaAt.own(spec.inputs)
        self._outputs: dict[str, SchemaAt | None] = {
            node.id: output_schema(node, tools=tools, typer=lambda _: None)
            for _, node in walk(spec.nodes)
        }
        """Output schema per id; refined as nodes are visited (a ``set`` reading a node)."""

    def run(self) -> None:
        end = self._block(self._spec.nodes, "nodes", Scope())
        self._templates("output", self._spec.output, end, reader=None)

    def _block(self, nodes: list[Node], path: str, scope: Scope) -> Scope:
        for i, node in enumerate(nodes):
            scope = self._node(node, f"{path}[{i}]", scope)
        return scope

    def _node(self, node: Node, path: str, scope: Scope) -> Scope:
        match node:
            case LoopNode():
                return self._loop(node, path, scope)
            case ForEachNode():
                return self._for_each(node, path, scope)
        for field in expression_fields(node):
            self._source(path + field.path, field.source, scope, node.id, field.condition)
        self._outputs[node.id] = output_schema(node, tools=self._tools, typer=self._typer(scope))
        match node:
            case IfNode() | SwitchNode():
                entry = scope.ran(node.id)
                sibling = f"it is in another branch of {node.type} '{node.id}'"
                ends = self._branches(node, path, entry, sibling)
                some = f"it runs in only some branches of {node.type} '{node.id}'"
                return after_choice(entry, ends, some)
            case ParallelNode():
                entry = scope.ran(node.id)
                sibling = f"it runs concurrently, in another branch of parallel '{node.id}'"
                return after_all(entry, self._branches(node, path, entry, sibling))
        return scope.ran(node.id)

    def _branches(self, node: Node, path: str, entry: Scope, reason: str) -> list[Scope]:
        """Check each branch of a control node; a branch never sees its siblings' nodes
        (``reason`` says why)."""
        lists = list(child_lists(node))
        ids = [tree_ids(children) for _, children in lists]
        ends: list[Scope] = []
        for i, (suffix, children) in enumerate(lists):
            others = {other: reason for j, group in enumerate(ids) if j != i for other in group}
            end = self._block(children, f"{path}.{suffix}", entry.hiding(others))
            ends.append(end.unhiding(others))
        return ends

    def _for_each(self, node: ForEachNode, path: str, scope: Scope) -> Scope:
        item = self._items(node, f"{path}.items", scope)
        body_entry = scope.hiding(
            {node.id: f"for_each '{node.id}' has an output only once all items are done"}
        ).binding({node.as_: item, node.index_as: _INTEGER})
        end = self._block(node.body, f"{path}.body", body_entry)
        if node.result is None:
            result = self._outputs.get(node.body[-1].id)
        else:
            self._templates(f"{path}.result", node.result, end, reader=node.id)
            result = literal_schema(node.result, self._typer(end))
        self._outputs[node.id] = output_schema(
            node, tools=self._tools, typer=self._typer(scope), item=result
        )
        return scope.ran(node.id).hiding(_inside(node, "for_each"))

    def _items(self, node: ForEachNode, path: str, scope: Scope) -> SchemaAt | None:
        """Check ``items`` (rule: it must be a list) and return the schema of one item."""
        items = node.items
        if isinstance(items, list):
            self._templates(path, items, scope, reader=node.id)
            return item_schema(literal_schema(items, self._typer(scope)))
        if not isinstance(items, str):
            self._log.error(path, f"items must be a list, not {json_type(items)}")
            return None
        expression = single_expression(items)
        if expression is None:
            if is_template(items):
                self._source(path, items, scope, node.id, condition=False)
                message = "items is text with placeholders, which renders a string"
            else:
                message = "items is a plain string"
            self._log.error(
                path, f'{message}; write one expression yielding a list: "{{{{ inputs.xs }}}}"'
            )
            return None
        self._source(path, items, scope, node.id, condition=False)
        schema = self._expression_schema(expression, scope)
        types = known_types(schema)
        if types is not None and "array" not in types:
            self._log.error(
                path, f"items must be a list, but '{expression.strip()}' is {describe(types)}"
            )
            return None
        return item_schema(schema)

    def _loop(self, node: LoopNode, path: str, scope: Scope) -> Scope:
        """A loop's condition and body, which both see the passes counted so far as the loop's
        own output, and the body's nodes from the previous pass as maybe run."""
        body_ids = list(visible_after(node.body))
        counted = scope.ran(node.id)
        first = f"it runs in the body of loop '{node.id}', so not before the first pass"
        before_pass = counted.may_have_run(dict.fromkeys(body_ids, first))
        self._source(f"{path}.condition", node.condition, before_pass, node.id, condition=True)
        later = f"it runs later in the body of loop '{node.id}', so only a previous pass set it"
        body_entry = counted.may_have_run(dict.fromkeys(body_ids, later))
        self._block(node.body, f"{path}.body", body_entry)
        return scope.ran(node.id).hiding(_inside(node, "loop"))

    def _templates(self, path: str, value: object, scope: Scope, reader: str | None) -> None:
        for suffix, source in template_sources(value):
            self._source(path + suffix, source, scope, reader, condition=False)

    def _source(
        self, path: str, source: str, scope: Scope, reader: str | None, condition: bool
    ) -> None:
        """Check one template or condition: syntax, then each name it reads."""
        try:
            parsed = parse_source(source, condition=condition)
        except ExpressionSyntaxError as exc:
            self._log.error(path, str(exc))
            return
        for ref in parsed.references:
            if ref.root == "nodes":
                self._node_reference(ref, path, scope, reader)
            elif ref.root == "inputs" or ref.root in scope.variables:
                self._report(self._resolve(ref, scope), path)
            elif ref.root not in _UNCHECKED_ROOTS and not (
                ref.root == "loop" and parsed.defines_loop
            ):
                known = sorted(RESERVED_NAMES | scope.variables.keys())
                self._log.error(
                    path,
                    f"unknown name '{ref.root}'{_suggest(ref.root, known)};"
                    f" names here: {', '.join(known)}",
                )

    def _node_reference(self, ref: Reference, path: str, scope: Scope, reader: str | None) -> None:
        """The reference rule for ``nodes.<id>.output...`` (DESIGN §3)."""
        if not ref.path:
            self._log.warning(
                path, "'nodes' is read without a constant node id, so it cannot be checked"
            )
            return
        target = ref.path[0]
        if not isinstance(target, str) or target not in self._ids:
            self._log.error(path, f"unknown node '{target}'{_suggest(str(target), self._ids)}")
            return
        if len(ref.path) < 2 or ref.path[1] != "output":
            self._log.error(
                path, f"did you mean nodes.{target}.output? A node exposes only its output"
            )
            return
        if target not in scope.sure:
            if target not in scope.maybe:
                self._log.error(path, _never_before(target, scope, reader))
                return
            if not ref.guarded:
                self._log.warning(
                    path,
                    f"node '{target}' may not have run here ({scope.maybe[target]}), so its "
                    "output reads as null; guard it with '| default(...)'",
                )
        self._report(self._resolve(ref, scope), path)

    def _report(self, resolution: Resolution, path: str) -> None:
        if resolution.problem is not None:
            self._log.error(path, resolution.problem)

    def _resolve(self, ref: Reference, scope: Scope) -> Resolution:
        """Follow a reference's constant path from the schema of the value its root names."""
        if ref.root == "inputs":
            return resolve(self._inputs, ref.path, "inputs")
        if ref.root in scope.variables:
            return resolve(scope.variables[ref.root], ref.path, ref.root)
        if ref.root == "nodes" and len(ref.path) >= 2 and ref.path[1] == "output":
            target = str(ref.path[0])
            return resolve(self._outputs.get(target), ref.path[2:], f"nodes.{target}.output")
        return UNKNOWN

    def _typer(self, scope: Scope) -> ExpressionTyper:
        return lambda expression: self._expression_schema(expression, scope)

    def _expression_schema(self, expression: str, scope: Scope) -> SchemaAt | None:
        """The schema of a bare expression that is a plain path; None for anything else."""
        if not _PLAIN_PATH.fullmatch(expression):
            return None
        try:
            (ref,) = parse_source(expression, condition=True).references
        except (ExpressionSyntaxError, ValueError):
            return None
        if ref.root == "nodes":
            target = ref.path[0] if ref.path else None
            if target not in scope.sure and target not in scope.maybe:
                return None
        return self._resolve(ref, scope).schema


def _inside(node: LoopNode | ForEachNode, kind: str) -> dict[str, str]:
    reason = f"it is inside the body of {kind} '{node.id}', which is not visible after it"
    return dict.fromkeys(tree_ids(node.body), reason)


def _never_before(target: str, scope: Scope, reader: str | None) -> str:
    if target in scope.hidden:
        return f"node '{target}' cannot be read here: {scope.hidden[target]}"
    if target == reader:
        return f"node '{target}' cannot read its own output"
    return f"node '{target}' does not run before this point"


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
