"""Templates and conditions on Jinja2's sandboxed environment.

A string holding exactly one ``{{ expr }}`` evaluates to the native value of ``expr`` (a number
stays a number, a list a list); any other string with placeholders renders to a string; a
string without placeholders is a constant. Conditions are bare expressions.

Everything is compiled once (``compile_value``/``compile_condition``) and the compiled form is
what the runtime calls per node, so a run never parses a template twice. ``references`` reads
the same sources statically, for the checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined
from jinja2 import nodes as jn
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import missing

from workflow_compiler.errors import ErrorKind, NodeError

Scope = Mapping[str, Any]
"""The names an expression sees: ``inputs``, ``nodes``, ``run``, ``secrets``, loop variables."""

Renderer = Callable[[Scope], Any]

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_MARKERS = ("{{", "{%", "{#")
GUARD_FILTERS = frozenset({"default", "d"})
GUARD_TESTS = frozenset({"defined", "undefined", "none"})


class ExpressionSyntaxError(ValueError):
    """A template or condition does not parse; the checks report it at the field's path."""


class _Environment(ImmutableSandboxedEnvironment):
    """Immutable sandbox whose attribute access on dicts means key access.

    Immutable: a template must not change the values it reads (``output.append(…)`` would
    alter another node's output, or a compiled constant shared by every run of a spec).

    Plain Jinja2 looks attributes up first, so ``output.items`` would be ``dict.items`` rather
    than the ``items`` key of a JSON object; workflow data is JSON, so keys win.

    ``**`` and ``*`` are bounded: ``10 ** 10 ** 9`` or ``'x' * 10 ** 10`` would hold the event
    loop (and every other run of the process) for minutes, out of reach of ``timeout_s``.
    """

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _is_number(left) and _is_number(right):
            if abs(right) > MAX_EXPONENT and abs(left) > 1:
                raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
        elif operator == "*":
            for sequence, count in ((left, right), (right, left)):
                repeats = isinstance(sequence, str | list | tuple) and _is_number(count)
                if repeats and len(sequence) * count > MAX_REPEAT:
                    raise SecurityError(f"repeating makes more than {MAX_REPEAT} items")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


MAX_EXPONENT = 10_000
"""Largest exponent ``**`` accepts on a base other than -1, 0 or 1."""
MAX_REPEAT = 10_000_000
"""Most characters or items ``*`` may build by repeating a string or list."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _ChainingUndefined(StrictUndefined):
    """Strict, except that reading an attribute or item of it gives itself.

    So ``nodes.x.output.a.b | default(1)`` is 1 when ``a`` is missing, as a guard should be,
    while printing, comparing or iterating an undefined value still fails loudly.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Any:
        return self


