"""One node, all its attempts: secrets, timeout, retries with backoff, events, ``on_error``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from langgraph.errors import GraphBubbleUp

from workflow_compiler.context import RunContext
from workflow_compiler.error_mapping import mask, mask_error, mask_value
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import EventKind, RunEvent
from workflow_compiler.executors.base import Executor, Invocation, NodeResult
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
    step: CompiledStep, run: RunContext, scope: Scope, *, execution_id: str | None = None
) -> Any:
    """Execute a node until it succeeds or its retry policy gives up.

    ``execution_id`` (LangGraph's task id) goes into each attempt's idempotency key.

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
    attempt = 1
    while True:
        await _emit(run, "node_started", node.id, attempt)
        started = clock.monotonic()
        try:
            result = await _attempt(step, run, scope, attempt, execution_id)
        except GraphBubbleUp as interrupt:
            await _emit(run, "interrupted", node.id, attempt, data=_interrupt_data(interrupt))
            raise
        except NodeError as exc:
            error = exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = NodeError(ErrorKind.TOOL_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            await _emit(
                run,
                "node_completed",
                node.id,
                attempt,
                duration_ms=(clock.monotonic() - started) * 1000,
                data={"output": result.output, "usage": dict(result.usage)},
            )
            return result.output
        elapsed_ms = (clock.monotonic() - started) * 1000
        if should_retry(node.retry, error, attempt):
            delay = backoff_delay(node.retry, attempt, services.rng)
            await _emit(
                run,
                "node_retrying",
                node.id,
                attempt,
                duration_ms=elapsed_ms,
                data={"error": error.to_dict(), "delay_s": delay},
            )
            await clock.sleep(delay)
            attempt += 1
            continue
        await _emit(
            run,
            "node_failed",
            node.id,
            attempt,
            duration_ms=elapsed_ms,
            data={"error": error.to_dict()},
        )
        if node.on_error == "continue":
            return {"error": error.to_dict()}
        raise error


async def _attempt(
    step: CompiledStep, run: RunContext, scope: Scope, attempt: int, execution_id: str | None
) -> NodeResult:
    """One attempt, with the secrets the node reads resolved into its scope and masked in
    whatever leaves it (output, error message), so no secret is stored or sent on."""
    secrets: list[str] = []
    if step.secrets:
        resolved = await run.services.secrets.resolve(step.secrets)
        secrets = [value for value in resolved.values() if value]
        scope = {**scope, "secrets": resolved}
    call = Invocation(
        run=run,
        node_id=step.node.id,
        attempt=attempt,
        scope=scope,
        timeout_s=step.node.timeout_s,
        execution_id=execution_id,
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


async def _emit(
    run: RunContext,
    kind: EventKind,
    node_id: str,
    attempt: int,
    *,
    duration_ms: float | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await run.services.events.emit(
        RunEvent(
            kind=kind,
            run_id=run.run_id,
            at=run.services.clock.now(),
            node_id=node_id,
            attempt=attempt,
            duration_ms=duration_ms,
            data=data or {},
        )
    )
