"""Reading the JSON files a command is given: specs and input files.

Every way a file can be unusable (missing, a directory, unreadable, not UTF-8, not JSON)
becomes one sentence naming the file, with the line and column for malformed JSON, so the
user can fix it without reading a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from api.cli.errors import CliError


def read_json_file(path: Path, *, error: type[CliError] = CliError) -> Any:
    """Parse a JSON file.

    Args:
        path: The file to read.
        error: The ``CliError`` class to raise, so a spec file fails as a failure and an
            inputs file as a usage error.

    Raises:
        CliError: (or ``error``) the file cannot be read or is not JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def json_type_name(value: Any) -> str:
    """The JSON name of a value's type, for messages such as 'expected an object, got array'."""
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case _:
            return "object"
