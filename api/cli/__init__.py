"""The ``plait`` command line: validate, draw, describe and run workflow specs on this machine.

``main`` is the console script. Every failure a user can cause (a missing file, malformed
JSON, a spec failing its checks, bad inputs, a node that fails) ends as one line per problem
on stderr and a non-zero exit status, never a traceback:

    0    success
    1    the command failed (invalid spec or inputs, failed run, unreadable spec file)
    2    the command line is wrong (unknown option, bad ``--input``, unusable ``--inputs-file``)
    130  interrupted with Ctrl-C
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from api.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, CliError, issue_line
from api.cli.parser import COMMANDS, build_parser
from shared.errors import PlaitError
from workflow_compiler.errors import InputsInvalidError, SpecInvalidError

__all__ = ["main"]

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``plait`` command.

    Args:
        argv: The arguments after the program name; None means ``sys.argv[1:]``.

    Returns:
        The exit status.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    _configure_logging(verbose=args.verbose)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except CliError as exc:
        _error(exc.message)
        return exc.exit_code
    except (SpecInvalidError, InputsInvalidError) as exc:
        for issue in exc.issues:
            print(issue_line(issue), file=sys.stderr)
        return EXIT_FAILURE
    except PlaitError as exc:
        _error(exc.message)
        return EXIT_FAILURE
    except Exception as exc:
        if args.verbose:
            logger.exception("unexpected error")
        _error(f"internal error: {type(exc).__name__}: {exc} (rerun with --verbose for details)")
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    """Import the chosen command's module (only that one) and run it."""
    module = importlib.import_module(COMMANDS[args.command])
    return int(module.command(args))


def _configure_logging(*, verbose: bool) -> None:
    """Logs go to stderr, beside the progress lines; quiet unless ``--verbose``."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
