"""Asking a human node's question on the terminal."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.cli.errors import CliError
from api.cli.terminal import Question, Terminal


class _TtyInput(io.StringIO):
    """Typed answers, on what claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def _ask(question: Question, typed: str) -> tuple[object, str]:
    output = io.StringIO()
    answer = Terminal(_TtyInput(typed), output).ask(question)
    return answer, output.getvalue()


BOOLEAN_OBJECT = {"type": "object", "properties": {"ok": {"type": "boolean"}}}


class TestAsk:
    def test_a_string_schema_takes_the_line_as_text(self) -> None:
        question = Question(node_id="name", prompt="Your name?", schema={"type": "string"})
        answer, shown = _ask(question, "  Ada Lovelace \n")
        assert answer == "Ada Lovelace"
        assert shown == "[name] Your name?\n> "

    def test_other_schemas_are_shown_and_parsed_as_json(self) -> None:
        question = Question(node_id="approve", prompt="Pay 1200?", schema=BOOLEAN_OBJECT)
        answer, shown = _ask(question, '{"ok": true}\n')
        assert answer == {"ok": True}
        assert shown.splitlines()[:2] == [
            "[approve] Pay 1200?",
            'answer as JSON matching {"type": "object", "properties": {"ok": {"type": "boolean"}}}',
        ]

    def test_invalid_json_is_asked_again(self) -> None:
        question = Question(node_id="approve", prompt="Pay?", schema=BOOLEAN_OBJECT)
        answer, shown = _ask(question, 'yes\n{"ok": false}\n')
        assert answer == {"ok": False}
        assert "not valid JSON (column 1: Expecting value); try again" in shown

    def test_a_rejected_answer_shows_the_error_first(self) -> None:
        question = Question(
            node_id="approve",
            prompt="Pay?",
            schema=BOOLEAN_OBJECT,
            error="invalid answer for 'approve': at answer.ok: 'x' is not of type 'boolean'",
        )
        _, shown = _ask(question, '{"ok": true}\n')
        assert shown.startswith(
            "invalid answer for 'approve': at answer.ok: 'x' is not of type 'boolean'; try again\n"
            "[approve] Pay?\n"
        )

    def test_closed_stdin_fails_clearly(self) -> None:
        question = Question(node_id="approve", prompt="Pay?", schema={"type": "string"})
        with pytest.raises(CliError) as caught:
            _ask(question, "")
        assert caught.value.message == "no answer for node 'approve': stdin was closed"

    def test_without_a_terminal_nobody_is_asked(self) -> None:
        question = Question(node_id="approve", prompt="Pay?", schema={"type": "string"})
        output = io.StringIO()
        with pytest.raises(CliError) as caught:
            Terminal(io.StringIO("yes\n"), output).ask(question)
        assert caught.value.message == (
            "node 'approve' needs human input but stdin is not a terminal; run interactively"
        )
        assert output.getvalue() == ""


APPROVAL_SPEC = {
    "version": "1",
    "nodes": [
        {"id": "draft", "type": "set", "value": {"amount": 1200}},
        {
            "id": "approve",
            "type": "human",
            "prompt": "Pay {{ nodes.draft.output.amount }}?",
            "schema": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"],
            },
        },
        {"id": "note", "type": "human", "prompt": "Note for the ledger?"},
    ],
    "output": {
        "amount": "{{ nodes.draft.output.amount }}",
        "ok": "{{ nodes.approve.output.ok }}",
        "note": "{{ nodes.note.output }}",
    },
}


class _PtyRun:
    """``plait run`` as a real process whose stdin is a pseudo-terminal."""

    def __init__(self, spec: Path) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "run", str(spec)],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.close(slave)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_for_prompt(self, deadline_s: float = 45) -> bytes:
        """Read stderr until the answer prompt shows (a bounded poll, not a sleep)."""
        assert self.process.stderr is not None
        seen = b""
        deadline = time.monotonic() + deadline_s
        while not seen.endswith(b"> ") and time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stderr], [], [], 1)
            if ready:
                chunk = os.read(self.process.stderr.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
        return seen

    def finish(self) -> tuple[int, str, str]:
        try:
            out, err = self.process.communicate(timeout=45)
        finally:
            os.close(self.master)
        return self.process.returncode, out.decode(), err.decode()


@pytest.fixture
def approval_spec(tmp_path: Path) -> Path:
    path = tmp_path / "approval.json"
    path.write_text(json.dumps(APPROVAL_SPEC))
    return path


class TestOnARealTerminal:
    def test_answers_are_read_until_valid_and_the_run_resumes(self, approval_spec: Path) -> None:
        run = _PtyRun(approval_spec)
        run.type('{"ok": "yes"}\n{"ok": true}\nPaid by card\n')
        code, out, err = run.finish()
        assert code == 0, err
        assert json.loads(out) == {"amount": 1200, "ok": True, "note": "Paid by card"}
        assert "[approve] Pay 1200?\n" in err
        assert "answer as JSON matching {" in err
        assert (
            "invalid answer for 'approve': at answer.ok: 'yes' is not of type 'boolean'; try again"
            in err
        )
        assert "[note] Note for the ledger?\n" in err
        assert "Traceback" not in err

    def test_ctrl_c_at_the_question_exits_130_quietly(self, approval_spec: Path) -> None:
        run = _PtyRun(approval_spec)
        shown = run.wait_for_prompt()
        assert shown.endswith(b"> "), shown
        run.process.send_signal(signal.SIGINT)
        code, out, err = run.finish()
        assert (code, out) == (130, "")
        assert "Traceback" not in err
