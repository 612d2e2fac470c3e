"""Asking a person on the terminal for a ``human`` node's answer.

The question goes to stderr and the answer comes from stdin, one line: taken as text when
the node's schema is a plain string, parsed as JSON otherwise. The runtime validates the
answer against the schema; a rejected answer comes back as a new question carrying the
error, which is shown before asking again. Without a terminal nobody can answer, so the run
fails with a message saying so instead of waiting on a pipe forever.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from api.cli.errors import CliError


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    """What a paused ``human`` node asks."""

    node_id: str
    prompt: str
    schema: Mapping[str, Any]
    """JSON Schema of the answer."""
    error: str | None = None
    """Why the previous answer was rejected, when this is a repeated question."""


class Terminal:
    """Questions on ``output``, answers from ``input``; both are text streams."""

    def __init__(self, input: TextIO, output: TextIO) -> None:
        self._input = input
        self._output = output

    def ask(self, question: Question) -> Any:
        """One answer, read until it parses.

        Raises:
            CliError: stdin is not a terminal, or it closed before an answer was given.
        """
        if not self._input.isatty():
            raise CliError(
                f"node '{question.node_id}' needs human input but stdin is not a terminal; "
                "run interactively"
            )
        if question.error:
            self._say(f"{question.error}; try again")
        self._say(f"[{question.node_id}] {question.prompt}")
        as_text = is_text_schema(question.schema)
        if not as_text:
            self._say(f"answer as JSON matching {json.dumps(question.schema)}")
        while True:
            self._output.write("> ")
            self._output.flush()
            line = self._input.readline()
            if not line:
                raise CliError(f"no answer for node '{question.node_id}': stdin was closed")
            text = line.strip()
            if as_text:
                return text
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                self._say(f"not valid JSON (column {exc.colno}: {exc.msg}); try again")

    def _say(self, text: str) -> None:
        print(text, file=self._output, flush=True)


def is_text_schema(schema: Mapping[str, Any]) -> bool:
    """Whether an answer is plain text (taken as typed) rather than JSON."""
    return schema.get("type") == "string"
