"""``plait run --db`` and ``plait runs resume``: runs recorded in the database, continued after
a failure, an interruption or a question nobody answered, without executing finished nodes
again."""

from __future__ import annotations

import asyncio
import io
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from api.cli import local_run as local_run_module
from api.cli.errors import EXIT_INTERRUPTED
from shared.database import close_database, init_database
from shared.database.models import RunSource, RunStatus, WorkflowRun
from tests.api.cli.conftest import CliRunner, Result, SpecWriter

FETCH: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {
            "id": "profile",
            "type": "tool",
            "tool": "http_request",
            "args": {"url": "https://api.test/profile"},
        },
        {
            "id": "orders",
            "type": "tool",
            "tool": "http_request",
            "args": {"url": "https://api.test/orders"},
        },
    ],
    "output": {
        "user": "{{ nodes.profile.output.json.id }}",
        "orders": "{{ nodes.orders.output.json }}",
    },
}

APPROVAL: dict[str, Any] = {
    "version": "1",
    "nodes": [
        {"id": "draft", "type": "set", "value": {"amount": 1200}},
        {
            "id": "approve",
            "type": "human",
            "prompt": "Pay {{ nodes.draft.output.amount }}?",
            "schema": {"type": "boolean"},
        },
    ],
    "output": {"amount": "{{ nodes.draft.output.amount }}", "ok": "{{ nodes.approve.output }}"},
}

ECHO: dict[str, Any] = {
    "version": "1",
    "inputs": {"type": "object", "properties": {"n": {"type": "integer", "default": 2}}},
    "nodes": [{"id": "double", "type": "set", "value": "{{ inputs.n * 2 }}"}],
}


class _TtyInput(io.StringIO):
    """Typed answers, on what claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url="https://api.test", assert_all_called=False) as router:
        yield router


def _run_id(result: Result) -> str:
    """The id ``plait run`` announced on its first progress line."""
    match = re.match(r"run (run_\w+) started\n", result.err)
    assert match, result.err
    return match[1]


def _hint(run_id: str, url: str) -> str:
    return f"; continue it with: plait runs resume {run_id} --db {url}"


def _row(url: str, run_id: str) -> WorkflowRun:
    """The run's row, read through a connection of its own, as another process would."""

    async def fetch() -> WorkflowRun:
        await init_database(url, migrate=False)
        try:
            return await WorkflowRun.get(id=run_id)
        finally:
            await close_database()

    return asyncio.run(fetch())


