"""Per-node execution policies: retries and error handling."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workflow_compiler.errors import ErrorKind


class RetryPolicy(BaseModel):
    """How a failed node is retried.

    The delay before attempt ``n + 1`` is ``initial_interval_s * backoff ** (n - 1)``, capped at
    ``max_interval_s``; with ``jitter`` a random fraction of up to 100 % of that delay is
    subtracted, so concurrent retries against one provider spread out instead of colliding.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_attempts: int = Field(default=1, ge=1, le=100)
    """Attempts in all, the first one included; 1 means no retry."""
    initial_interval_s: float = Field(default=1.0, ge=0, le=3600)
    """Delay before the second attempt."""
    backoff: float = Field(default=2.0, ge=1, le=10)
    """Factor applied to the delay after each failed attempt."""
    max_interval_s: float = Field(default=60.0, ge=0, le=86400)
    """Upper bound of any single delay."""
    jitter: bool = True
    """Randomise each delay downwards by up to 100 %."""
    retry_on: list[ErrorKind] | None = None
    """Error kinds to retry. Unset: each error's own retry decision applies (see ErrorKind)."""


OnError = Literal["fail", "continue"]
"""``fail`` ends the run; ``continue`` makes ``{"error": {kind, message}}`` the node's output."""
