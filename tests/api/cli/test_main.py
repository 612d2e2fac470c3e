"""The ``plait`` entry point: usage errors, help, and the real process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.api.cli.conftest import EXAMPLES, CliRunner


class TestMain:
    def test_without_a_command_it_shows_usage(self, cli: CliRunner) -> None:
        result = cli()
        assert result.code == 2
        assert result.err.startswith("usage: plait")
        assert "the following arguments are required: COMMAND" in result.err

    def test_help_lists_the_commands(self, cli: CliRunner) -> None:
        result = cli("--help")
        assert result.code == 0
        for command in ("validate", "graph", "schema", "run"):
            assert command in result.out

    def test_an_unknown_command_is_a_usage_error(self, cli: CliRunner) -> None:
        result = cli("frobnicate")
        assert result.code == 2
        assert "invalid choice: 'frobnicate'" in result.err


class TestProcess:
    def test_runs_as_a_real_process(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "run", str(EXAMPLES / "order_totals.json")],
            capture_output=True,
            text=True,
            timeout=50,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["total"] == 73.8
        assert "[instalments] started" in done.stderr
        assert "Traceback" not in done.stderr

    def test_a_failure_in_a_real_process_has_no_traceback(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "validate", "does-not-exist.json"],
            capture_output=True,
            text=True,
            timeout=50,
            check=False,
        )
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == "error: does-not-exist.json: no such file\n"
