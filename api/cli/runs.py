"""``plait runs resume RUN_ID [--db URL]``: continue a run recorded by ``plait run --db``.

What resuming does depends on where the run stopped, as its row says:

- ``completed``: nothing to do; its recorded output is printed.
- ``failed``, or ``running`` (its process was interrupted or died): execution continues from
  the last checkpoint. Nodes that finished are not executed again; the node that failed runs
  again.
- ``waiting_human``: the pending questions are asked on the terminal, as ``plait run`` does,
  and the run goes on with the answers.

The spec is the snapshot stored with the run, so the spec file may have changed or be gone.
The new outcome is recorded on the row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from api.cli.database import find_run, open_database, resume_hint
from api.cli.errors import EXIT_OK, CliError
from api.cli.event_loop import CommandLoop
from api.cli.local_run import LocalRun, print_output, report_outcome, resumable
from api.cli.progress import ProgressSink
from api.cli.settings import load_settings
from api.services import RecordedRun, run_spec
from shared.database.checkpointer import TortoiseSaver
from shared.database.models import RunStatus
from workflow_compiler.checks import parse_spec
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.registries.builtin import default_tool_registry

_NOT_RESUMABLE = {
    RunStatus.QUEUED: "it has not started yet; a worker will start it",
    RunStatus.CANCELED: "it was canceled",
}
"""Statuses a run cannot be continued from here, and why."""


def command(args: argparse.Namespace) -> int:
    """Carry out the ``runs`` subcommand named by ``args.runs_command``."""
    return _SUBCOMMANDS[args.runs_command](args)


def _resume(args: argparse.Namespace) -> int:
    """Continue the run ``args.run_id`` until it completes or fails; print its output.

    Raises:
        RunNotFoundError: the database has no such run.
        CliError: the run cannot be continued, or failed again.
        RunInterruptedError: Ctrl-C stopped it again.
        SpecInvalidError: the stored spec no longer passes the checks (e.g. a plugin tool it
            uses is not installed any more).
        DatabaseError: the database cannot be used.
    """
    tools = default_tool_registry()
    progress = ProgressSink()
    hint = resume_hint(args.run_id, args.db)
    with CommandLoop() as loop:
        loop.enter(open_database(load_settings(args.db), create=False))
        record = loop.run(find_run(args.run_id))
        if record.status is RunStatus.COMPLETED:
            print(f"run {record.id} already completed", file=sys.stderr)
            print_output(record.outputs)
            return EXIT_OK
        if record.status in _NOT_RESUMABLE:
            raise CliError(f"run '{record.id}' cannot be resumed: {_NOT_RESUMABLE[record.status]}")
        spec = parse_spec(loop.run(run_spec(record)), tools=tools)
        run = RecordedRun(
            record=record, compiled=compile_workflow(spec), checkpointer=TortoiseSaver()
        )
        print(
            f"resuming run {record.id} ({record.status.value}) from its last checkpoint",
            file=sys.stderr,
        )
        local = LocalRun.interactive(run, loop=loop, tools=tools, progress=progress)
        with resumable(hint):
            outcome = local.execute(run.continue_run)
    return report_outcome(outcome, progress, hint=hint)


_SUBCOMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"resume": _resume}
"""``plait runs`` subcommand → its implementation."""
