"""The child runs of ``workflow`` nodes, started and found again for one tenant.

A ``workflow`` node hands its rendered inputs to ``RuntimeServices.child_runs``;
``TenantChildRuns`` is that collaborator on the server. It picks the version (the published
one, or the pinned number), validates the inputs against it, writes the child's row
(``parent_run_id`` = the parent, the parent's ``source``, a key derived from the node's) and
executes the child right here, inside the parent's node, with ``RecordedRun`` on the same
checkpointer. The child's outputs become the node's output.

Identity. The child's ``idempotency_key`` is ``child:`` + the node's idempotency key (parent
run, node, LangGraph execution id, attempt), so executing the node again finds the child
instead of starting another. That happens when the parent's process died in the node, and
when the parent run is continued after a failure: its failed node executes again with the
same execution id, from attempt 1. The child found is then

    completed                    → its outputs; nothing executes again
    failed, running (abandoned)  → continued from its last checkpoint (``continue_run``)
    waiting_human                → the node fails (below)
    canceled                     → the node fails

A retried attempt of the node (``retry_on: [child_run_failed]``) has another key, so it starts
a fresh child.

Human nodes in a child. The parent does not wait for them: the node fails with
``child_run_failed`` saying that the child waits for a person. Once the child was answered
(it is a run of its own, resumed like any other), continuing the parent picks up the child's
outputs. Making the parent wait as well would need the parent to pause on the child's
questions; see ``docs/spec.md``.

Nesting. Each child counts the ``workflow``-node links above it (rows whose key names their
``parent_run_id``: reruns and replays, which also set it, do not count); a child deeper than
``MAX_CHILD_DEPTH`` fails the node that would start it, so a workflow calling itself ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from tortoise.exceptions import IntegrityError

from api.services.execution import RecordedRun
from api.services.run_records import INTERNAL_ERROR, record_internal_failure, run_spec
from api.services.workflows import get_tenant_version, get_tenant_workflow
from shared.database.models import RunStatus, WorkflowRun, WorkflowVersion
from shared.errors import NotFoundError
from shared.redaction import Redactor
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import ChildRunRequest, RuntimeServices
from workflow_compiler.errors import ErrorKind, InputsInvalidError, NodeError, SpecInvalidError
from workflow_compiler.events import EventSink, NullSink, RunEvent
from workflow_compiler.inputs import validate_inputs
from workflow_compiler.lowering import RunOutcome, compile_workflow
from workflow_compiler.spec import WorkflowSpec

__all__ = ["CHILD_KEY_PREFIX", "INTERRUPTED", "MAX_CHILD_DEPTH", "EventsFor", "TenantChildRuns"]

INTERRUPTED = "interrupted"
"""``error_code`` of a child run stopped with its parent's node; continuing the parent
continues it."""

CHILD_KEY_PREFIX = "child:"
"""Starts the ``idempotency_key`` of every child run, followed by the node's own key."""

MAX_CHILD_DEPTH = 8
"""Most ``workflow`` nodes nested in one another: a child of a child ... 8 levels deep runs,
a 9th is refused. Far beyond a sensible design, and near enough to stop a workflow that
calls itself before it fills the database."""

EventsFor = Callable[[WorkflowRun], EventSink]
"""The event sink of a child run, given its row (the server persists events per run)."""


def _no_events(run: WorkflowRun) -> EventSink:
    return NullSink()