class NotRun(_ChainingUndefined):
    """The output of a node that has not run (its branch was skipped).

    It behaves as null: it is false, equal to ``none``, ``is none``, prints as nothing, and
    becomes ``null`` in any value an expression yields; unlike a plain null, ``default(...)``
    replaces it and it is not ``defined``. Arithmetic, comparison or iteration fail with a
    message naming the node, as they would on null.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, NotRun)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(None)


class _ScopeContext(Context):
    """A context over a scope shared as is: names missing from it come from the globals."""

    def resolve_or_missing(self, key: str) -> Any:
        if key in self.vars:
            return self.vars[key]
        if key in self.parent:
            return self.parent[key]
        return self.environment.globals.get(key, missing)


ENV = _Environment(undefined=_ChainingUndefined, autoescape=False, keep_trailing_newline=True)
ENV.context_class = _ScopeContext
ENV.tests["none"] = lambda value: value is None or isinstance(value, NotRun)


def not_run(node_id: str) -> NotRun:
    """The value ``nodes.<node_id>.output`` has while that node has not run."""
    return NotRun(hint=f"node '{node_id}' has not run (its branch was skipped)")


def _fail(message: str, cause: Exception) -> NodeError:
    return NodeError(ErrorKind.EXPRESSION_ERROR, f"{message}: {cause}")


def is_template(text: str) -> bool:
    """Whether a string holds Jinja2 markup at all."""
    return any(marker in text for marker in _MARKERS)


def single_expression(text: str) -> str | None:
    """The inner expression of a string that is exactly one ``{{ expr }}``, else None."""
    match = _SINGLE.match(text)
    if match is None:
        return None
    expr = match.group("expr")
    if any(marker in expr for marker in ("{{", "}}", "{%", "%}")):
        return None
    return expr


@lru_cache(maxsize=4096)
def _compile_expression(source: str) -> Template:
    """A template that assigns the expression to ``result``, as Jinja's own
    ``compile_expression`` builds it, kept as a template so ``_run`` can share the scope."""
    try:
        parser = Parser(ENV, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            parser.fail("unexpected text after the expression")
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(
            f"invalid expression '{source.strip()}': {exc.message}"
        ) from exc
    return ENV.from_string(jn.Template([jn.Assign(jn.Name("result", "store"), expr)]))


@lru_cache(maxsize=4096)
def _compile_template(source: str) -> Template:
    try:
        return ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(f"invalid template: {exc.message}") from exc


def _context(template: Template, scope: Scope) -> Context:
    """A render context over the scope itself (``shared``), not over a copy merged with the
    globals as ``Template.render`` makes (``_ScopeContext`` falls back to the globals): a
    quarter of the cost of an evaluation."""
    return template.new_context(scope, shared=True)


def _evaluate(source: str, template: Template, scope: Scope) -> Any:
    try:
        context = _context(template, scope)
        for _ in template.root_render_func(context):
            pass
        value = context.vars["result"]
        if isinstance(value, Undefined) and not isinstance(value, NotRun):
            value._fail_with_undefined_error()
    except Exception as exc:  # any failure inside a template is the template's
        raise _fail(f"expression '{source.strip()}' failed", exc) from exc
    return _nulled(value)


def _render(template: Template, scope: Scope) -> str:
    try:
        return "".join(template.root_render_func(_context(template, scope)))
    except Exception as exc:  # any failure inside a template is the template's
        raise _fail("template failed", exc) from exc


def _nulled(value: Any) -> Any:
    """``value`` with every ``NotRun`` inside it replaced by None, copying only what changes,
    so skipped outputs never reach the (serialised) state as anything but null."""
    if isinstance(value, NotRun):
        return None
    if isinstance(value, list | tuple):
        items = [_nulled(item) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        pairs = {key: _nulled(item) for key, item in value.items()}
        return pairs if any(pairs[k] is not v for k, v in value.items()) else value
    return value


class Constant:
    """A compiled value without templates: returned as is, never re-rendered."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, _scope: Scope) -> Any:
        return self.value


def compile_value(value: Any) -> Renderer:
    """Compile any JSON value whose strings may be templates into a function of a scope.

    Raises:
        ExpressionSyntaxError: a template in the value does not parse.
    """
    if isinstance(value, str):
        if not is_template(value):
            return Constant(value)
        expr = single_expression(value)
        if expr is not None:
            expression = _compile_expression(expr)
            return lambda scope: _evaluate(expr, expression, scope)
        template = _compile_template(value)
        return lambda scope: _render(template, scope)
    if isinstance(value, dict):
        parts = {key: compile_value(item) for key, item in value.items()}
        if all(isinstance(part, Constant) for part in parts.values()):
            return Constant(value)
        return lambda scope: {key: part(scope) for key, part in parts.items()}
    if isinstance(value, list):
        items = [compile_value(item) for item in value]
        if all(isinstance(item, Constant) for item in items):
            return Constant(value)
        return lambda scope: [item(scope) for item in items]
    return Constant(value)


def compile_condition(source: str) -> Callable[[Scope], bool]:
    """Compile a bare expression evaluated for its truth.

    Raises:
        ExpressionSyntaxError: the expression does not parse.
    """
    expression = _compile_expression(source)
    return lambda scope: bool(_evaluate(source, expression, scope))


@dataclass(frozen=True, slots=True)
class Reference:
    """A name an expression reads, with the constant path after it.

    ``nodes.fetch.output.items[0]`` is ``Reference("nodes", ("fetch", "output", "items", 0))``.
    The path stops at the first non-constant subscript.
    """

    root: str
    path: tuple[str | int, ...]
    guarded: bool
    """Read under a ``default`` filter or an ``is defined``/``is none`` test."""


def references(source: str, *, condition: bool = False) -> list[Reference]:
    """Every free name an expression or template reads.

    Raises:
        ExpressionSyntaxError: the source does not parse.
    """
    return list(_references(source, condition))


