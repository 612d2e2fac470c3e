"""``plait run FILE [--db [URL]]``: run a spec in this process and print its output as JSON.

Providers and secrets come from the environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``OPENAI_MODEL``, ``PLAIT_SECRET_<NAME>``); progress goes to stderr, the output alone to
stdout; a ``human`` node asks on the terminal.

Without ``--db`` the run is short-lived: an in-memory checkpointer, nothing kept. With
``--db`` it is durable: its row is written to the database before anything runs (the spec
snapshot, the validated inputs, status ``running``), every superstep is checkpointed there,
and the outcome is recorded on the row, so a run that failed, was interrupted or whose process
died is continued with ``plait runs resume RUN_ID``, which the error message spells out.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from api.cli.event_loop import CommandLoop
from api.cli.inputs import parse_inputs
from api.cli.local_run import LocalRun, MemoryRun, report_outcome, resumable
from api.cli.progress import ProgressSink
from api.cli.specfile import load_valid_spec
from shared.ids import new_run_id
from workflow_compiler.inputs import validate_inputs
from workflow_compiler.lowering import CompiledWorkflow, compile_workflow
from workflow_compiler.registries.builtin import default_tool_registry

if TYPE_CHECKING:
    from api.services import RecordedRun


def command(args: argparse.Namespace) -> int:
    """Check the spec, read the inputs, run to the end, print the output.

    Raises:
        CliError: the run failed, or a human node cannot be asked.
        RunInterruptedError: Ctrl-C stopped a run recorded in the database.
        UsageError: a bad ``--input``, ``--inputs-file`` or ``--run-id``.
        SpecInvalidError: the spec has errors.
        InputsInvalidError: the inputs fail the spec's schema.
        DatabaseError: ``--db`` names a database that cannot be used.
    """
    tools = default_tool_registry()
    spec = load_valid_spec(args.file, tools=tools)
    inputs = validate_inputs(spec, parse_inputs(args.input, args.inputs_file, spec.inputs))
    compiled = compile_workflow(spec)
    run_id = args.run_id or new_run_id()
    progress = ProgressSink()
    with CommandLoop() as loop:
        if args.db is None:
            run: MemoryRun | RecordedRun = MemoryRun(
                compiled=compiled, run_id=run_id, inputs=inputs
            )
            hint = None
        else:
            run, hint = _recorded(loop, compiled, inputs, run_id=run_id, url=args.db or None)
        local = LocalRun.interactive(run, loop=loop, tools=tools, progress=progress)
        with resumable(hint):
            outcome = local.execute(run.start)
    return report_outcome(outcome, progress, hint=hint)


def _recorded(
    loop: CommandLoop,
    compiled: CompiledWorkflow,
    inputs: Mapping[str, Any],
    *,
    run_id: str,
    url: str | None,
) -> tuple[RecordedRun, str]:
    """Open the database for the rest of the command and write the run's row.

    Returns:
        The run, and the hint that says how to continue it.
    """
    # Imported here, not at the top: the database layer (Tortoise, its drivers, the
    # settings) is a noticeable share of the start-up time of every ``plait run``, and only
    # ``--db`` needs it.
    from api.cli.database import check_run_id, open_database, record_new_run, resume_hint
    from api.cli.settings import load_settings

    check_run_id(run_id)
    loop.enter(open_database(load_settings(url)))
    return loop.run(record_new_run(compiled, inputs, run_id=run_id)), resume_hint(run_id, url)
