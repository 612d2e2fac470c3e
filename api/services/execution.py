"""Executing a run whose row follows it: each step runs the graph, then records the outcome.

``RecordedRun`` joins the three things a durable run needs: its ``WorkflowRun`` row
(``run_records``), its compiled workflow, and a checkpointer on the same database (thread id =
run id). Its methods are the run API of ``CompiledWorkflow`` (start, resume, continue) with
the row kept in step: ``running`` before the graph executes, the outcome after.

If the caller is cancelled (Ctrl-C, a worker shutting down) nothing is recorded: the row still
says ``running``, and ``continue_run`` picks the run up from its last checkpoint later. No
node that finished runs again; LangGraph finishes storing the checkpoint of every completed
superstep before the cancellation reaches the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from api.services.run_records import LeaseTerms, fork_prepared, mark_running, record_outcome
from shared.database.models import RunStatus, WorkflowRun
from shared.redaction import Redactor
from workflow_compiler.context import RuntimeServices
from workflow_compiler.lowering import CompiledWorkflow, RunOutcome

__all__ = ["RecordedRun"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRun:
    """A run executed here, its row updated with each outcome.

    Tortoise must be initialized in the current context, on the database ``record`` was read
    from and ``checkpointer`` writes to.
    """

    record: WorkflowRun
    """The run's row, updated in place as the run goes on."""
    compiled: CompiledWorkflow
    """The workflow of the row's spec (``run_records.run_spec``)."""
    checkpointer: BaseCheckpointSaver
    """Where the run's checkpoints are, usually a ``TortoiseSaver``."""
    redactor: Redactor | None = None
    """Redacts each outcome's outputs and error before it is stored; None (the command line)
    stores them as the run returned them."""
    lease: LeaseTerms | None = None
    """The lease each execution takes (a worker's, the API process's); None for executions
    that hold none (the command line, child runs inside their parent's node)."""

    @property
    def run_id(self) -> str:
        """The run's public id, also its LangGraph thread id."""
        return self.record.id

    async def start(self, services: RuntimeServices) -> RunOutcome:
        """Run a freshly created row from the beginning, with the inputs it holds.

        A ``queued`` row (an async run) says ``running`` first, in its first attempt.
        """
        if self.record.status is RunStatus.QUEUED:
            await self._take(services, new_attempt=True)
        return await self._recorded(self._start(services), services)

    async def fork(
        self,
        parent_id: str,
        checkpoint_id: str,
        values: Mapping[str, Any],
        services: RuntimeServices,
    ) -> RunOutcome:
        """Run a replay on from ``checkpoint_id`` of its parent's thread, ``values`` replacing
        channels there (``CompiledWorkflow.prepare_fork``).

        The run's thread becomes a copy of the parent's with the patched checkpoint as its
        latest; then the patch is cleared from the row (``fork_prepared``), and the run goes
        on like any continued run. An execution that stopped before that starts the copy
        over; one that stopped after leaves a run that continues from the fork point.

        Raises:
            CheckpointNotFoundError: the parent's thread has no such checkpoint.
        """
        await self._take(services, new_attempt=True)
        await self.checkpointer.adelete_thread(self.run_id)
        await self.checkpointer.acopy_thread(parent_id, self.run_id)
        await self.compiled.prepare_fork(
            run_id=self.run_id,
            checkpoint_id=checkpoint_id,
            values=values,
            checkpointer=self.checkpointer,
        )
        await fork_prepared(self.record, at=services.clock.now())
        call = self.compiled.continue_run(
            run_id=self.run_id, services=services, checkpointer=self.checkpointer
        )
        return await self._recorded(call, services)

    async def resume(self, answers: Mapping[str, Any], services: RuntimeServices) -> RunOutcome:
        """Answer the questions of a run waiting for people (keyed by ``PendingInput.id``).

        Answers the run no longer asks for were taken by an earlier execution of this resume
        that stopped before recording its outcome (its worker died): the run goes on from
        its last checkpoint instead, where those answers are.

        Raises:
            ResumeError: no answers given.
        """
        await self._take(services, new_attempt=False)
        asked = {q.id for q in await self.compiled.pending(self.run_id, self.checkpointer)}
        if answers and not set(answers) <= asked:
            call = self.compiled.continue_run(
                run_id=self.run_id, services=services, checkpointer=self.checkpointer
            )
        else:
            call = self.compiled.resume(
                answers, run_id=self.run_id, services=services, checkpointer=self.checkpointer
            )
        return await self._recorded(call, services)

    async def continue_run(self, services: RuntimeServices) -> RunOutcome:
        """Take the run up again from its last checkpoint, in a new attempt.

        For a run that failed (the failed node runs again), that was interrupted or whose
        process died (``running``), or that waits for people: the human nodes ask their
        questions again and the outcome lists them. A run that stopped before its first
        checkpoint was stored starts from the beginning.
        """
        await self._take(services, new_attempt=True)
        if await self.checkpointer.aget_tuple({"configurable": {"thread_id": self.run_id}}):
            call = self.compiled.continue_run(
                run_id=self.run_id, services=services, checkpointer=self.checkpointer
            )
        else:
            call = self._start(services)
        return await self._recorded(call, services)

    async def _take(self, services: RuntimeServices, *, new_attempt: bool) -> None:
        await mark_running(
            self.record, at=services.clock.now(), new_attempt=new_attempt, lease=self.lease
        )

    def _start(self, services: RuntimeServices) -> Awaitable[RunOutcome]:
        return self.compiled.start(
            self.record.inputs,
            run_id=self.run_id,
            services=services,
            checkpointer=self.checkpointer,
        )

    async def _recorded(self, call: Awaitable[RunOutcome], services: RuntimeServices) -> RunOutcome:
        outcome = await call
        await record_outcome(self.record, outcome, at=services.clock.now(), redactor=self.redactor)
        return outcome
