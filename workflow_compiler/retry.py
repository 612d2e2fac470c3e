"""Retry decisions and backoff delays, kept pure so they are testable on their own."""

from __future__ import annotations

import random

from workflow_compiler.errors import NodeError
from workflow_compiler.spec.policies import RetryPolicy


def should_retry(policy: RetryPolicy, error: NodeError, attempt: int) -> bool:
    """Whether attempt ``attempt`` (1-based), which failed with ``error``, gets a successor.

    ``retry_on``, when set, decides by kind; otherwise the error's own ``retryable`` does.
    """
    if attempt >= policy.max_attempts:
        return False
    if policy.retry_on is not None:
        return error.kind in policy.retry_on
    return error.retryable


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt`` before the next one."""
    delay = min(policy.initial_interval_s * policy.backoff ** (attempt - 1), policy.max_interval_s)
    if policy.jitter:
        delay -= delay * rng.random()
    return delay
