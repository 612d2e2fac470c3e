"""Retry decisions and backoff delays."""

from __future__ import annotations

import random

import pytest

from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.retry import backoff_delay, should_retry
from workflow_compiler.spec import RetryPolicy


class TestBackoffDelay:
    @pytest.mark.parametrize(
        ("attempt", "expected"), [(1, 0.5), (2, 1.5), (3, 4.5), (4, 10.0), (9, 10.0)]
    )
    def test_without_jitter_it_is_exponential_and_capped(
        self, attempt: int, expected: float
    ) -> None:
        policy = RetryPolicy(
            max_attempts=10, initial_interval_s=0.5, backoff=3, max_interval_s=10, jitter=False
        )

        assert backoff_delay(policy, attempt, random.Random(0)) == pytest.approx(expected)

    def test_jitter_stays_within_zero_and_the_delay(self) -> None:
        policy = RetryPolicy(max_attempts=5, initial_interval_s=4, backoff=2, max_interval_s=60)
        rng = random.Random(42)

        delays = [backoff_delay(policy, 3, rng) for _ in range(500)]

        assert all(0 <= delay <= 16 for delay in delays)
        assert len(set(delays)) > 400
        assert min(delays) < 2 < 14 < max(delays)

    def test_jitter_is_reproducible_from_the_seed(self) -> None:
        policy = RetryPolicy(max_attempts=3)

        first = [backoff_delay(policy, 1, random.Random(7)) for _ in range(3)]

        assert first == [backoff_delay(policy, 1, random.Random(7))] * 3


class TestShouldRetry:
    def test_the_errors_own_decision_applies_without_retry_on(self) -> None:
        policy = RetryPolicy(max_attempts=3)

        assert should_retry(policy, NodeError(ErrorKind.TIMEOUT, "t"), 1)
        assert not should_retry(policy, NodeError(ErrorKind.VALIDATION_ERROR, "v"), 1)
        assert not should_retry(policy, NodeError(ErrorKind.HTTP_ERROR, "404", retryable=False), 1)

    def test_no_attempt_follows_the_last_one(self) -> None:
        policy = RetryPolicy(max_attempts=3)
        error = NodeError(ErrorKind.TIMEOUT, "t")

        assert [should_retry(policy, error, n) for n in (1, 2, 3)] == [True, True, False]

    def test_retry_on_overrides_the_errors_decision_both_ways(self) -> None:
        policy = RetryPolicy(max_attempts=3, retry_on=[ErrorKind.VALIDATION_ERROR])

        assert should_retry(policy, NodeError(ErrorKind.VALIDATION_ERROR, "v"), 1)
        assert not should_retry(policy, NodeError(ErrorKind.TIMEOUT, "t"), 1)
        assert not should_retry(policy, NodeError(ErrorKind.HTTP_ERROR, "503", retryable=True), 1)

    def test_an_empty_retry_on_retries_nothing(self) -> None:
        policy = RetryPolicy(max_attempts=3, retry_on=[])

        assert not should_retry(policy, NodeError(ErrorKind.TIMEOUT, "t"), 1)
