"""The attempt loop: retries with backoff, timeouts, events, ``on_error``, secrets."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.errors import GraphInterrupt
from langgraph.types import Interrupt

from tests.support.clock import FakeClock
from workflow_compiler.context import RunContext
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import CollectingSink
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.executors.runner import CompiledStep, run_step
from workflow_compiler.spec import SetNode

SCOPE = {"inputs": {"n": 1}}
NO_JITTER = {"initial_interval_s": 1, "backoff": 2, "jitter": False}


def set_node(**fields: Any) -> SetNode:
    return SetNode.model_validate({"id": "step", "type": "set", "value": 1, **fields})


class Scripted:
    """Plays one outcome per attempt: an exception is raised, anything else is the output."""

    def __init__(self, *outcomes: Any) -> None:
        self._outcomes = list(outcomes)
        self.calls: list[Invocation] = []

    async def __call__(self, call: Invocation) -> NodeResult:
        self.calls.append(call)
        outcome = self._outcomes[len(self.calls) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return NodeResult(output=outcome, usage={"total_tokens": 3})


class Sleeper:
    """Sleeps on the run's clock, one duration per attempt, then answers ``done``."""

    def __init__(self, *seconds: float) -> None:
        self._seconds = list(seconds)
        self.calls: list[Invocation] = []

    async def __call__(self, call: Invocation) -> NodeResult:
        self.calls.append(call)
        await call.run.services.clock.sleep(self._seconds[len(self.calls) - 1])
        return NodeResult(output="done")


async def execute(node: SetNode, executor: Any, run: RunContext) -> Any:
    return await run_step(CompiledStep.build(node, executor), run, SCOPE)


def timeout() -> NodeError:
    return NodeError(ErrorKind.TIMEOUT, "slow")