@lru_cache(maxsize=4096)
def _references(source: str, condition: bool) -> tuple[Reference, ...]:
    """Cached: the checks, secret lookup and lowering all read the same sources."""
    text = f"{{{{ {source} }}}}" if condition else source
    try:
        tree = ENV.parse(text)
    except TemplateSyntaxError as exc:
        kind = "expression" if condition else "template"
        raise ExpressionSyntaxError(f"invalid {kind}: {exc.message}") from exc
    local = {n.name for n in tree.find_all(jn.Name) if n.ctx in ("store", "param")}
    return tuple(ref for ref in _refs(tree, guarded=False, shielded=()) if ref.root not in local)


Chain = tuple[str, tuple[str | int, ...]]


def _refs(node: jn.Node, *, guarded: bool, shielded: tuple[Chain, ...]) -> Iterator[Reference]:
    """References under ``node``. ``shielded`` holds chains an enclosing ``if … is defined``
    (statement or inline) has tested, so reads below them count as guarded."""
    chain = _chain(node)
    if chain is not None:
        yield Reference(chain[0], chain[1], guarded or _covered(chain, shielded))
        if isinstance(node, jn.Getitem | jn.Getattr):
            yield from _subscript_refs(node, guarded=guarded, shielded=shielded)
        return
    if isinstance(node, jn.Filter) and node.name in GUARD_FILTERS and node.node is not None:
        yield from _refs(node.node, guarded=True, shielded=shielded)
        for child in (*node.args, *(kw.value for kw in node.kwargs)):
            yield from _refs(child, guarded=guarded, shielded=shielded)
        return
    if isinstance(node, jn.Test) and node.name in GUARD_TESTS:
        yield from _refs(node.node, guarded=True, shielded=shielded)
        return
    if isinstance(node, jn.CondExpr | jn.If):
        yield from _refs(node.test, guarded=guarded, shielded=shielded)
        inner = shielded + _tested_chains(node.test)
        for child in node.iter_child_nodes(exclude=("test",)):
            yield from _refs(child, guarded=guarded, shielded=inner)
        return
    for child in node.iter_child_nodes():
        yield from _refs(child, guarded=guarded, shielded=shielded)


def _tested_chains(test: jn.Node) -> tuple[Chain, ...]:
    found = []
    for node in (test, *test.find_all(jn.Test)):
        if isinstance(node, jn.Test) and node.name in GUARD_TESTS:
            chain = _chain(node.node)
            if chain is not None:
                found.append(chain)
    return tuple(found)


def _covered(chain: Chain, shielded: tuple[Chain, ...]) -> bool:
    root, path = chain
    return any(root == r and path[: len(p)] == p for r, p in shielded)


def _chain(node: jn.Node) -> Chain | None:
    """Root name and constant path of a Name/Getattr/Getitem chain (cut at the first
    non-constant subscript), or None when the node is not such a chain."""
    path: list[str | int] = []
    current = node
    while True:
        if isinstance(current, jn.Name):
            return (current.name, tuple(reversed(path))) if current.ctx == "load" else None
        if isinstance(current, jn.Getattr):
            path.append(current.attr)
        elif isinstance(current, jn.Getitem):
            if isinstance(current.arg, jn.Const) and isinstance(current.arg.value, str | int):
                path.append(current.arg.value)
            else:
                path.clear()
        else:
            return None
        current = current.node


def _subscript_refs(
    node: jn.Node, *, guarded: bool, shielded: tuple[Chain, ...]
) -> Iterator[Reference]:
    """References inside non-constant subscripts of a chain (``xs[inputs.i]``)."""
    current = node
    while isinstance(current, jn.Getitem | jn.Getattr):
        if isinstance(current, jn.Getitem) and not isinstance(current.arg, jn.Const):
            yield from _refs(current.arg, guarded=guarded, shielded=shielded)
        current = current.node


def template_sources(value: Any) -> Iterator[tuple[str, str]]:
    """Every template string inside a JSON value, with its path suffix (``.a[0].b``)."""
    if isinstance(value, str):
        if is_template(value):
            yield "", value
    elif isinstance(value, dict):
        for key, item in value.items():
            for suffix, source in template_sources(item):
                yield f".{key}{suffix}", source
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for suffix, source in template_sources(item):
                yield f"[{i}]{suffix}", source
