"""What can happen to a run after it started: resume, retry, rerun, replay, cancel.

    waiting_human ──resume──► running ──► completed | failed | waiting_human
    failed ─────────retry───► running      (same run, from the failed node, next attempt)
    any ────────────rerun───► a new run, same version and inputs (``parent_run`` = this one)
    any ────────────replay──► a new run from one of this run's checkpoints, state patched
    queued | running | waiting_human ──cancel──► canceled

Resume and retry take the run over with a compare-and-set on its status: of two concurrent
requests only one finds the status it expects, the other gets a 409 (``RunStateError``).
Nothing executes twice: finished nodes are never executed again, and the failed node of a
retry starts over from its first attempt.

A cancel of a run executing in this process cancels its task, so the node in flight stops;
a run that is queued or waits for people is canceled at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from api.services.audit import record_audit
from api.services.child_runs import CHILD_KEY_PREFIX, INTERRUPTED
from api.services.keys import Principal
from api.services.run_executor import RunExecutor
from api.services.run_records import CANCELABLE, held_elsewhere
from api.services.runs import (
    ExecutionMode,
    NewRun,
    compiled_run,
    create_api_run,
    get_run,
    pending_questions,
    take_up,
)
from shared.database.models import Role, RunSource, RunStatus, WorkflowRun
from shared.errors import ConflictError
from workflow_compiler.checks.paths import json_path
from workflow_compiler.error_mapping import compile_schema
from workflow_compiler.errors import CheckIssue, InputsInvalidError
from workflow_compiler.lowering import (
    CheckpointNotFoundError,
    CompiledWorkflow,
    PendingInput,
)
from workflow_compiler.lowering.state import INPUTS, output_key

__all__ = [
    "AnswerInvalidError",
    "RunStateError",
    "StatePatchInvalidError",
    "cancel_run",
    "replay_run",
    "rerun",
    "resume_run",
    "retry_run",
]

_FINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})

_REMOTE_CANCEL_WAIT_S = 10.0
"""How long a cancel waits for the process executing the run to stop it and record it."""

_REMOTE_CANCEL_POLL_S = 0.05


class RunStateError(ConflictError):
    """The run is not in a status that allows this (409): e.g. retrying a completed run."""


class AnswerInvalidError(InputsInvalidError):
    """Answers to a run's questions are invalid: unknown questions, or failing the
    question's schema; ``issues`` holds each with its path (422)."""

    code = "answer_invalid"


class StatePatchInvalidError(InputsInvalidError):
    """A replay's state patch names what the run does not have, or patched inputs fail the
    spec's input schema; ``issues`` holds each with its path (422)."""

    code = "state_patch_invalid"


async def resume_run(
    principal: Principal,
    run_id: str,
    answers: Mapping[str, Any],
    *,
    mode: ExecutionMode = ExecutionMode.SYNC,
    executor: RunExecutor,
    at: datetime,
) -> WorkflowRun:
    """Answer the questions of a run waiting for people and let it go on.

    Answers are keyed by question id (``PendingInput.id``), or by the id of the ``human``
    node asking when only one question of that node is open. Each answer is checked against
    its question's schema here, so a wrong answer is refused (422) rather than asked again.
    Questions left unanswered are asked again when the run stops.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        RunNotFoundError: no such run in the principal's tenant.
        RunStateError: the run is not waiting for people.
        AnswerInvalidError: no answers, an unknown question, or an answer failing its schema.
    """
    principal.require(Role.OPERATOR)
    run = await get_run(principal, run_id)
    _require_status(run, RunStatus.WAITING_HUMAN, "resumed")
    by_question = _answers_by_question(await pending_questions(run, executor), answers)
    compiled = await compiled_run(run, executor.services.tools)
    async with in_transaction():
        await _take_over(run, RunStatus.WAITING_HUMAN, at, answers=by_question)
        await record_audit(
            principal, "run.resume", run.id, at=at, detail={"questions": sorted(by_question)}
        )
    await take_up(run, compiled, mode=mode, executor=executor)
    return run


async def retry_run(
    principal: Principal,
    run_id: str,
    *,
    mode: ExecutionMode = ExecutionMode.SYNC,
    executor: RunExecutor,
    at: datetime,
) -> WorkflowRun:
    """Take a failed run up again from its last checkpoint, in its next attempt: the failed
    node executes again; the nodes that finished do not.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        RunNotFoundError: no such run in the principal's tenant.
        RunStateError: the run did not fail.
    """
    principal.require(Role.OPERATOR)
    run = await get_run(principal, run_id)
    _require_status(run, RunStatus.FAILED, "retried")
    compiled = await compiled_run(run, executor.services.tools)
    async with in_transaction():
        await _take_over(run, RunStatus.FAILED, at)
        await record_audit(
            principal, "run.retry", run.id, at=at, detail={"attempt": run.attempt + 1}
        )
    await take_up(run, compiled, mode=mode, executor=executor)
    return run


