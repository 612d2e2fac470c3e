"""``plait run``: output on stdout, progress on stderr, and one clear line per failure."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from api.cli import run as run_module
from api.cli.errors import EXIT_INTERRUPTED
from tests.api.cli.conftest import EXAMPLES, CliRunner, SpecWriter

TYPED = {
    "version": "1",
    "inputs": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "n": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        },
        "required": ["name", "n"],
    },
    "nodes": [
        {
            "id": "echo",
            "type": "set",
            "value": {
                "name": "{{ inputs.name }}",
                "n": "{{ inputs.n }}",
                "tags": "{{ inputs.tags }}",
            },
        }
    ],
}


class TestRunOutput:
    def test_prints_the_output_as_json_and_progress_on_stderr(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        result = cli("run", str(write_spec(TYPED)), "--input", "name=007", "-i", "n=5")
        assert result.code == 0
        assert result.json() == {"name": "007", "n": 5, "tags": []}
        assert result.out.startswith('{\n  "name": "007"')
        lines = result.err.splitlines()
        assert lines[0].startswith("run run_")
        assert lines[1] == "[echo] started"
        assert lines[2].startswith("[echo] completed in ")
        assert len(lines) == 3

    def test_inputs_file_then_flags(
        self, cli: CliRunner, write_spec: SpecWriter, tmp_path: Path
    ) -> None:
        inputs = tmp_path / "inputs.json"
        inputs.write_text(json.dumps({"name": "from file", "n": 1, "tags": ["a"]}))
        result = cli("run", str(write_spec(TYPED)), "--inputs-file", str(inputs), "-i", "n=2")
        assert result.code == 0
        assert result.json() == {"name": "from file", "n": 2, "tags": ["a"]}

    def test_the_run_id_is_the_one_given(self, cli: CliRunner, write_spec: SpecWriter) -> None:
        spec = {"version": "1", "nodes": [{"id": "me", "type": "set", "value": "{{ run.id }}"}]}
        result = cli("run", str(write_spec(spec)), "--run-id", "run_fixed")
        assert (result.code, result.json()) == (0, "run_fixed")
        assert result.err.startswith("run run_fixed started\n")

    def test_the_no_network_example_runs(self, cli: CliRunner) -> None:
        result = cli("run", str(EXAMPLES / "order_totals.json"), "-i", "monthly_budget=30")
        assert result.code == 0
        assert result.json()["instalments"] == 3


class TestRunUsageErrors:
    def test_an_input_without_equals_is_a_usage_error(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        result = cli("run", str(write_spec(TYPED)), "--input", "name")
        assert (result.code, result.out) == (2, "")
        assert result.err == "error: --input 'name' must look like key=value\n"

    def test_an_inputs_file_must_be_an_object(
        self, cli: CliRunner, write_spec: SpecWriter, tmp_path: Path
    ) -> None:
        inputs = tmp_path / "inputs.json"
        inputs.write_text('"just text"')
        result = cli("run", str(write_spec(TYPED)), "--inputs-file", str(inputs))
        assert result.code == 2
        assert result.err == f"error: {inputs}: inputs must be a JSON object, got string\n"

    def test_an_unreadable_inputs_file_is_a_usage_error(
        self, cli: CliRunner, write_spec: SpecWriter, tmp_path: Path
    ) -> None:
        inputs = tmp_path / "inputs.json"
        inputs.write_text("{oops}")
        result = cli("run", str(write_spec(TYPED)), "--inputs-file", str(inputs))
        assert result.code == 2
        assert result.err == (
            f"error: {inputs}: invalid JSON at line 1, column 2: "
            "Expecting property name enclosed in double quotes\n"
        )

    def test_an_unknown_option_is_a_usage_error(self, cli: CliRunner) -> None:
        result = cli("run", str(EXAMPLES / "order_totals.json"), "--inptu", "a=1")
        assert result.code == 2
        assert "unrecognized arguments: --inptu a=1" in result.err


class TestRunFailures:
    def test_inputs_failing_the_schema_are_listed_with_paths(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        result = cli("run", str(write_spec(TYPED)), "-i", "n=many", "-i", "tags=[1]")
        assert (result.code, result.out) == (1, "")
        assert sorted(result.err.splitlines()) == [
            "inputs.n: 'many' is not of type 'integer'",
            "inputs.name: required property is missing",
            "inputs.tags[0]: 1 is not of type 'string'",
        ]

    def test_a_spec_failing_its_checks_is_not_run(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        spec = {"version": "1", "nodes": [{"id": "a", "type": "set", "value": "{{ input.x }}"}]}
        result = cli("run", str(write_spec(spec)))
        assert (result.code, result.out) == (1, "")
        assert result.err == (
            "nodes[0].value: unknown name 'input' (did you mean 'inputs'?); "
            "names here: inputs, nodes, run, secrets\n"
        )

    def test_an_unknown_tool_is_a_check_error(self, cli: CliRunner, write_spec: SpecWriter) -> None:
        spec = {"version": "1", "nodes": [{"id": "a", "type": "tool", "tool": "slack_post"}]}
        result = cli("run", str(write_spec(spec)))
        assert result.code == 1
        assert result.err == "nodes[0].tool: unknown tool 'slack_post' (known: http_request)\n"

    def test_a_failing_node_ends_with_one_error_line(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        spec = {
            "version": "1",
            "inputs": {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}},
            "nodes": [{"id": "ratio", "type": "set", "value": "{{ inputs.n / 0 }}"}],
        }
        result = cli("run", str(write_spec(spec)))
        assert (result.code, result.out) == (1, "")
        progress, final = result.err.splitlines()[-2:]
        assert progress == (
            "[ratio] failed: expression_error: expression 'inputs.n / 0' failed: division by zero"
        )
        assert final == (
            "error: node 'ratio' failed: expression_error: "
            "expression 'inputs.n / 0' failed: division by zero"
        )
        assert "Traceback" not in result.err

    def test_a_failure_outside_any_node_names_no_node(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        spec = {
            "version": "1",
            "nodes": [
                {"id": "ratio", "type": "set", "value": "{{ 1 / 0 }}", "on_error": "continue"}
            ],
            "output": "{{ nodes.ratio.output.value }}",
        }
        result = cli("run", str(write_spec(spec)))
        assert result.code == 1
        assert "[ratio] failed: expression_error: " in result.err
        assert result.err.splitlines()[-1].startswith("error: run failed: expression_error: ")

    def test_a_missing_provider_key_names_the_variable(self, cli: CliRunner) -> None:
        result = cli(
            "run",
            str(EXAMPLES / "support_triage.json"),
            "-i",
            "subject=Refund",
            "-i",
            "body=I was charged twice.",
            "-i",
            "customer_email=ann@example.com",
        )
        assert (result.code, result.out) == (1, "")
        assert result.err.splitlines()[-1] == (
            "error: node 'classify' failed: config_error: "
            "provider 'openai' has no API key: set OPENAI_API_KEY"
        )

    def test_a_missing_secret_names_its_variable(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        spec = {
            "version": "1",
            "nodes": [{"id": "tok", "type": "set", "value": "{{ secrets.API_TOKEN | length }}"}],
        }
        result = cli("run", str(write_spec(spec)))
        assert result.code == 1
        assert result.err.splitlines()[-1] == (
            "error: node 'tok' failed: secret_missing: "
            "secret 'API_TOKEN' is not set (set PLAIT_SECRET_API_TOKEN for the CLI)"
        )

    def test_a_human_node_without_a_terminal_fails_clearly(
        self, cli: CliRunner, write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO('{"approved": true}\n'))
        spec = {
            "version": "1",
            "nodes": [
                {
                    "id": "approve",
                    "type": "human",
                    "prompt": "Ship it?",
                    "schema": {"type": "boolean"},
                }
            ],
        }
        result = cli("run", str(write_spec(spec)))
        assert (result.code, result.out) == (1, "")
        assert result.err.splitlines()[-2:] == [
            "[approve] waiting for human input",
            "error: node 'approve' needs human input but stdin is not a terminal; "
            "run interactively",
        ]

    def test_ctrl_c_exits_130_quietly(
        self, cli: CliRunner, write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def interrupted(*_args: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(run_module.LocalRun, "execute", interrupted)
        result = cli("run", str(write_spec(TYPED)), "-i", "name=a", "-i", "n=1")
        assert (result.code, result.out, result.err) == (EXIT_INTERRUPTED, "", "")

    def test_an_unexpected_error_is_one_line(
        self, cli: CliRunner, write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(*_args: object) -> None:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(run_module.LocalRun, "execute", broken)
        result = cli("run", str(write_spec(TYPED)), "-i", "name=a", "-i", "n=1")
        assert result.code == 1
        assert result.err == (
            "error: internal error: RuntimeError: disk on fire (rerun with --verbose for details)\n"
        )
