"""Run events persisted as they happen, and followers told about them without polling.

``RecordingSink`` is the ``EventSink`` of a run executed by this process: it appends each
``RunEvent`` to the run's stream (``RunEventRecord``, ``seq`` 1, 2, 3, … without gaps,
continuing after the events of earlier executions of the same run) and keeps the run's
``RunStep`` rows (one per attempt of one node, in one scope) in step. After each write it
tells the ``RunEventHub``, so an SSE stream following the run reads on at once.

The hub only says "look again": followers re-read the database, which stays the one source of
truth. To lose no notification between reading and waiting, a follower subscribes *first*,
then reads, then waits::

    with hub.subscribe(run_id) as subscription:
        while True:
            ...read what is new, send it...
            await subscription.wait(timeout_s)

A notification that arrives while it reads is kept until its next ``wait``. One hub per
process (``app.state.run_events``); workers on other machines will notify through Redis
behind the same two calls.

What is stored goes through the process's ``Redactor`` first (when the sink has one): every
remembered secret value is masked in the event's data, and the values under sensitive key names
(``password``, ``token``, ``authorization``, …) are hidden, in the event and in its step's
input, output and error. Followers (SSE) read the stored rows, so they see the redacted data
only. The run's checkpoints are not touched here (see ``shared.redaction``).

The sink never raises (a failing sink would fail a node that succeeded): a write that fails is
logged without its data (which may hold run inputs and outputs) and the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Max

from shared.database.models import RunEventRecord, RunStep, StepStatus, WorkflowRun, json_value
from shared.redaction import Redactor
from workflow_compiler.events import RunEvent

__all__ = ["EVENT_DURATION_KEY", "EVENT_SCOPE_KEY", "RecordingSink", "RunEventHub", "Subscription"]

logger = logging.getLogger(__name__)

EVENT_SCOPE_KEY = "scope"
"""Key of ``RunEvent.scope`` in a stored event's ``data``, present when not empty: the
events table has no column for it."""
EVENT_DURATION_KEY = "duration_ms"
"""Key of ``RunEvent.duration_ms`` in a stored event's ``data``, present when set."""

_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")

_STEP_RESET: Mapping[str, Any] = {
    "status": StepStatus.RUNNING,
    "ended_at": None,
    "duration_ms": None,
    "input": None,
    "output": None,
    "error_code": None,
    "error_message": None,
    **dict.fromkeys(_USAGE_KEYS),
}
"""A step (re)started: what an earlier execution of the same attempt left is cleared (a
human node executes again on resume; a retried run restarts its failed node at attempt 1)."""


class Subscription:
    """One follower's interest in one run, from ``RunEventHub.subscribe``."""

    __slots__ = ("_signal",)

    def __init__(self) -> None:
        self._signal = asyncio.Event()

    def _notify(self) -> None:
        self._signal.set()

    async def wait(self, timeout_s: float) -> bool:
        """Wait for a notification since the last ``wait`` (or the subscription).

        Returns:
            True when the run was notified (read again); False when ``timeout_s`` passed.
        """
        try:
            async with asyncio.timeout(timeout_s):
                await self._signal.wait()
        except TimeoutError:
            return False
        self._signal.clear()
        return True


