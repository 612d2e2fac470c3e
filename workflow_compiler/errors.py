"""Errors of the compiler and of node execution.

    PlaitError (shared.errors)
    ├── SpecInvalidError      static checks found errors; holds every issue with its JSON path
    ├── InputsInvalidError    run inputs fail the spec's input schema; holds every issue
    └── NodeError        a node failed: its ``kind`` and whether retrying may help

A node asking for human input raises LangGraph's ``GraphInterrupt`` (through ``interrupt()``),
which is control flow and deliberately not part of this tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from shared.errors import PlaitError


class ErrorKind(StrEnum):
    """Closed set of node failure kinds. Each has a default retry decision (``RETRYABLE``)."""

    TIMEOUT = "timeout"
    """The node exceeded its ``timeout_s`` or a provider request timed out. Retried."""
    RATE_LIMITED = "rate_limited"
    """The provider or endpoint answered 429. Retried."""
    NETWORK_ERROR = "network_error"
    """The connection could not be made or broke. Retried."""
    PROVIDER_ERROR = "provider_error"
    """The model provider failed (5xx retried; other statuses are not)."""
    HTTP_ERROR = "http_error"
    """An HTTP tool got a 4xx/5xx answer (5xx retried; 4xx is not)."""
    AUTH_ERROR = "auth_error"
    """Credentials were refused (401/403). Not retried."""
    CONFIG_ERROR = "config_error"
    """Something the node needs is not configured, e.g. a provider key. Not retried."""
    SECRET_MISSING = "secret_missing"
    """A ``secrets.NAME`` the node reads does not exist (or its value cannot be read). Not
    retried: a person has to create the secret; the message names it."""
    VALIDATION_ERROR = "validation_error"
    """A value failed its JSON Schema: tool arguments, LLM output, human answer. Not retried."""
    EXPRESSION_ERROR = "expression_error"
    """A template or condition failed to evaluate. Not retried."""
    TOOL_ERROR = "tool_error"
    """A tool raised an unexpected exception. Not retried: it is most likely a bug."""
    LIMIT_EXCEEDED = "limit_exceeded"
    """A bound was hit, e.g. an LLM's ``max_tool_steps``. Not retried."""
    CHILD_RUN_FAILED = "child_run_failed"
    """The child run of a ``workflow`` node failed, or waits for a person. Not retried: the
    child's nodes had their own retries, and retrying this run takes the same child up
    again."""


RETRYABLE: frozenset[ErrorKind] = frozenset(
    {
        ErrorKind.TIMEOUT,
        ErrorKind.RATE_LIMITED,
        ErrorKind.NETWORK_ERROR,
        ErrorKind.PROVIDER_ERROR,
        ErrorKind.HTTP_ERROR,
    }
)
"""Kinds whose errors are retried unless the error itself says otherwise."""


class NodeError(PlaitError):
    """A node failed.

    ``retryable`` is the error's own decision (a 404 is an ``http_error`` that will not get
    better by asking again); a node's ``retry.retry_on`` may override it by kind.
    """

    code = "node_failed"

    def __init__(self, kind: ErrorKind, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = kind in RETRYABLE if retryable is None else retryable

    def to_dict(self) -> dict[str, str]:
        """The shape stored as a node's output under ``on_error: continue``."""
        return {"kind": self.kind.value, "message": self.message}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckIssue:
    """One finding of the static checks."""

    path: str
    """JSON path into the spec, e.g. ``nodes[1].then[0].prompt``; ``""`` is the whole spec."""
    message: str
    """What is wrong, in one sentence."""
    severity: Literal["error", "warning"] = "error"
    """Errors block compiling and running; warnings are advice."""

    def __str__(self) -> str:
        return f"{self.path or '<spec>'}: {self.message}"


class SpecInvalidError(PlaitError):
    """The spec failed its static checks; ``issues`` holds every error (and the warnings)."""

    code = "spec_invalid"

    def __init__(self, issues: list[CheckIssue]) -> None:
        errors = [i for i in issues if i.severity == "error"]
        super().__init__(f"spec has {len(errors)} error(s): " + "; ".join(map(str, errors)))
        self.issues = issues


class InputsInvalidError(PlaitError):
    """Run inputs do not satisfy the spec's ``inputs`` schema."""

    code = "inputs_invalid"

    def __init__(self, issues: list[CheckIssue]) -> None:
        super().__init__("invalid inputs: " + "; ".join(map(str, issues)))
        self.issues = issues
