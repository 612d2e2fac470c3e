"""JSON paths and JSON type names, as every issue message spells them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def json_path(parts: Iterable[str | int], root: str = "") -> str:
    """Join path parts the way issues show them: ``nodes[1].then[0].prompt``.

    Keys are appended with a dot and indexes in brackets, like the suffixes of
    ``spec.fields.expression_fields``, so both kinds of path read the same.

    Args:
        parts: Keys and list indexes, outermost first.
        root: The path the parts continue, ``""`` for the document itself.
    """
    path = root
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def json_type(value: object) -> str:
    """The JSON name of a value's type (``object``, ``array``, ...), for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__