class RunEventHub:
    """Tells the followers of a run that it has new events or a new status."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, set[Subscription]] = {}

    def notify(self, run_id: str) -> None:
        """Wake every follower of ``run_id``; cheap when there is none."""
        for subscription in self._subscriptions.get(run_id, ()):
            subscription._notify()

    @contextmanager
    def subscribe(self, run_id: str) -> Iterator[Subscription]:
        """Follow ``run_id`` for the duration of the block (subscribe, then read)."""
        subscription = Subscription()
        followers = self._subscriptions.setdefault(run_id, set())
        followers.add(subscription)
        try:
            yield subscription
        finally:
            followers.discard(subscription)
            if not followers:
                del self._subscriptions[run_id]


class RecordingSink:
    """Persists one run's events and steps as they are emitted.

    Build one per execution of a run (start, resume, retry) and pass it as the
    ``RuntimeServices.events`` of that execution. Tortoise must be initialized in the
    context the run executes in.

    Args:
        run: The run's row (its tenant and id are used).
        hub: Told about each event written; None when nobody can follow (the CLI).
        redactor: Redacts each event before it is stored; None stores events as emitted
            (the runner has masked the secret values its nodes read).
    """

    def __init__(
        self,
        run: WorkflowRun,
        *,
        hub: RunEventHub | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self._tenant_id = run.tenant_id
        self._run_id = run.id
        self._run = run
        """Kept for its ``fencing_token``: ``mark_running`` writes the token this execution
        took on the very row the sink was made with."""
        self._fenced_out = False
        """Another execution took the run: nothing more of this one is stored."""
        self._hub = hub
        self._redactor = redactor
        self._lock = asyncio.Lock()
        # A run no execution has taken yet has no events (almost surely: a run failed before
        # its first execution has one), so its first append needs no read of the last seq;
        # were there one, the insert clashes and ``_append`` reads it then.
        self._last_seq: int | None = 0 if run.attempt == 0 else None

    async def emit(self, event: RunEvent) -> None:
        """Store ``event`` (and its step), then notify. Never raises.

        Serialized: the items of a for_each emit concurrently, and ``seq`` must follow the
        order in which events are stored.
        """
        if self._fenced_out:
            return
        if self._redactor is not None:
            event = replace(event, data=self._redactor.value(event.data))
        async with self._lock:
            stored = await self._append(event)
            if self._fenced_out:
                return
            if event.node_id is not None and event.attempt is not None:
                await self._record_step(event, event.node_id, event.attempt)
            elif event.kind in _RUN_ENDS:
                await self._close_steps(event)
        if stored and self._hub is not None:
            self._hub.notify(self._run_id)

    async def _append(self, event: RunEvent) -> bool:
        """Append the event with the next ``seq``; on a clash (another writer appended to
        the same run) re-read the last ``seq`` and try once more.

        A clash is also how a stale execution learns that it lost the run (its lease
        expired, and the execution that took over appends events of its own): when the run's
        fencing token is no longer the one this execution took, the event is dropped, and
        so is everything the sink is given after it.
        """
        for _ in range(2):
            try:
                if self._last_seq is None:
                    self._last_seq = await _last_seq(self._run_id)
                seq = self._last_seq + 1
                await RunEventRecord.create(
                    tenant_id=self._tenant_id,
                    run_id=self._run_id,
                    seq=seq,
                    kind=event.kind,
                    node_id=event.node_id,
                    attempt=event.attempt,
                    at=event.at,
                    data=_stored_data(event),
                )
            except IntegrityError:
                if await self._taken_over():
                    self._fenced_out = True
                    logger.warning(
                        "run %s: another execution took the run; this one's events are dropped",
                        self._run_id,
                    )
                    return False
                self._last_seq = None
                continue
            except Exception as exc:
                self._log_failure("event", event, exc)
                return False
            self._last_seq = seq
            return True
        logger.warning(
            "run %s: event %s not stored: appending it clashed twice",
            self._run_id,
            event.kind,
        )
        return False

    async def _taken_over(self) -> bool:
        tokens = await WorkflowRun.filter(id=self._run_id).values_list("fencing_token", flat=True)
        return bool(tokens) and tokens[0] != self._run.fencing_token

    async def _record_step(self, event: RunEvent, node_id: str, attempt: int) -> None:
        """Write the columns the event sets on its step.

        A start inserts the row (and updates it when the attempt executes again); the other
        kinds update it (and insert it when its start was not recorded).
        """
        fields = _step_fields(event)
        if fields is None:
            return
        key = {"run_id": self._run_id, "scope": event.scope, "node_id": node_id, "attempt": attempt}
        try:
            if event.kind == "node_started" or not await RunStep.filter(**key).update(**fields):
                await self._insert_or_update(key, fields, event)
        except Exception as exc:
            self._log_failure("step", event, exc)

    async def _insert_or_update(
        self, key: Mapping[str, Any], fields: Mapping[str, Any], event: RunEvent
    ) -> None:
        step = RunStep(tenant_id=self._tenant_id, started_at=event.at, **key)
        for name, value in fields.items():  # assigned, not passed: see json_value
            setattr(step, name, value)
        try:
            await step.save()
        except IntegrityError:  # the row exists: an execution again, or another writer's
            await RunStep.filter(**key).update(**fields)

    async def _close_steps(self, event: RunEvent) -> None:
        """When the run ends, the steps still ``running`` were stopped with it (the siblings
        of a failed parallel branch, the node in flight of a canceled run): say so."""
        try:
            await RunStep.filter(run_id=self._run_id, status=StepStatus.RUNNING).update(
                status=StepStatus.CANCELED, ended_at=event.at
            )
        except Exception as exc:
            self._log_failure("closing steps", event, exc)

    def _log_failure(self, what: str, event: RunEvent, exc: Exception) -> None:
        """Only the exception's type: its message may quote the values written."""
        logger.warning(
            "run %s: %s of %s (node %s, attempt %s) not stored: %s",
            self._run_id,
            what,
            event.kind,
            event.node_id,
            event.attempt,
            type(exc).__name__,
        )


_RUN_ENDS = frozenset({"run_completed", "run_failed", "run_canceled"})


async def _last_seq(run_id: str) -> int:
    rows = await RunEventRecord.filter(run_id=run_id).annotate(last=Max("seq")).values("last")
    last = rows[0]["last"] if rows else None
    return int(last) if last is not None else 0


def _stored_data(event: RunEvent) -> dict[str, Any]:
    data = dict(event.data)
    if event.scope:
        data[EVENT_SCOPE_KEY] = event.scope
    if event.duration_ms is not None:
        data[EVENT_DURATION_KEY] = event.duration_ms
    return data


def _step_fields(event: RunEvent) -> dict[str, Any] | None:
    """The columns of the event's step that the event sets; None for a kind that leaves
    the step alone."""
    data = event.data
    match event.kind:
        case "node_started":
            return {**_STEP_RESET, "started_at": event.at}
        case "node_completed":
            fields = {
                "status": StepStatus.COMPLETED,
                "output": json_value(data.get("output")),
                **_usage(data.get("usage")),
            }
        case "node_retrying" | "node_failed":
            error = data.get("error")
            error = error if isinstance(error, Mapping) else {}
            fields = {
                "status": StepStatus.FAILED,
                "error_code": error.get("kind"),
                "error_message": error.get("message"),
            }
        case "interrupted":
            fields = {"status": StepStatus.WAITING_HUMAN}
        case _:
            return None
    if "input" in data:
        fields["input"] = json_value(data["input"])
    if event.kind != "interrupted":
        fields |= {"ended_at": event.at, "duration_ms": event.duration_ms}
    return fields


def _usage(usage: Any) -> dict[str, int | None]:
    """Token counts of a completed step; none (the columns stay null) for a node that
    reported no usage."""
    if not isinstance(usage, Mapping) or not usage:
        return {}
    return {key: usage.get(key) for key in _USAGE_KEYS}
