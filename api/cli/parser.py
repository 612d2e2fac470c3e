"""The grammar of the ``plait`` command line: commands, arguments and their help.

It lives apart from the commands' code so that parsing imports nothing heavy: the modules
behind ``run`` and ``graph`` import LangGraph and the openai client, which take seconds to load,
and ``plait schema`` or ``plait --help`` should not wait for them. ``main`` imports only the
module of the chosen command (``COMMANDS``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMANDS: dict[str, str] = {
    "validate": "api.cli.validate",
    "graph": "api.cli.graph",
    "schema": "api.cli.schema",
    "run": "api.cli.run",
    "runs": "api.cli.runs",
    "migrate": "api.cli.migrate",
    "keys": "api.cli.keys",
    "secrets": "api.cli.secrets",
    "api": "api.cli.api_server",
    "serve": "api.cli.serve",
    "worker": "api.cli.worker",
    "scheduler": "api.cli.scheduler",
}
"""Command name → module whose ``command(args) -> int`` carries it out."""

DEFAULT_WORKER_CONCURRENCY = 16
"""Runs a worker executes at once: they mostly wait on models, tools and the database."""


def build_parser() -> argparse.ArgumentParser:
    """The parser; ``args.command`` names the chosen command."""
    parser = argparse.ArgumentParser(
        prog="plait",
        description="Plait: JSON workflow specs compiled to durable LangGraph graphs.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log details, tracebacks included"
    )
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command", required=True
    )

    validate = commands.add_parser(
        "validate",
        help="check a spec and list every error and warning with its JSON path",
        description="Run the static checks on a spec. Prints every issue as 'path: message' "
        "(warnings as 'path: warning: message'), then 'ok' when there is no error. "
        "Exit status 1 when there is an error.",
    )
    _spec_file(validate)

    graph = commands.add_parser(
        "graph",
        help="print the compiled graph as Mermaid",
        description="Check and compile a spec, then print its LangGraph graph as a Mermaid "
        "flowchart (one box per spec node) on stdout.",
    )
    _spec_file(graph)

    commands.add_parser(
        "schema",
        help="print the JSON Schema of the spec language",
        description="Print the JSON Schema of spec v1, generated from the compiler's models. "
        "docs/spec.schema.json is this output.",
    )

    run = commands.add_parser(
        "run",
        help="run a spec here and print its output as JSON",
        description="Check, compile and run a spec in this process. Node progress goes to "
        "stderr, the output JSON to stdout. A human node asks on the terminal. Providers and "
        "secrets come from the environment: OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL, "
        "PLAIT_SECRET_<NAME>. Checkpoints stay in memory unless --db is given.",
    )
    _spec_file(run)
    run.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input; typed by the inputs schema (strings stay text, other values are read "
        "as JSON); repeat for more",
    )
    run.add_argument(
        "--inputs-file",
        type=Path,
        metavar="FILE",
        help="a JSON object of inputs; --input values override its keys",
    )
    run.add_argument("--run-id", help="the run's id (default: a new run_... id)")
    run.add_argument(
        "--db",
        nargs="?",
        const="",
        metavar="URL",
        help="record the run and checkpoint it in a database, so that it can be continued "
        "with 'plait runs resume RUN_ID' after a failure or an interruption; URL is e.g. "
        "sqlite://runs.db or postgres://user:password@host:5432/plait (default: "
        "PLAIT_DATABASE_URL, else the SQLite file in PLAIT_DATA_DIR). Put --db after FILE, "
        "or write --db=URL",
    )

    runs = commands.add_parser(
        "runs",
        help="work with runs recorded by 'plait run --db'",
        description="Commands on the runs recorded in the database.",
    )
    runs_commands = runs.add_subparsers(
        title="commands", metavar="COMMAND", dest="runs_command", required=True
    )
    resume = runs_commands.add_parser(
        "resume",
        help="continue a run from its last checkpoint",
        description="Continue a run recorded by 'plait run --db'. A failed or interrupted "
        "run goes on from its last checkpoint: finished nodes are not executed again, the "
        "failed node runs again. A run waiting for human input asks its questions on the "
        "terminal. A completed run prints its output. The spec is the one stored with the "
        "run.",
    )
    resume.add_argument("run_id", metavar="RUN_ID", help="the run's id, e.g. run_01J...")
    resume.add_argument(
        "--db",
        metavar="URL",
        help="the database the run was recorded in (default: PLAIT_DATABASE_URL, else the "
        "SQLite file in PLAIT_DATA_DIR)",
    )

    migrate = commands.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply the migrations the database has not had yet and print the name of "
        "each one applied. Safe to repeat: an up-to-date database is left unchanged.",
    )
    migrate.add_argument(
        "--database-url",
        metavar="URL",
        help="the database, e.g. postgres://user:password@host:5432/plait (default: "
        "PLAIT_DATABASE_URL, else the SQLite file in PLAIT_DATA_DIR)",
    )
    _keys(commands)
    _secrets(commands)
    _api(commands)
    _worker(commands)
    _scheduler(commands)
    _serve(commands)
    return parser


def _api(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``plait api``: the HTTP API alone, for deployments that run workers separately."""
    api = commands.add_parser(
        "api",
        help="serve the HTTP API",
        description="Serve the HTTP API (routes under /v1) with uvicorn until interrupted. "
        "The database comes from PLAIT_DATABASE_URL (else the SQLite file in PLAIT_DATA_DIR) "
        "and is migrated at start unless PLAIT_MIGRATE_ON_START is off.",
    )
    _listen(api)