class TestAttempts:
    async def test_a_success_emits_started_then_completed_with_output_and_usage(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        output = await execute(set_node(), Scripted({"x": 1}), run)

        assert output == {"x": 1}
        assert events.kinds() == ["node_started", "node_completed"]
        completed = events.events[-1]
        assert (completed.node_id, completed.attempt, completed.run_id) == ("step", 1, "run_test")
        assert completed.data == {"output": {"x": 1}, "usage": {"total_tokens": 3}}

    async def test_a_retried_attempt_emits_retrying_and_a_new_start(
        self, run: RunContext, events: CollectingSink, clock: FakeClock
    ) -> None:
        executor = Scripted(timeout(), "ok")

        output = await execute(set_node(retry={"max_attempts": 3, **NO_JITTER}), executor, run)

        assert output == "ok"
        assert [(e.kind, e.attempt) for e in events.events] == [
            ("node_started", 1),
            ("node_retrying", 1),
            ("node_started", 2),
            ("node_completed", 2),
        ]
        assert events.events[1].data == {
            "error": {"kind": "timeout", "message": "slow"},
            "delay_s": 1.0,
        }
        assert clock.sleeps == [1.0]
        assert [call.attempt for call in executor.calls] == [1, 2]
        assert [call.idempotency_key for call in executor.calls] == [
            "run_test:step:1",
            "run_test:step:2",
        ]

    async def test_it_gives_up_after_max_attempts_with_growing_delays(
        self, run: RunContext, events: CollectingSink, clock: FakeClock
    ) -> None:
        last = timeout()
        executor = Scripted(timeout(), timeout(), last)

        with pytest.raises(NodeError) as info:
            await execute(set_node(retry={"max_attempts": 3, **NO_JITTER}), executor, run)

        assert info.value is last
        assert clock.sleeps == [1.0, 2.0]
        assert events.kinds().count("node_started") == 3
        failed = events.events[-1]
        assert (failed.kind, failed.attempt) == ("node_failed", 3)
        assert failed.data == {"error": {"kind": "timeout", "message": "slow"}}

    async def test_jittered_delays_stay_within_the_backoff(
        self, run: RunContext, events: CollectingSink, clock: FakeClock
    ) -> None:
        retry = {"max_attempts": 4, "initial_interval_s": 1, "backoff": 2}

        await execute(set_node(retry=retry), Scripted(timeout(), timeout(), timeout(), 1), run)

        assert len(clock.sleeps) == 3
        for delay, ceiling in zip(clock.sleeps, (1, 2, 4), strict=True):
            assert 0 <= delay <= ceiling
        assert [e.data["delay_s"] for e in events.events if e.kind == "node_retrying"] == (
            clock.sleeps
        )

    async def test_a_non_retryable_error_fails_at_once(
        self, run: RunContext, events: CollectingSink, clock: FakeClock
    ) -> None:
        executor = Scripted(NodeError(ErrorKind.VALIDATION_ERROR, "bad"), "never")

        with pytest.raises(NodeError):
            await execute(set_node(retry={"max_attempts": 3}), executor, run)

        assert len(executor.calls) == 1
        assert clock.sleeps == []
        assert events.kinds() == ["node_started", "node_failed"]

    async def test_retry_on_overrides_the_errors_decision(self, run: RunContext) -> None:
        retry = {"max_attempts": 3, "retry_on": ["validation_error"], **NO_JITTER}
        retried = Scripted(NodeError(ErrorKind.VALIDATION_ERROR, "bad"), "ok")
        not_retried = Scripted(timeout(), "never")

        assert await execute(set_node(retry=retry), retried, run) == "ok"
        with pytest.raises(NodeError):
            await execute(set_node(retry=retry), not_retried, run)

        assert (len(retried.calls), len(not_retried.calls)) == (2, 1)

    async def test_an_unexpected_exception_is_a_tool_error_and_not_retried(
        self, run: RunContext
    ) -> None:
        executor = Scripted(ValueError("boom"), "never")

        with pytest.raises(NodeError) as info:
            await execute(set_node(retry={"max_attempts": 3}), executor, run)

        assert (info.value.kind, info.value.message) == (ErrorKind.TOOL_ERROR, "ValueError: boom")
        assert len(executor.calls) == 1


class TestTimeout:
    async def test_an_attempt_over_timeout_s_fails_with_timeout(
        self, run: RunContext, clock: FakeClock
    ) -> None:
        executor = Sleeper(30)

        with pytest.raises(NodeError) as info:
            await execute(set_node(timeout_s=5), executor, run)

        assert info.value.kind is ErrorKind.TIMEOUT
        assert info.value.message == "node 'step' exceeded timeout_s=5"
        assert clock.monotonic() == 5
        assert executor.calls[0].timeout_s == 5

    async def test_a_timed_out_attempt_is_retried(
        self, run: RunContext, events: CollectingSink, clock: FakeClock
    ) -> None:
        node = set_node(timeout_s=5, retry={"max_attempts": 2, **NO_JITTER})

        output = await execute(node, Sleeper(30, 2), run)

        assert output == "done"
        assert clock.sleeps == [30, 1.0, 2]
        assert clock.monotonic() == 8
        assert events.kinds() == ["node_started", "node_retrying", "node_started", "node_completed"]
        assert events.events[-1].duration_ms == 2000

    async def test_an_attempt_within_timeout_s_succeeds(
        self, run: RunContext, clock: FakeClock
    ) -> None:
        assert await execute(set_node(timeout_s=5), Sleeper(4.5), run) == "done"


class Reporting:
    """Reports ``value`` as its input, then plays ``outcome`` like ``Scripted``."""

    def __init__(self, value: Any, outcome: Any) -> None:
        self._value = value
        self._outcome = outcome

    async def __call__(self, call: Invocation) -> NodeResult:
        call.trace.input = self._value
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return NodeResult(output=self._outcome)


class TestReportedInput:
    async def test_the_input_goes_with_the_completion(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        await execute(set_node(), Reporting({"q": 1}, "ok"), run)

        assert events.events[-1].data == {"output": "ok", "usage": {}, "input": {"q": 1}}

    async def test_the_input_goes_with_a_failure_with_secret_values_masked(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        node = set_node(value="{{ secrets.HOOK_TOKEN }}")
        executor = Reporting({"auth": "Bearer tok-123"}, timeout())

        with pytest.raises(NodeError):
            await run_step(CompiledStep.build(node, executor), run, SCOPE)

        assert events.events[-1].data == {
            "error": {"kind": "timeout", "message": "slow"},
            "input": {"auth": "Bearer ***"},
        }

    async def test_the_input_goes_with_an_interrupt(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        interrupt = GraphInterrupt([Interrupt(value="Pay?", id="i-1")])

        with pytest.raises(GraphInterrupt):
            await execute(set_node(), Reporting({"prompt": "Pay?"}, interrupt), run)

        assert events.events[-1].data["input"] == {"prompt": "Pay?"}


class TestScope:
    async def test_every_event_of_the_node_carries_the_scope_it_runs_within(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        node = set_node(retry={"max_attempts": 2, **NO_JITTER})

        await run_step(CompiledStep.build(node, Scripted(timeout(), 1)), run, SCOPE, within="a[1]")

        assert [e.scope for e in events.events] == ["a[1]"] * 4


class TestOnErrorContinue:
    async def test_the_error_becomes_the_output_and_node_failed_is_emitted(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        node = set_node(on_error="continue", retry={"max_attempts": 2, **NO_JITTER})

        output = await execute(node, Scripted(timeout(), timeout()), run)

        assert output == {"error": {"kind": "timeout", "message": "slow"}}
        assert events.kinds()[-1] == "node_failed"
        assert events.events[-1].attempt == 2


class TestSecrets:
    async def test_referenced_secrets_are_in_the_executors_scope_only(
        self, run: RunContext
    ) -> None:
        executor = Scripted("ok")
        scope = {"inputs": {"n": 1}}

        await run_step(
            CompiledStep.build(set_node(value="{{ secrets.HOOK_TOKEN }}"), executor), run, scope
        )

        assert executor.calls[0].scope == {"inputs": {"n": 1}, "secrets": {"HOOK_TOKEN": "tok-123"}}
        assert scope == {"inputs": {"n": 1}}

    async def test_a_node_without_secret_references_gets_none(self, run: RunContext) -> None:
        executor = Scripted("ok")

        await execute(set_node(value="{{ inputs.n }}"), executor, run)

        assert "secrets" not in executor.calls[0].scope

    async def test_a_missing_secret_fails_with_secret_missing_before_the_executor_runs(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        executor = Scripted("never")

        with pytest.raises(NodeError) as info:
            await execute(
                set_node(value="{{ secrets.NOPE }}", retry={"max_attempts": 3}), executor, run
            )

        assert info.value.kind is ErrorKind.SECRET_MISSING
        assert "'NOPE'" in info.value.message
        assert executor.calls == []
        assert events.kinds() == ["node_started", "node_failed"]


class TestInterrupt:
    async def test_an_interrupt_passes_through_and_is_reported(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        interrupt = GraphInterrupt([Interrupt(value={"prompt": "Pay?"}, id="i-1")])

        with pytest.raises(GraphInterrupt):
            await execute(set_node(retry={"max_attempts": 3}), Scripted(interrupt), run)

        assert events.kinds() == ["node_started", "interrupted"]
        assert events.events[-1].data == {
            "interrupts": [{"id": "i-1", "value": {"prompt": "Pay?"}}]
        }
