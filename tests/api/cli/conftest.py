"""Running ``plait`` in-process, in an environment without provider keys or secrets."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.cli import main

EXAMPLES = Path(__file__).parents[3] / "examples"

SpecWriter = Callable[[dict[str, Any]], Path]


@dataclass(frozen=True, slots=True)
class Result:
    """What one ``plait`` command did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


CliRunner = Callable[..., Result]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own keys and secrets must not change what a test sees."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "PLAIT_SECRET_")):
            monkeypatch.delenv(name)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run ``plait *argv`` and capture its exit status, stdout and stderr."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_spec(tmp_path: Path) -> SpecWriter:
    """Write a spec to a fresh file and return its path."""
    count = 0

    def write(spec: dict[str, Any]) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"spec{count}.json"
        path.write_text(json.dumps(spec))
        return path

    return write
