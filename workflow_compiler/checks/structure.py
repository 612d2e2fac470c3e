"""The shape of a spec: pydantic validation errors turned into issues with clean JSON paths.

Pydantic reports a location such as ``('nodes', 0, 'if', 'then', 0, 'set', 'id')``: the
``'if'`` and ``'set'`` are the tags of the discriminated ``Node`` union, not keys of the
document. Issues must point into the document the author wrote (``nodes[0].then[0].id``), so
the location is replayed against the raw data and a tag is dropped where the document has a
node whose ``type`` is that tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from workflow_compiler.checks.paths import json_path, json_type
from workflow_compiler.checks.report import IssueLog
from workflow_compiler.spec import Node, WorkflowSpec

MAX_DEPTH = 100
"""Deepest nesting of JSON containers a spec may have; far beyond any real workflow, and
shallow enough that nothing downstream runs out of stack."""

NODE_TYPES: tuple[str, ...] = tuple(
    get_args(model.model_fields["type"].annotation)[0] for model in get_args(get_args(Node)[0])
)
"""Every ``type`` a node may have, in the union's order."""

_MISSING = object()


def parse_structure(raw: object, log: IssueLog) -> WorkflowSpec | None:
    """The spec model, or None after logging why the document is not shaped like a spec.

    Args:
        raw: Any JSON value (or an already parsed spec, returned as is).
        log: Receives one issue per problem.
    """
    if isinstance(raw, WorkflowSpec):
        return raw
    if not isinstance(raw, Mapping):
        log.error("", f"a spec must be a JSON object, not {json_type(raw)}")
        return None
    if _deeper_than(raw, MAX_DEPTH):
        log.error("", f"the spec nests JSON values more than {MAX_DEPTH} levels deep")
        return None
    try:
        return WorkflowSpec.model_validate(dict(raw))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            path, message = _describe(error, raw)
            log.error(path, message)
        return None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels; iterative, so it cannot overflow."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, Mapping):
            children: Any = current.values()
        elif isinstance(current, list | tuple):
            children = current
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _describe(error: ErrorDetails, raw: Mapping[str, Any]) -> tuple[str, str]:
    """The document path and message of one pydantic error."""
    path = _document_path(error["loc"], raw)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "union_tag_invalid":
        known = ", ".join(NODE_TYPES)
        return json_path(["type"], path), f"unknown node type '{ctx.get('tag')}' (known: {known})"
    if kind == "union_tag_not_found":
        return json_path(["type"], path), f"a node needs a 'type' (one of: {', '.join(NODE_TYPES)})"
    if kind == "model_attributes_type":
        return path, f"a node must be a JSON object, not {json_type(error['input'])}"
    if kind == "missing":
        return path, "required field is missing"
    if kind == "extra_forbidden":
        return path, "unknown field"
    if kind == "value_error" and "error" in ctx:
        return path, str(ctx["error"])
    return path, error["msg"]


def _document_path(loc: Sequence[str | int], raw: Mapping[str, Any]) -> str:
    """Replay a pydantic location against the raw document, dropping union tags.

    A tag always follows a list index (``nodes[0]``, ``then[0]``, ``branches[1][0]``) and
    equals the ``type`` of the node found there; that is what tells it from a real key.
    """
    parts: list[str | int] = []
    current: Any = raw
    after_index = False
    for element in loc:
        if after_index and isinstance(current, Mapping) and current.get("type") == element:
            after_index = False
            continue
        parts.append(element)
        after_index = isinstance(element, int)
        current = _child(current, element)
    return json_path(parts)


def _child(container: Any, key: str | int) -> Any:
    if isinstance(container, Mapping):
        return container.get(key, _MISSING)
    if isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
        return container[key]
    return _MISSING
