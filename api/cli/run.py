"""``plait run FILE``: run a spec in this process and print its output as JSON.

The run is local and short-lived: an in-memory checkpointer, providers and secrets from the
environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_MODEL``,
``PLAIT_SECRET_<NAME>``), progress on stderr, the output alone on stdout.

A ``human`` node pauses the graph; the command then asks on the terminal *between* event-loop
turns (``asyncio.Runner`` keeps one loop across them), so Ctrl-C at the question interrupts at
once instead of waiting on a thread blocked in ``readline``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from langgraph.checkpoint.memory import InMemorySaver

from api.cli.errors import EXIT_OK, CliError
from api.cli.inputs import parse_inputs
from api.cli.progress import ProgressSink
from api.cli.specfile import load_valid_spec
from api.cli.terminal import Question, Terminal
from workflow_compiler.context import RuntimeServices
from workflow_compiler.errors import NodeError
from workflow_compiler.lowering import CompiledWorkflow, PendingInput, RunOutcome, compile_workflow
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.models import StaticModelProviders
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.secrets import MappingSecrets


def command(args: argparse.Namespace) -> int:
    """Check the spec, read the inputs, run to the end, print the output.

    Raises:
        CliError: the run failed, or a human node cannot be asked.
        UsageError: a bad ``--input`` or ``--inputs-file``.
        SpecInvalidError: the spec has errors.
        InputsInvalidError: the inputs fail the spec's schema.
    """
    tools = default_tool_registry()
    spec = load_valid_spec(args.file, tools=tools)
    inputs = parse_inputs(args.input, args.inputs_file, spec.inputs)
    progress = ProgressSink()
    run = LocalRun(
        compiled=compile_workflow(spec),
        run_id=args.run_id or f"run_{uuid.uuid4().hex}",
        tools=tools,
        environ=os.environ,
        progress=progress,
        terminal=Terminal(sys.stdin, sys.stderr),
    )
    outcome = run.execute(inputs)
    if outcome.status == "failed":
        raise CliError(_failure(outcome.error, progress))
    print(json.dumps(outcome.output, indent=2, ensure_ascii=False, default=str))
    return EXIT_OK


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalRun:
    """One run of a compiled spec on this machine, answering human nodes on the terminal."""

    compiled: CompiledWorkflow
    run_id: str
    tools: ToolRegistry
    environ: Mapping[str, str]
    """Where providers and secrets are configured."""
    progress: ProgressSink
    terminal: Terminal

    def execute(self, inputs: Mapping[str, Any]) -> RunOutcome:
        """Start the run and resume it with answers until it completes or fails.

        Raises:
            InputsInvalidError: the inputs fail the spec's schema.
            CliError: a human node waits and nobody can answer on this terminal.
        """
        checkpointer = InMemorySaver()
        models = StaticModelProviders.from_env(self.environ)
        with asyncio.Runner() as runner:
            http = httpx.AsyncClient()
            services = RuntimeServices(
                tools=self.tools,
                models=models,
                secrets=MappingSecrets.from_env(self.environ),
                http=http,
                events=self.progress,
            )
            try:
                outcome = runner.run(
                    self.compiled.start(
                        inputs, run_id=self.run_id, services=services, checkpointer=checkpointer
                    )
                )
                while outcome.status == "waiting_human":
                    answers = {p.id: self.terminal.ask(_question(p)) for p in outcome.pending}
                    outcome = runner.run(
                        self.compiled.resume(
                            answers,
                            run_id=self.run_id,
                            services=services,
                            checkpointer=checkpointer,
                        )
                    )
            finally:
                runner.run(_close(http, models))
        return outcome


def _question(pending: PendingInput) -> Question:
    return Question(
        node_id=pending.node_id, prompt=pending.prompt, schema=pending.schema, error=pending.error
    )


async def _close(http: httpx.AsyncClient, models: StaticModelProviders) -> None:
    """Close the clients this command opened, so no connection outlives the loop."""
    await http.aclose()
    for name in models.names():
        try:
            handle = models.get(name)
        except NodeError:
            continue
        await handle.client.close()


def _failure(error: NodeError | None, progress: ProgressSink) -> str:
    """The run's failure in one line, naming the node that caused it when one did."""
    if error is None:
        return "the run failed"
    node_id = progress.failed_node(error)
    where = f"node '{node_id}' failed" if node_id else "run failed"
    return f"{where}: {error.kind.value}: {error.message}"