class TenantChildRuns:
    """``ChildRuns`` for the runs of one tenant; its children use it too, for their own.

    Tortoise must be initialized in the current context, on the database ``checkpointer``
    writes to.
    """

    def __init__(
        self,
        tenant_id: str,
        *,
        services: RuntimeServices,
        checkpointer: BaseCheckpointSaver,
        events_for: EventsFor = _no_events,
        redactor: Redactor | None = None,
    ) -> None:
        """
        Args:
            tenant_id: The tenant of the parent runs; child workflows are looked up in it.
            services: The runtime services children execute with (their ``events`` and
                ``child_runs`` are replaced per child).
            checkpointer: Where children's checkpoints go; the parent's.
            events_for: The event sink of each child run.
            redactor: Masks secrets and sensitive keys in the children's recorded outcomes.
        """
        self._tenant_id = tenant_id
        self._services = services
        self._checkpointer = checkpointer
        self._events_for = events_for
        self._redactor = redactor

    async def run_child(self, request: ChildRunRequest) -> Any:
        """Start the node's child run, or take up the one it already has, until it stops.

        Returns:
            The child's outputs.

        Raises:
            NodeError: ``config_error``: no such workflow or version in the tenant, or it no
                longer passes its checks; ``validation_error``: the inputs fail its input
                schema; ``limit_exceeded``: the child would nest too deep;
                ``child_run_failed``: the child failed, waits for a person or was canceled.
        """
        key = CHILD_KEY_PREFIX + request.idempotency_key
        existing = await self._by_key(key)
        if existing is not None:
            return await self._take_up(existing)
        parent = await WorkflowRun.get(id=request.parent_run_id, tenant_id=self._tenant_id)
        await self._check_depth(parent, request.node_id)
        chosen = await self._version(request)
        spec = self._spec(
            chosen.spec, f"version {chosen.version_number} of workflow {request.workflow_id!r}"
        )
        values = _valid_inputs(spec, request)
        try:
            child = await WorkflowRun.create(
                tenant_id=self._tenant_id,
                workflow_id=request.workflow_id,
                version=chosen,
                spec_hash=chosen.spec_hash,
                inputs=values,
                status=RunStatus.RUNNING,
                source=parent.source,
                parent_run=parent,
                idempotency_key=key,
                started_at=self._services.clock.now(),
                attempt=1,
            )
        except IntegrityError:
            existing = await self._by_key(key)
            if existing is None:
                raise
            return _raced(existing)
        services = self._services_for(child)
        return await self._executed(child, services, self._recorded(child, spec).start(services))

    async def _take_up(self, child: WorkflowRun) -> Any:
        """The outputs of a child this node started before, continuing it when it stopped
        short."""
        if child.status is RunStatus.COMPLETED:
            return child.outputs
        if child.status in (RunStatus.WAITING_HUMAN, RunStatus.CANCELED):
            raise _stopped(child)
        spec = self._spec(await run_spec(child), f"the spec of child run {child.id!r}")
        services = self._services_for(child)
        recorded = self._recorded(child, spec)
        return await self._executed(child, services, recorded.continue_run(services))

    async def _executed(
        self, child: WorkflowRun, services: RuntimeServices, call: Awaitable[RunOutcome]
    ) -> Any:
        """The outputs of the child once ``call`` executed it.

        The child executes inside its parent's node, so when that node is stopped (its
        timeout, a cancel, the process shutting down) so is the child: its row then says
        ``failed`` (``interrupted``), not ``running`` forever, and executing the parent's
        node again continues it.
        """
        try:
            outcome = await call
        except asyncio.CancelledError as exc:
            await asyncio.shield(_record_stop(child, services, exc, INTERRUPTED))
            raise
        except Exception as exc:
            await _record_stop(child, services, exc, INTERNAL_ERROR)
            raise
        return _outputs(child, outcome)

    async def _check_depth(self, parent: WorkflowRun, node_id: str) -> None:
        """Refuse a child deeper than ``MAX_CHILD_DEPTH``, counting the parent's ancestors."""
        depth = 0
        run = parent
        while _is_child(run):
            depth += 1
            if depth >= MAX_CHILD_DEPTH:
                raise NodeError(
                    ErrorKind.LIMIT_EXCEEDED,
                    f"workflow node '{node_id}' would start a child run "
                    f"{MAX_CHILD_DEPTH + 1} levels deep; workflow nodes nest at most "
                    f"{MAX_CHILD_DEPTH} levels (does a workflow call itself?)",
                )
            run = await WorkflowRun.get(id=run.parent_run_id, tenant_id=self._tenant_id)

    async def _version(self, request: ChildRunRequest) -> WorkflowVersion:
        """The version the request names, in the tenant."""
        node_id, workflow_id, version = request.node_id, request.workflow_id, request.version
        try:
            if version == "published":
                workflow = await get_tenant_workflow(self._tenant_id, workflow_id)
                if workflow.published_version_number is None:
                    raise NodeError(
                        ErrorKind.CONFIG_ERROR,
                        f"workflow node '{node_id}' runs the published version of workflow "
                        f"{workflow_id!r}, which has none: publish one, or pin a version",
                    )
                version = workflow.published_version_number
            return await get_tenant_version(self._tenant_id, workflow_id, version)
        except NotFoundError as exc:
            raise NodeError(
                ErrorKind.CONFIG_ERROR, f"workflow node '{node_id}' cannot run: {exc.message}"
            ) from exc

    def _spec(self, raw: Any, what: str) -> WorkflowSpec:
        """The checked spec; a tool it names may have been uninstalled since it was saved."""
        try:
            return parse_spec(raw, tools=self._services.tools)
        except SpecInvalidError as exc:
            raise NodeError(
                ErrorKind.CONFIG_ERROR, f"{what} no longer passes its checks: {exc.message}"
            ) from exc

    def _recorded(self, child: WorkflowRun, spec: WorkflowSpec) -> RecordedRun:
        return RecordedRun(
            record=child,
            compiled=compile_workflow(spec),
            checkpointer=self._checkpointer,
            redactor=self._redactor,
        )

    def _services_for(self, child: WorkflowRun) -> RuntimeServices:
        return dataclasses.replace(self._services, events=self._events_for(child), child_runs=self)

    async def _by_key(self, key: str) -> WorkflowRun | None:
        return await WorkflowRun.get_or_none(tenant_id=self._tenant_id, idempotency_key=key)


