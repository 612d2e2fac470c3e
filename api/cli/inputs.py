"""Run inputs from the command line: ``--input key=value`` and ``--inputs-file F.json``.

A shell has no types, so the spec's ``inputs`` schema decides how to read a value: a property
declared as a string keeps the raw text (``--input id=007`` stays ``"007"``); any other value
is read as JSON (``n=5`` is 5, ``flags=true`` is true, ``xs=[1,2]`` a list) and falls back to
the raw text when it is not JSON, so the schema validation reports a wrong type with its
path rather than the parser guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from api.cli.errors import UsageError
from api.cli.files import json_type_name, read_json_file


def parse_inputs(
    pairs: Sequence[str], inputs_file: Path | None, schema: Mapping[str, Any]
) -> dict[str, Any]:
    """The run inputs: the file's object first, then each ``--input`` over it, in order.

    Args:
        pairs: The ``key=value`` arguments.
        inputs_file: A JSON file holding an object of inputs, or None.
        schema: The spec's ``inputs`` JSON Schema, used only to type the ``--input`` values.

    Raises:
        UsageError: an argument without ``=`` or an empty key, or an inputs file that cannot
            be read or does not hold a JSON object.
    """
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        loaded = read_json_file(inputs_file, error=UsageError)
        if not isinstance(loaded, dict):
            raise UsageError(
                f"{inputs_file}: inputs must be a JSON object, got {json_type_name(loaded)}"
            )
        inputs.update(loaded)
    properties = schema.get("properties")
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--input '{pair}' must look like key=value")
        declared = properties.get(key) if isinstance(properties, Mapping) else None
        inputs[key] = _typed(text, declared)
    return inputs


def _typed(text: str, declared: Any) -> Any:
    if _is_string_property(declared):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _is_string_property(declared: Any) -> bool:
    """Whether the property's schema says string (alone or among its types)."""
    if not isinstance(declared, Mapping):
        return False
    kind = declared.get("type")
    if isinstance(kind, str):
        return kind == "string"
    return isinstance(kind, list) and "string" in kind
