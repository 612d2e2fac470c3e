"""Type checks of reference paths (``inputs.a.b``, ``nodes.x.output.items[0]``) against schemas.

The checker only reports what is certainly wrong: reading a property of a value declared as a
string, indexing an object, or naming a property an object schema does not declare (and does
not allow through ``additionalProperties``). Whatever it cannot follow (remote ``$ref``,
``allOf``, conditionals, schemas without ``type``) is unknown, and unknown is permissive.

``anyOf``/``oneOf`` are followed branch by branch: a step is fine when any branch allows it.
That is also how a node with ``on_error: continue`` is typed: its output is its declared schema
or ``{"error": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

_MAX_REF_HOPS = 16
"""A ``$ref`` chain longer than this (or a cycle) is treated as unknown."""
_ANNOTATIONS = frozenset(
    {"$comment", "$defs", "$id", "$schema", "definitions", "default", "deprecated"}
    | {"description", "examples", "readOnly", "title", "writeOnly", "$anchor"}
)
"""Keywords that do not constrain an instance, so a ``$ref`` beside them is the whole schema."""
_OPENING = frozenset(
    {"allOf", "if", "then", "else", "dependentSchemas", "unevaluatedProperties", "$dynamicRef"}
)
"""Keywords through which an object may gain properties that ``properties`` does not list."""
_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "array": list,
    "integer": int,
    "number": float,
    "boolean": bool,
}
"""Python type of each JSON type: ``inputs.text.upper()`` reads a method, not a property."""
_ARTICLES = {"array": "an array", "integer": "an integer", "object": "an object", "null": "null"}


@dataclass(frozen=True, slots=True)
class SchemaAt:
    """A schema together with the document its local ``$ref``s point into."""

    schema: Any
    """The (sub)schema itself."""
    root: Any
    """The whole schema it was found in, which ``#/...`` pointers start from."""

    @classmethod
    def own(cls, schema: Any) -> SchemaAt:
        """A schema that is its own document."""
        return cls(schema, schema)


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a reference path leads: a schema, unknown (None), or a problem."""

    schema: SchemaAt | None = None
    """The schema reached; None when nothing is known about the value (permissive)."""
    problem: str | None = None
    """Why the path certainly cannot be followed, as a sentence about the reference."""


UNKNOWN = Resolution()
"""Nothing is known: every further step is allowed."""


def resolve(start: SchemaAt | None, path: Sequence[str | int], display: str) -> Resolution:
    """Follow ``path`` through ``start``.

    Args:
        start: The schema of the value the path starts from; None when it is not known.
        path: Keys and indexes after that value.
        display: How the value is written in the expression (``nodes.x.output``), for messages.

    Returns:
        The schema at the end of the path, or the first problem met on the way, phrased as a
        full sentence about the reference.
    """
    current = start
    for key in path:
        if current is None:
            return UNKNOWN
        found = _step(current, key)
        if found.problem is not None:
            return Resolution(problem=f"'{display}' {found.problem}")
        current = found.schema
        display += f"[{key}]" if isinstance(key, int) else f".{key}"
    return Resolution(schema=current)


def known_types(at: SchemaAt | None) -> frozenset[str] | None:
    """The JSON types a value of this schema surely has, or None when that is not known."""
    target = _deref(at) if at is not None else None
    if target is None:
        return None
    return _types(target.schema)


def item_schema(at: SchemaAt | None) -> SchemaAt | None:
    """The schema of every item of an array schema, or None when items differ or are unknown.

    A literal list is typed with ``prefixItems``; its items share a schema when all are alike.
    """
    target = _deref(at) if at is not None else None
    if target is None:
        return None
    items = target.schema.get("items")
    prefix = target.schema.get("prefixItems")
    if isinstance(prefix, list):
        alike = bool(prefix) and items is None and all(p == prefix[0] for p in prefix)
        return _sub(target, prefix[0]).schema if alike else None
    return _sub(target, items).schema


def describe(types: frozenset[str]) -> str:
    """``an array``, ``a string or null``: the types of a value, for messages."""
    return " or ".join(_ARTICLES.get(name, f"a {name}") for name in sorted(types))


def _step(at: SchemaAt, key: str | int) -> Resolution:
    target = _deref(at)
    if target is None:
        return UNKNOWN
    schema = target.schema
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            return _step_branches([SchemaAt(b, target.root) for b in branches], key)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        return _step(SchemaAt(all_of[0], target.root), key)
    if isinstance(key, int):
        return _index(target, key)
    return _property(target, key)


def _step_branches(branches: list[SchemaAt], key: str | int) -> Resolution:
    """A step through ``anyOf``: fine when one branch allows it; the first problem otherwise."""
    found: list[SchemaAt] = []
    problems: list[str] = []
    for branch in branches:
        step = _step(branch, key)
        if step.problem is not None:
            problems.append(step.problem)
        elif step.schema is None:
            return UNKNOWN
        else:
            found.append(step.schema)
    if not found:
        return Resolution(problem=problems[0])
    if len(found) == 1:
        return Resolution(schema=found[0])
    return Resolution(schema=SchemaAt({"anyOf": [f.schema for f in found]}, found[0].root))


def _property(target: SchemaAt, key: str) -> Resolution:
    schema = target.schema
    types = _types(schema)
    if types is not None and "object" not in types:
        if not key.startswith("_") and any(
            hasattr(_PYTHON_TYPES[t], key) for t in types if t in _PYTHON_TYPES
        ):
            return UNKNOWN
        return Resolution(problem=f"is {describe(types)}, which has no property '{key}'")
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return _sub(target, schema.get("additionalProperties"))
    if key in properties:
        return _sub(target, properties[key])
    patterns = schema.get("patternProperties")
    if isinstance(patterns, Mapping) and patterns:
        return UNKNOWN
    additional = schema.get("additionalProperties")
    if additional is not None and additional is not False:
        return _sub(target, additional)
    if _OPENING & schema.keys():
        return UNKNOWN
    known = ", ".join(map(str, properties)) or "none"
    return Resolution(problem=f"has no property '{key}' (known: {known})")


def _index(target: SchemaAt, key: int) -> Resolution:
    schema = target.schema
    types = _types(schema)
    if types is not None and not types & {"array", "string"}:
        return Resolution(problem=f"is {describe(types)}, not an array, so it has no item [{key}]")
    if types is not None and "array" not in types:
        return Resolution(schema=SchemaAt.own({"type": "string"}))
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and 0 <= key < len(prefix):
        return _sub(target, prefix[key])
    return _sub(target, schema.get("items"))


def _sub(parent: SchemaAt, schema: Any) -> Resolution:
    """A subschema in the parent's document; anything but an object schema is unknown."""
    return (
        Resolution(schema=SchemaAt(schema, parent.root)) if isinstance(schema, Mapping) else UNKNOWN
    )


def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    declared = schema.get("type")
    if isinstance(declared, str):
        names = {declared}
    elif isinstance(declared, list) and declared and all(isinstance(t, str) for t in declared):
        names = set(declared)
    else:
        return None
    return frozenset(names)


def _deref(at: SchemaAt) -> SchemaAt | None:
    """Follow local ``$ref``s; None when the schema is not an object or a ref cannot be read."""
    schema = at.schema
    for _ in range(_MAX_REF_HOPS):
        if not isinstance(schema, Mapping):
            return None
        ref = schema.get("$ref")
        if ref is None:
            return SchemaAt(schema, at.root)
        if schema.keys() - _ANNOTATIONS - {"$ref"}:
            return None
        schema = _pointer(at.root, ref)
    return None


def _pointer(root: Any, ref: Any) -> Any:
    """The target of a same-document ``$ref`` (``#``, ``#/$defs/x``), or None."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    pointer = unquote(ref[1:])
    if not pointer:
        return root
    if not pointer.startswith("/"):
        return None
    current = root
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(current, Mapping) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return None
    return current
