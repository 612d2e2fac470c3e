"""Failures the command line reports as one line and an exit status, never a traceback.

    CliError                 the command could not do its job (exit 1)
    ├── UsageError           the command line itself is wrong: a bad ``--input``, an unusable
    │                        ``--inputs-file`` (exit 2, as argparse uses for its own usage
    │                        errors)
    └── RunInterruptedError  Ctrl-C stopped a run recorded in the database: the message says
                             how to continue it (exit 130)

Errors of the compiler (``PlaitError``) are translated in ``api.cli.main``; these are the
failures that only exist at the command line. ``issue_line`` is how a check or input issue is
shown, one per line.
"""

from __future__ import annotations

from workflow_compiler.errors import CheckIssue

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
"""128 + SIGINT, what shells report for a command stopped with Ctrl-C."""


class CliError(Exception):
    """The command failed; ``message`` is shown on one line."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    """The arguments are wrong; the user has to change the command line."""

    exit_code = EXIT_USAGE


class RunInterruptedError(CliError):
    """Ctrl-C stopped a run recorded in the database; the message says how to continue it.

    Other interruptions exit quietly: there is nothing left to continue.
    """

    exit_code = EXIT_INTERRUPTED


def issue_line(issue: CheckIssue) -> str:
    """``path: message`` for an error, ``path: warning: message`` for a warning."""
    if issue.severity == "warning":
        return f"{issue.path or '<spec>'}: warning: {issue.message}"
    return str(issue)
