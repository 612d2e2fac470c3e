"""Executing a run on this machine: runtime services from the environment, human nodes asked
on the terminal, and the outcome shown as ``plait run`` shows it.

Both ``plait run`` and ``plait runs resume`` go through ``LocalRun``; they differ only in the
run they drive (``MemoryRun``, or a ``RecordedRun`` whose row and checkpoints are in the
database) and in its first step (start, or continue from the last checkpoint).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from langgraph.checkpoint.memory import InMemorySaver

from api.cli.errors import EXIT_OK, CliError, RunInterruptedError
from api.cli.event_loop import CommandLoop
from api.cli.progress import ProgressSink
from api.cli.terminal import Question, Terminal
from shared.errors import PlaitError
from workflow_compiler.context import RuntimeServices
from workflow_compiler.errors import NodeError
from workflow_compiler.lowering import CompiledWorkflow, PendingInput, RunOutcome
from workflow_compiler.registries.models import StaticModelProviders
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.secrets import MappingSecrets

Step = Callable[[RuntimeServices], Awaitable[RunOutcome]]
"""The first step of an execution: start a run, or continue one."""


class ResumableRun(Protocol):
    """A run ``LocalRun`` can drive: one it can answer when human nodes wait."""

    @property
    def run_id(self) -> str:
        """The run's id, also its LangGraph thread id."""
        ...

    async def resume(self, answers: Mapping[str, Any], services: RuntimeServices) -> RunOutcome:
        """Answer the pending questions (keyed by ``PendingInput.id``) and run on."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryRun:
    """A run whose checkpoints live in this process only: it cannot outlive the command."""

    compiled: CompiledWorkflow
    run_id: str
    inputs: Mapping[str, Any]
    checkpointer: InMemorySaver = field(default_factory=InMemorySaver)

    async def start(self, services: RuntimeServices) -> RunOutcome:
        """Run from the beginning.

        Raises:
            InputsInvalidError: the inputs fail the spec's schema.
        """
        return await self.compiled.start(
            self.inputs, run_id=self.run_id, services=services, checkpointer=self.checkpointer
        )

    async def resume(self, answers: Mapping[str, Any], services: RuntimeServices) -> RunOutcome:
        """Answer pending questions and run on."""
        return await self.compiled.resume(
            answers, run_id=self.run_id, services=services, checkpointer=self.checkpointer
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalRun:
    """One execution of a run on this machine, answering human nodes on the terminal."""

    run: ResumableRun
    loop: CommandLoop
    """The command's event loop; the services opened here are closed when it ends."""
    tools: ToolRegistry
    environ: Mapping[str, str]
    """Where providers and secrets are configured."""
    progress: ProgressSink
    terminal: Terminal

    @classmethod
    def interactive(
        cls, run: ResumableRun, *, loop: CommandLoop, tools: ToolRegistry, progress: ProgressSink
    ) -> LocalRun:
        """An execution configured by this process's environment, asking on its terminal."""
        return cls(
            run=run,
            loop=loop,
            tools=tools,
            environ=os.environ,
            progress=progress,
            terminal=Terminal(sys.stdin, sys.stderr),
        )

    def execute(self, first: Step) -> RunOutcome:
        """Take the first step, then resume with answers until the run completes or fails.

        Args:
            first: The run's start or continuation, given the runtime services.

        Raises:
            CliError: a human node waits and nobody can answer on this terminal.
        """
        services = self.loop.enter(_services(self.tools, self.environ, self.progress))
        outcome = self.loop.run(first(services))
        while outcome.status == "waiting_human":
            answers = {p.id: self.terminal.ask(_question(p)) for p in outcome.pending}
            outcome = self.loop.run(self.run.resume(answers, services))
        return outcome


def report_outcome(outcome: RunOutcome, progress: ProgressSink, *, hint: str | None = None) -> int:
    """Print a completed run's output on stdout as JSON; a failed run is an error.

    Args:
        outcome: The run's final outcome.
        progress: The sink that saw the run's events, to name the node that failed.
        hint: What the user can do next, appended to the failure (e.g. how to resume).

    Raises:
        CliError: the run failed; one line naming the node when one failed.
    """
    if outcome.status == "failed":
        failure = _failure(outcome.error, progress)
        raise CliError(f"{failure}; {hint}" if hint else failure)
    print_output(outcome.output)
    return EXIT_OK


def print_output(output: Any) -> None:
    """A run's output, as indented JSON on stdout (a value JSON cannot hold becomes its text)."""
    print(json.dumps(output, indent=2, ensure_ascii=False, default=str))


@contextmanager
def resumable(hint: str | None) -> Iterator[None]:
    """Append ``hint`` (how to continue a recorded run) to whatever stops the run early.

    Ctrl-C becomes ``RunInterruptedError`` (exit 130, with the hint rather than silence); a
    command-line failure or a Plait error keeps its one line, hint appended. With no hint
    (nothing recorded, nothing to continue), errors pass through unchanged.
    """
    if hint is None:
        yield
        return
    try:
        yield
    except KeyboardInterrupt:
        raise RunInterruptedError(f"interrupted; {hint}") from None
    except CliError as exc:
        raise CliError(f"{exc.message}; {hint}") from exc
    except PlaitError as exc:
        raise CliError(f"{exc.message}; {hint}") from exc


@asynccontextmanager
async def _services(
    tools: ToolRegistry, environ: Mapping[str, str], progress: ProgressSink
) -> AsyncIterator[RuntimeServices]:
    """Runtime services from the environment; their clients are closed at the end, so no
    connection outlives the loop."""
    models = StaticModelProviders.from_env(environ)
    async with httpx.AsyncClient() as http:
        try:
            yield RuntimeServices(
                tools=tools,
                models=models,
                secrets=MappingSecrets.from_env(environ),
                http=http,
                events=progress,
            )
        finally:
            await _close_models(models)


async def _close_models(models: StaticModelProviders) -> None:
    for name in models.names():
        try:
            handle = models.get(name)
        except NodeError:
            continue
        await handle.client.close()


def _question(pending: PendingInput) -> Question:
    return Question(
        node_id=pending.node_id, prompt=pending.prompt, schema=pending.schema, error=pending.error
    )


def _failure(error: NodeError | None, progress: ProgressSink) -> str:
    """The run's failure in one line, naming the node that caused it when one did."""
    if error is None:
        return "the run failed"
    node_id = progress.failed_node(error)
    where = f"node '{node_id}' failed" if node_id else "run failed"
    return f"{where}: {error.kind.value}: {error.message}"