async def _record_stop(
    child: WorkflowRun, services: RuntimeServices, exc: BaseException, code: str
) -> None:
    """Record that the child stopped before it finished, and end its event stream."""
    now = services.clock.now()
    if await record_internal_failure(child, exc, at=now, code=code):
        error = {"kind": code, "message": child.error_message}
        await services.events.emit(
            RunEvent(kind="run_failed", run_id=child.id, at=now, data={"error": error})
        )


def _is_child(run: WorkflowRun) -> bool:
    """Whether a ``workflow`` node started the run (not a rerun or replay of its parent)."""
    key = run.idempotency_key or ""
    return run.parent_run_id is not None and key.startswith(
        f"{CHILD_KEY_PREFIX}{run.parent_run_id}:"
    )


def _valid_inputs(spec: WorkflowSpec, request: ChildRunRequest) -> dict[str, Any]:
    try:
        return validate_inputs(spec, request.inputs)
    except InputsInvalidError as exc:
        issues = "; ".join(map(str, exc.issues))
        raise NodeError(
            ErrorKind.VALIDATION_ERROR,
            f"workflow node '{request.node_id}' gives workflow {request.workflow_id!r} invalid "
            f"inputs: {issues}",
        ) from exc


def _outputs(child: WorkflowRun, outcome: RunOutcome) -> Any:
    """The outputs of a child that completed; otherwise the node's failure."""
    if outcome.status == "completed":
        return outcome.output
    raise _stopped(child)


def _stopped(child: WorkflowRun) -> NodeError:
    """Why a child that did not complete fails its node; it names the child to look at."""
    where = f"child run {child.id} of workflow {child.workflow_id!r}"
    if child.status is RunStatus.WAITING_HUMAN:
        detail = "waits for a person: answer its questions, then retry this run"
    elif child.status is RunStatus.CANCELED:
        detail = "was canceled"
    else:
        detail = f"failed: {child.error_code}: {child.error_message}"
    return NodeError(ErrorKind.CHILD_RUN_FAILED, f"{where} {detail}")


def _raced(child: WorkflowRun) -> Any:
    """Another execution of the same node created the child first: it executes the child,
    this one only reads a result that is already there."""
    if child.status is RunStatus.COMPLETED:
        return child.outputs
    raise NodeError(
        ErrorKind.CHILD_RUN_FAILED,
        f"child run {child.id} of workflow {child.workflow_id!r} is being executed by another "
        "execution of this node",
    )