class TestRunWithDatabase:
    def test_a_completed_run_is_recorded(
        self, cli: CliRunner, write_spec: SpecWriter, database_url: str
    ) -> None:
        result = cli("run", str(write_spec(ECHO)), "-i", "n=21", "--db", database_url)
        assert (result.code, result.json()) == (0, 42)
        row = _row(database_url, _run_id(result))
        assert (row.status, row.source, row.outputs) == (RunStatus.COMPLETED, RunSource.MANUAL, 42)
        assert (row.inputs, row.attempt) == ({"n": 21}, 1)
        assert row.spec == ECHO
        assert row.started_at is not None
        assert row.ended_at is not None
        assert row.started_at <= row.ended_at

    def test_without_a_url_the_configured_database_is_used(
        self,
        cli: CliRunner,
        write_spec: SpecWriter,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
        monkeypatch.setenv("PLAIT_DATA_DIR", str(tmp_path / "data"))
        spec = write_spec(ECHO)

        result = cli("run", str(spec), "--db")
        assert (result.code, result.json()) == (0, 4)
        run_id = _run_id(result)
        row = _row(f"sqlite://{tmp_path}/data/plait.db", run_id)
        assert (row.status, row.outputs) == (RunStatus.COMPLETED, 4)

        again = cli("runs", "resume", run_id)
        assert (again.code, again.json()) == (0, 4)

        broken = {"version": "1", "nodes": [{"id": "ratio", "type": "set", "value": "{{ 1 / 0 }}"}]}
        failed = cli("run", str(write_spec(broken)), "--db")
        assert failed.err.splitlines()[-1].endswith(
            f"; continue it with: plait runs resume {_run_id(failed)}"
        )

    def test_invalid_settings_are_one_line(
        self, cli: CliRunner, write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_DB_POOL_MIN", "0")
        result = cli("run", str(write_spec(ECHO)), "--db")
        assert (result.code, result.out) == (1, "")
        assert result.err == (
            "error: invalid PLAIT_* settings: db_pool_min: "
            "Input should be greater than or equal to 1\n"
        )

    def test_the_given_run_id_becomes_the_row_id(
        self, cli: CliRunner, write_spec: SpecWriter, database_url: str
    ) -> None:
        spec = str(write_spec(ECHO))
        result = cli("run", spec, "--db", database_url, "--run-id", "run_mine")
        assert result.code == 0
        assert _row(database_url, "run_mine").outputs == 4

        taken = cli("run", spec, "--db", database_url, "--run-id", "run_mine")
        assert (taken.code, taken.out) == (1, "")
        assert taken.err == "error: a run with id 'run_mine' already exists\n"

    def test_a_run_id_too_long_for_the_database_is_a_usage_error(
        self,
        cli: CliRunner,
        write_spec: SpecWriter,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
        monkeypatch.delenv("PLAIT_DATA_DIR", raising=False)
        result = cli("run", str(write_spec(ECHO)), "--db", "--run-id", "run_" + "x" * 40)
        assert result.code == 2
        assert result.err == (
            f"error: --run-id 'run_{'x' * 40}' is too long for the database "
            "(at most 32 characters)\n"
        )
        assert not (tmp_path / ".plait").exists()

    def test_invalid_inputs_record_nothing(
        self, cli: CliRunner, write_spec: SpecWriter, tmp_path: Path
    ) -> None:
        url = f"sqlite://{tmp_path}/runs.db"
        result = cli("run", str(write_spec(ECHO)), "-i", "n=many", "--db", url)
        assert (result.code, result.err) == (1, "inputs.n: 'many' is not of type 'integer'\n")
        assert not (tmp_path / "runs.db").exists()

    def test_an_unreachable_database_is_one_line(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        with socket.socket() as probe:  # a port that was free a moment ago: nobody listens
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"postgres://postgres@127.0.0.1:{port}/plait"
        result = cli("run", str(write_spec(ECHO)), "--db", url)
        assert (result.code, result.out) == (1, "")
        assert result.err.startswith(f"error: cannot connect to the database {url}: ")
        assert result.err.count("\n") == 1
        assert "Traceback" not in result.err


class TestResumeAFailedRun:
    def test_the_failed_node_runs_again_and_finished_ones_do_not(
        self,
        cli: CliRunner,
        write_spec: SpecWriter,
        database_url: str,
        api: respx.MockRouter,
    ) -> None:
        profile = api.get("/profile").respond(json={"id": "u1"})
        orders = api.get("/orders").mock(
            side_effect=[httpx.Response(500, text="overloaded"), httpx.Response(200, json=[3])]
        )

        failed = cli("run", str(write_spec(FETCH)), "--db", database_url)

        run_id = _run_id(failed)
        assert (failed.code, failed.out) == (1, "")
        last = failed.err.splitlines()[-1]
        assert last.startswith("error: node 'orders' failed: http_error: ")
        assert last.endswith(_hint(run_id, database_url))
        row = _row(database_url, run_id)
        assert (row.status, row.error_code) == (RunStatus.FAILED, "http_error")

        resumed = cli("runs", "resume", run_id, "--db", database_url)

        assert resumed.code == 0, resumed.err
        assert resumed.json() == {"user": "u1", "orders": [3]}
        assert resumed.err.startswith(
            f"resuming run {run_id} (failed) from its last checkpoint\n[orders] started\n"
        )
        assert "[profile]" not in resumed.err
        assert (profile.call_count, orders.call_count) == (1, 2)
        row = _row(database_url, run_id)
        assert (row.status, row.outputs, row.attempt) == (
            RunStatus.COMPLETED,
            {"user": "u1", "orders": [3]},
            2,
        )
        assert (row.error_code, row.error_message) == (None, None)

    def test_a_run_that_fails_again_says_so_with_the_hint(
        self,
        cli: CliRunner,
        write_spec: SpecWriter,
        database_url: str,
        api: respx.MockRouter,
    ) -> None:
        api.get("/profile").respond(json={"id": "u1"})
        api.get("/orders").respond(503)
        run_id = _run_id(cli("run", str(write_spec(FETCH)), "--db", database_url))

        again = cli("runs", "resume", run_id, "--db", database_url)

        assert again.code == 1
        assert again.err.splitlines()[-1].endswith(_hint(run_id, database_url))
        assert _row(database_url, run_id).status is RunStatus.FAILED


class TestResumeAnInterruptedRun:
    def test_ctrl_c_before_the_first_checkpoint_leaves_a_run_to_continue(
        self,
        cli: CliRunner,
        write_spec: SpecWriter,
        database_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        original = local_run_module.LocalRun.execute

        def interrupted(*_args: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(local_run_module.LocalRun, "execute", interrupted)
        stopped = cli("run", str(write_spec(ECHO)), "--db", database_url, "--run-id", "run_c")
        assert (stopped.code, stopped.out) == (EXIT_INTERRUPTED, "")
        assert stopped.err == f"error: interrupted{_hint('run_c', database_url)}\n"
        assert _row(database_url, "run_c").status is RunStatus.RUNNING

        monkeypatch.setattr(local_run_module.LocalRun, "execute", original)
        resumed = cli("runs", "resume", "run_c", "--db", database_url)
        assert (resumed.code, resumed.json()) == (0, 4)
        assert _row(database_url, "run_c").status is RunStatus.COMPLETED

    def test_ctrl_c_at_a_question_in_a_real_process(
        self,
        cli: CliRunner,
        write_spec: SpecWriter,
        database_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        spec = write_spec(APPROVAL)
        master, slave = os.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "run", str(spec), "--db", database_url],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.close(slave)
        try:
            shown = _read_until_prompt(process)
            assert shown.endswith(b"> "), shown
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=45)
        finally:
            os.close(master)
        run_id = _run_id(Result(0, "", (shown + err).decode()))
        assert (process.returncode, out) == (EXIT_INTERRUPTED, b"")
        assert err.decode().endswith(f"error: interrupted{_hint(run_id, database_url)}\n")
        assert _row(database_url, run_id).status is RunStatus.WAITING_HUMAN

        monkeypatch.setattr(sys, "stdin", _TtyInput("true\n"))
        resumed = cli("runs", "resume", run_id, "--db", database_url)
        assert (resumed.code, resumed.json()) == (0, {"amount": 1200, "ok": True})


def _read_until_prompt(process: subprocess.Popen[bytes], deadline_s: float = 45) -> bytes:
    """Read stderr until the answer prompt shows (a bounded poll, not a sleep)."""
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + deadline_s
    while not seen.endswith(b"> ") and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 1)
        if ready:
            chunk = os.read(process.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen


class TestResumeAWaitingRun:
    def test_the_questions_are_asked_on_the_terminal(
        self,
        cli: CliRunner,
        write_spec: SpecWriter,
        database_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        unanswered = cli("run", str(write_spec(APPROVAL)), "--db", database_url)
        run_id = _run_id(unanswered)
        assert unanswered.code == 1
        assert unanswered.err.splitlines()[-1] == (
            "error: node 'approve' needs human input but stdin is not a terminal; "
            f"run interactively{_hint(run_id, database_url)}"
        )
        assert _row(database_url, run_id).status is RunStatus.WAITING_HUMAN

        monkeypatch.setattr(sys, "stdin", _TtyInput('"yes"\ntrue\n'))
        resumed = cli("runs", "resume", run_id, "--db", database_url)

        assert resumed.code == 0, resumed.err
        assert resumed.json() == {"amount": 1200, "ok": True}
        assert "[approve] Pay 1200?\n" in resumed.err
        assert "invalid answer for 'approve'" in resumed.err
        assert "[draft]" not in resumed.err
        row = _row(database_url, run_id)
        assert (row.status, row.outputs) == (RunStatus.COMPLETED, {"amount": 1200, "ok": True})


class TestResumeRefusals:
    def test_an_unknown_run_is_one_line(
        self, cli: CliRunner, write_spec: SpecWriter, database_url: str
    ) -> None:
        cli("run", str(write_spec(ECHO)), "--db", database_url)  # the database now exists
        result = cli("runs", "resume", "run_nope", "--db", database_url)
        assert (result.code, result.out) == (1, "")
        assert result.err == "error: run 'run_nope' not found\n"

    def test_a_completed_run_prints_its_output(
        self, cli: CliRunner, write_spec: SpecWriter, database_url: str
    ) -> None:
        run_id = _run_id(cli("run", str(write_spec(ECHO)), "--db", database_url))
        result = cli("runs", "resume", run_id, "--db", database_url)
        assert (result.code, result.json()) == (0, 4)
        assert result.err == f"run {run_id} already completed\n"

    def test_a_canceled_run_cannot_be_resumed(
        self, cli: CliRunner, write_spec: SpecWriter, database_url: str
    ) -> None:
        run_id = _run_id(cli("run", str(write_spec(ECHO)), "--db", database_url))
        asyncio.run(_set_status(database_url, run_id, RunStatus.CANCELED))
        result = cli("runs", "resume", run_id, "--db", database_url)
        assert (result.code, result.out) == (1, "")
        assert result.err == f"error: run '{run_id}' cannot be resumed: it was canceled\n"

    def test_a_database_file_that_does_not_exist_is_not_created(
        self, cli: CliRunner, tmp_path: Path
    ) -> None:
        missing = tmp_path / "typo.db"
        result = cli("runs", "resume", "run_x", "--db", f"sqlite://{missing}")
        assert (result.code, result.out) == (1, "")
        assert result.err == f"error: no database at sqlite://{missing}\n"
        assert not missing.exists()

    def test_resume_needs_a_run_id(self, cli: CliRunner) -> None:
        result = cli("runs", "resume")
        assert result.code == 2
        assert "the following arguments are required: RUN_ID" in result.err


async def _set_status(url: str, run_id: str, status: RunStatus) -> None:
    await init_database(url, migrate=False)
    try:
        await WorkflowRun.filter(id=run_id).update(status=status)
    finally:
        await close_database()