async def rerun(
    principal: Principal,
    run_id: str,
    *,
    mode: ExecutionMode = ExecutionMode.SYNC,
    executor: RunExecutor,
    at: datetime,
) -> WorkflowRun:
    """Start a new run of the same version (or ad-hoc spec) with the same inputs and tags;
    its ``parent_run`` is this one.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        RunNotFoundError: no such run in the principal's tenant.
        SpecInvalidError: the spec no longer passes the checks (a tool it names is gone).
    """
    principal.require(Role.OPERATOR)
    parent = await get_run(principal, run_id)
    compiled = await compiled_run(parent, executor.services.tools)
    child = await create_api_run(principal, _child_of(parent, compiled, parent.inputs), at=at)

    await take_up(child, compiled, mode=mode, executor=executor)
    return child


async def replay_run(
    principal: Principal,
    run_id: str,
    checkpoint_id: str,
    *,
    nodes: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    mode: ExecutionMode = ExecutionMode.SYNC,
    executor: RunExecutor,
    at: datetime,
) -> WorkflowRun:
    """Start a new run from one of this run's checkpoints, optionally with its state patched.

    The new run's thread starts as a copy of this run's checkpoints; from ``checkpoint_id``
    the nodes due there execute again, and everything after them, with ``nodes`` (node id →
    output, top-level nodes) replacing those outputs and ``inputs`` merged over the inputs.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        RunNotFoundError: no such run in the principal's tenant.
        StatePatchInvalidError: a node the spec does not have at its top level, or patched
            inputs failing the spec's input schema.
        CheckpointNotFoundError: this run has no checkpoint ``checkpoint_id`` (checked
            before the new run is written).
    """
    principal.require(Role.OPERATOR)
    parent = await get_run(principal, run_id)
    compiled = await compiled_run(parent, executor.services.tools)
    values, run_inputs = _state_patch(compiled, parent.inputs, nodes or {}, inputs)
    if not await executor.checkpointer.aget_tuple(
        {
            "configurable": {
                "thread_id": parent.id,
                "checkpoint_ns": "",
                "checkpoint_id": checkpoint_id,
            }
        }
    ):
        raise CheckpointNotFoundError(f"run '{parent.id}' has no checkpoint '{checkpoint_id}'")
    new = _child_of(parent, compiled, run_inputs, forked_from=checkpoint_id, patch=values)
    child = await create_api_run(principal, new, at=at)
    await take_up(child, compiled, mode=mode, executor=executor)
    return child


async def cancel_run(
    principal: Principal, run_id: str, *, executor: RunExecutor, at: datetime
) -> WorkflowRun:
    """Stop a run for good: a queued or waiting run at once; an executing one at its node in
    flight, which is cancelled, in whichever process executes it.

    The request is written on the row first (``cancel_requested_at``): the process holding
    the run reads it within ``PLAIT_LEASE_CHECK_S`` and records the cancel, and a worker
    taking the run up later records it instead of executing. This waits up to
    ``_REMOTE_CANCEL_WAIT_S`` for that.

    Returns:
        The run as it is after the cancel: ``canceled``, the final status it reached while
        the cancel was on its way, or still ``running`` (with ``cancel_requested_at``) when
        its process did not answer in time.

    Raises:
        PermissionDeniedError: the principal is a viewer.
        RunNotFoundError: no such run in the principal's tenant.
        RunStateError: the run had already ended.
    """
    principal.require(Role.OPERATOR)
    run = await get_run(principal, run_id)
    if run.status in _FINAL:
        raise RunStateError(f"run {run.id!r} is {run.status}; only a run not ended can be canceled")
    if run.status is RunStatus.RUNNING and _is_executing_child(run):
        raise RunStateError(
            f"run {run.id!r} executes inside a node of run {run.parent_run_id!r}: cancel "
            "that run, which cancels this one"
        )
    await record_audit(principal, "run.cancel", run.id, at=at)
    await WorkflowRun.filter(
        id=run.id, status__in=CANCELABLE, cancel_requested_at__isnull=True
    ).update(cancel_requested_at=at)
    if not await executor.cancel(run.id):
        await _cancel_elsewhere(run, executor, at)
    await _cancel_children(run.id, executor, at)
    return await get_run(principal, run_id)


async def _cancel_elsewhere(run: WorkflowRun, executor: RunExecutor, at: datetime) -> None:
    """Record the cancel of a run not executing here, unless another process holds it under a
    live lease: then wait for that process to record it."""
    deadline = asyncio.get_running_loop().time() + _REMOTE_CANCEL_WAIT_S
    while run.status in CANCELABLE:
        now = executor.services.clock.now()
        if held_elsewhere(run, at=now):
            if asyncio.get_running_loop().time() >= deadline:
                return
            await asyncio.sleep(_REMOTE_CANCEL_POLL_S)
        elif await executor.record_canceled(run, at=now):
            return
        run = await WorkflowRun.get(id=run.id)


def _is_executing_child(run: WorkflowRun) -> bool:
    return run.parent_run_id is not None and (run.idempotency_key or "").startswith(
        CHILD_KEY_PREFIX
    )


