"""One node, all its attempts: secrets, timeout, retries with backoff, events, ``on_error``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from langgraph.errors import GraphBubbleUp

from shared.redaction import mask, mask_value
from workflow_compiler.context import RunContext
from workflow_compiler.error_mapping import mask_error
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import EventKind, RunEvent
from workflow_compiler.executors.base import AttemptTrace, Executor, Invocation, NodeResult
from workflow_compiler.expressions import Scope
from workflow_compiler.retry import backoff_delay, should_retry
from workflow_compiler.spec import Node
from workflow_compiler.spec.fields import secret_names


@dataclass(frozen=True, slots=True)
class CompiledStep:
    """A spec node with its executor, built once per compiled spec."""

    node: Node
    executor: Executor
    secrets: frozenset[str]

    @classmethod
    def build(cls, node: Node, executor: Executor) -> CompiledStep:
        return cls(node, executor, secret_names(node))


async def run_step(
    step: CompiledStep,
    run: RunContext,
    scope: Scope,
    *,
    execution_id: str | None = None,
    within: str = "",
) -> Any:
    """Execute a node until it succeeds or its retry policy gives up.

    ``execution_id`` (LangGraph's task id) goes into each attempt's idempotency key;
    ``within`` is the body pass the node executes in, the ``scope`` of its events.

    Returns:
        The node's output; under ``on_error: continue`` a final failure becomes
        ``{"error": {"kind", "message"}}``.

    Raises:
        NodeError: the node failed for good and ``on_error`` is ``fail``.
        GraphBubbleUp: the node waits for a person (``interrupt()``); not a failure.
    """
    node = step.node
    services = run.services
    clock = services.clock
    emit = _Emitter(run, node.id, within)
    attempt = 1
    while True:
        await emit("node_started", attempt)
        started = clock.monotonic()
        trace = AttemptTrace()
        try:
            result = await _attempt(step, run, scope, attempt, execution_id, trace)
        except GraphBubbleUp as interrupt:
            await emit("interrupted", attempt, data=_interrupt_data(interrupt) | _input(trace))
            raise
        except NodeError as exc:
            error = exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = NodeError(ErrorKind.TOOL_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            await emit(
                "node_completed",
                attempt,
                duration_ms=(clock.monotonic() - started) * 1000,
                data={"output": result.output, "usage": dict(result.usage)} | _input(trace),
            )
            return result.output
        elapsed_ms = (clock.monotonic() - started) * 1000
        if should_retry(node.retry, error, attempt):
            delay = backoff_delay(node.retry, attempt, services.rng)
            await emit(
                "node_retrying",
                attempt,
                duration_ms=elapsed_ms,
                data={"error": error.to_dict(), "delay_s": delay} | _input(trace),
            )
            await clock.sleep(delay)
            attempt += 1
            continue
        await emit(
            "node_failed",
            attempt,
            duration_ms=elapsed_ms,
            data={"error": error.to_dict()} | _input(trace),
        )
        if node.on_error == "continue":
            return {"error": error.to_dict()}
        raise error


async def _attempt(
    step: CompiledStep,
    run: RunContext,
    scope: Scope,
    attempt: int,
    execution_id: str | None,
    trace: AttemptTrace,
) -> NodeResult:
    """One attempt, with the secrets the node reads resolved into its scope and masked in
    whatever leaves it (output, error message, the input it reported in ``trace``), so no
    secret is stored or sent on; so are the other secret values the run's tenant has in use
    (``RuntimeServices.secrets_in_use``)."""
    secrets: list[str] = []
    if step.secrets:
        resolved = await run.services.secrets.resolve(step.secrets)
        secrets = [value for value in resolved.values() if value]
        scope = {**scope, "secrets": resolved}
    in_use = run.services.secrets_in_use
    if in_use is not None:
        secrets += in_use()  # a node may output a secret it did not read: fetched back, echoed
    call = Invocation(
        run=run,
        node_id=step.node.id,
        attempt=attempt,
        scope=scope,
        timeout_s=step.node.timeout_s,
        execution_id=execution_id,
        trace=trace,
    )
    try:
        result = await _bounded(step, call, run)
    except (GraphBubbleUp, asyncio.CancelledError):
        raise
    except NodeError as exc:
        if not secrets:
            raise
        raise mask_error(exc, secrets) from None  # the cause may quote the secret
    except Exception as exc:
        if not secrets:
            raise NodeError(ErrorKind.TOOL_ERROR, f"{type(exc).__name__}: {exc}") from exc
        message = mask(f"{type(exc).__name__}: {exc}", secrets)
        raise NodeError(ErrorKind.TOOL_ERROR, message) from None
    finally:
        if secrets:
            trace.input = mask_value(trace.input, secrets)
    if not secrets:
        return result
    return NodeResult(output=mask_value(result.output, secrets), usage=result.usage)


async def _bounded(step: CompiledStep, call: Invocation, run: RunContext) -> NodeResult:
    timeout_s = call.timeout_s
    if timeout_s is None:
        return await step.executor(call)
    try:
        async with run.services.clock.timeout(timeout_s):
            return await step.executor(call)
    except TimeoutError as exc:
        raise NodeError(
            ErrorKind.TIMEOUT, f"node '{step.node.id}' exceeded timeout_s={timeout_s:g}"
        ) from exc


def _interrupt_data(interrupt: GraphBubbleUp) -> dict[str, Any]:
    interrupts = interrupt.args[0] if interrupt.args else ()
    return {"interrupts": [{"id": i.id, "value": i.value} for i in interrupts]}


def _input(trace: AttemptTrace) -> dict[str, Any]:
    """The ``input`` entry of an event ending the attempt, if the executor reported one."""
    return {} if trace.input is None else {"input": trace.input}


@dataclass(frozen=True, slots=True)
class _Emitter:
    """Emits the events of one node execution: the run, node and scope are fixed."""

    run: RunContext
    node_id: str
    scope: str

    async def __call__(
        self,
        kind: EventKind,
        attempt: int,
        *,
        duration_ms: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        services = self.run.services
        await services.events.emit(
            RunEvent(
                kind=kind,
                run_id=self.run.run_id,
                at=services.clock.now(),
                node_id=self.node_id,
                scope=self.scope,
                attempt=attempt,
                duration_ms=duration_ms,
                data=data or {},
            )
        )