def _worker(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``plait worker``: executes the async runs queued in Redis."""
    worker = commands.add_parser(
        "worker",
        help="execute async runs from the Redis queue",
        description="Take runs from the Redis stream of PLAIT_REDIS_URL and execute them "
        "against PLAIT_DATABASE_URL until interrupted, holding a lease on each (renewed "
        "every PLAIT_LEASE_TTL_S / 3 seconds). Start as many as you like, on any machine; "
        "run 'plait scheduler' beside them so that the runs of a worker that dies continue "
        "elsewhere. SIGTERM or Ctrl-C stops the runs in flight and gives up their leases.",
    )
    worker.add_argument(
        "--concurrency",
        type=_positive,
        default=DEFAULT_WORKER_CONCURRENCY,
        help=f"runs executed at once (default: {DEFAULT_WORKER_CONCURRENCY})",
    )


def _scheduler(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``plait scheduler``: the reaper and the sweeper."""
    commands.add_parser(
        "scheduler",
        help="hand lost and stuck runs to the workers again",
        description="Every PLAIT_SCHEDULER_INTERVAL_S seconds, re-enqueue the running runs "
        "whose worker's lease expired (the reaper) and the runs queued for longer than "
        "PLAIT_SWEEP_AFTER_S seconds (the sweeper: their message never reached Redis, or "
        "Redis lost it). Several schedulers may run at once.",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``plait serve``: everything in one process, the embedded default."""
    serve = commands.add_parser(
        "serve",
        help="run Plait on this machine: the API and everything else, in one process",
        description="Serve the HTTP API (routes under /v1) until interrupted, with the "
        "database of PLAIT_DATABASE_URL, else the SQLite file in PLAIT_DATA_DIR (default "
        "./.plait), migrated at start. On a fresh database the first start creates the "
        "tenant 'default' and prints an admin API key, shown only that once, and loads the "
        "repository's examples/*.json as published workflows. Every start prints the URL.",
    )
    _listen(serve)


def _listen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on; 0 picks a free one (default: 8000)",
    )


def _keys(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``plait keys create``: the way to make the first API key of a deployment."""
    keys = commands.add_parser(
        "keys",
        help="manage API keys",
        description="Commands on the API keys that programs call the HTTP API with.",
    )
    keys_commands = keys.add_subparsers(
        title="commands", metavar="COMMAND", dest="keys_command", required=True
    )
    create = keys_commands.add_parser(
        "create",
        help="create an API key and print it once",
        description="Create an API key for a tenant and print it on stdout. Only its hash is "
        "stored: it cannot be shown again. The tenant is created when no tenant has this id "
        "or name.",
    )
    create.add_argument("--tenant", required=True, help="the tenant's id or name")
    create.add_argument(
        "--role", required=True, help="what the key may do: viewer, operator or admin"
    )
    create.add_argument("--name", help="what the key is for, shown in lists")
    create.add_argument(
        "--db",
        metavar="URL",
        help="the database (default: PLAIT_DATABASE_URL, else the SQLite file in PLAIT_DATA_DIR)",
    )


def _secrets(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``plait secrets new-key | rotate``: the keys that encrypt stored secrets."""
    secrets = commands.add_parser(
        "secrets",
        help="manage the keys that encrypt stored secrets",
        description="Commands on the encryption keys of stored secrets (PLAIT_SECRET_KEYS, or "
        "the key file secret.key in PLAIT_DATA_DIR). See docs/security.md for rotating keys.",
    )
    secrets_commands = secrets.add_subparsers(
        title="commands", metavar="COMMAND", dest="secrets_command", required=True
    )
    secrets_commands.add_parser(
        "new-key",
        help="print a new encryption key",
        description="Print a new random Fernet key on stdout, for PLAIT_SECRET_KEYS.",
    )
    rotate = secrets_commands.add_parser(
        "rotate",
        help="re-encrypt every secret under the first key",
        description="Re-encrypt every stored secret, of every tenant, under the first key of "
        "PLAIT_SECRET_KEYS, and print how many were re-encrypted and how many already were. "
        "Every key a secret was encrypted under must still be configured (after the first). "
        "Safe to repeat.",
    )
    rotate.add_argument(
        "--db",
        metavar="URL",
        help="the database (default: PLAIT_DATABASE_URL, else the SQLite file in PLAIT_DATA_DIR)",
    )


def _spec_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the spec, a JSON file")