async def _cancel_children(run_id: str, executor: RunExecutor, at: datetime) -> None:
    """Cancel the child runs of the run's ``workflow`` nodes, and theirs: a child executes
    inside its parent's node, so the parent's cancel stopped it (its row then says failed,
    ``interrupted``), but only its own row can say that it is canceled."""
    parents = [run_id]
    while parents:
        children = await WorkflowRun.filter(
            Q(status__in=CANCELABLE) | Q(status=RunStatus.FAILED, error_code=INTERRUPTED),
            parent_run_id__in=parents,
            idempotency_key__startswith=CHILD_KEY_PREFIX,
        ).values_list("id", flat=True)
        if children:
            await WorkflowRun.filter(id__in=list(children)).update(
                status=RunStatus.CANCELED, ended_at=at, cancel_requested_at=at, updated_at=at
            )
            for child in children:
                executor.notify(child)
        parents = list(children)


def _require_status(run: WorkflowRun, status: RunStatus, verb: str) -> None:
    if run.status is not status:
        raise RunStateError(
            f"run {run.id!r} is {run.status}; only a run that is {status} can be {verb}"
        )


async def _take_over(
    run: WorkflowRun,
    expected: RunStatus,
    at: datetime,
    *,
    answers: Mapping[str, Any] | None = None,
) -> None:
    """Move the run from ``expected`` back to ``queued``, for the execution that resumes or
    retries it to take (``mark_running``, with a lease), or raise ``RunStateError`` when
    another request moved it first.

    ``answers`` (a resume) are stored on the row for that execution, wherever it happens
    (``runs.take_up_action``). A cancel requested earlier and never carried out (the run
    failed first) is forgotten: a retry or a resume is newer intent, and a stale request
    would cancel it.
    """
    values: dict[str, Any] = {
        "status": RunStatus.QUEUED,
        "error_code": None,
        "error_message": None,
        "ended_at": None,
        "cancel_requested_at": None,
        "pending_answers": dict(answers) if answers is not None else None,
        "updated_at": at,
    }
    if not await WorkflowRun.filter(id=run.id, status=expected).update(**values):
        raise RunStateError(f"run {run.id!r} changed meanwhile; read it again")
    for name, value in values.items():
        setattr(run, name, value)


def _answers_by_question(pending: list[PendingInput], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers keyed by question id, each valid for its question's schema."""
    if not answers:
        raise AnswerInvalidError([CheckIssue(path="answers", message="no answers given")])
    by_id = {question.id: question for question in pending}
    by_node: dict[str, list[PendingInput]] = {}
    for question in pending:
        by_node.setdefault(question.node_id, []).append(question)
    resolved: dict[str, Any] = {}
    issues: list[CheckIssue] = []
    for key, answer in answers.items():
        path = f"answers.{key}"
        question = by_id.get(key)
        if question is None and len(by_node.get(key, ())) == 1:
            question = by_node[key][0]
        if question is None:
            several = len(by_node.get(key, ())) > 1
            message = (
                "several questions of this node are open: answer each by its question id"
                if several
                else "the run asks no such question"
            )
            issues.append(CheckIssue(path=path, message=message))
            continue
        errors = list(compile_schema(question.schema).iter_errors(answer))
        issues.extend(
            CheckIssue(path=json_path(error.absolute_path, path), message=error.message)
            for error in errors
        )
        if not errors:
            resolved[question.id] = answer
    if issues:
        raise AnswerInvalidError(issues)
    return resolved


def _state_patch(
    compiled: CompiledWorkflow,
    run_inputs: Mapping[str, Any],
    nodes: Mapping[str, Any],
    inputs: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The channels a replay replaces, and the new run's inputs."""
    top_level = {node.id for node in compiled.spec.nodes}
    issues = [
        CheckIssue(
            path=f"state_patch.nodes.{node_id}", message="the spec has no such top-level node"
        )
        for node_id in nodes
        if node_id not in top_level
    ]
    new_inputs = dict(run_inputs)
    values: dict[str, Any] = {output_key(node_id): output for node_id, output in nodes.items()}
    if inputs is not None:
        try:
            new_inputs = compiled.validate_inputs({**run_inputs, **inputs})
        except InputsInvalidError as exc:
            issues.extend(
                CheckIssue(path=f"state_patch.{issue.path}", message=issue.message)
                for issue in exc.issues
            )
        values[INPUTS] = new_inputs
    if issues:
        raise StatePatchInvalidError(issues)
    return values, new_inputs


def _child_of(
    parent: WorkflowRun,
    compiled: CompiledWorkflow,
    inputs: Mapping[str, Any],
    *,
    forked_from: str | None = None,
    patch: Mapping[str, Any] | None = None,
) -> NewRun:
    return NewRun(
        compiled=compiled,
        inputs=inputs,
        version=parent.version,
        source=RunSource.REPLAY,
        tags=parent.tags,
        parent_run_id=parent.id,
        forked_from_checkpoint_id=forked_from,
        patch=patch,
    )
