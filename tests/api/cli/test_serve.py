"""``plait serve``: a real server in a subprocess, set up on its first start and only then."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from api.cli import serve
from tests.api.cli.conftest import EXAMPLES, CliRunner
from tests.support.api import bearer

STARTUP_SECONDS = 30
"""How long a server may take to print its URL (imports, migrations, the examples)."""

KEY = re.compile(r"plait_[0-9a-f]{12}_\S+")
SERVING = re.compile(r"Plait is serving on (http://\S+)")
EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.json"))


@dataclass
class Server:
    """A ``plait serve`` subprocess and what it printed on stdout until it listened."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    url: str = ""
    stderr: str = ""
    """All it wrote on stderr (its logs), once stopped."""

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _forward(stream: object, lines: queue.Queue[str | None]) -> None:
    """Hand each line of ``stream`` to ``lines``; None at its end."""
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


@contextmanager
def running(data_dir: Path, count: int = 1) -> Iterator[list[Server]]:
    """Start ``count`` servers at once on ``data_dir``; yield them once each listens; stop them."""
    env = {**os.environ, "PLAIT_DATA_DIR": str(data_dir)}
    env.pop("PLAIT_DATABASE_URL", None)
    servers = [
        Server(
            subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", "0"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        for _ in range(count)
    ]
    try:
        for server in servers:
            _wait_until_serving(server)
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
            server.stderr = server.process.communicate(timeout=30)[1]


def _wait_until_serving(server: Server) -> None:
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_forward, args=(server.process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.url:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            pytest.fail(f"plait serve printed no URL within {STARTUP_SECONDS} s:\n{server.output}")
        if line is None:
            server.process.wait(timeout=30)
            pytest.fail(f"plait serve ended:\n{server.output}\n{server.process.stderr.read()}")
        server.lines.append(line)
        if match := SERVING.search(line):
            server.url = match.group(1)


def _workflows(url: str, key: str) -> list[dict[str, object]]:
    response = httpx.get(f"{url}/v1/workflows", headers=bearer(key), timeout=10)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


class TestServe:
    def test_the_first_start_prints_a_key_and_loads_the_examples_once(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        with running(data_dir) as [first]:
            keys = KEY.findall(first.output)
            assert len(keys) == 1
            assert "shown only this once" in first.output
            assert first.url.startswith("http://127.0.0.1:")
            health = httpx.get(f"{first.url}/v1/health", timeout=10)
            assert health.status_code == 200
            workflows = _workflows(first.url, keys[0])
            assert sorted(str(w["name"]) for w in workflows) == EXAMPLE_NAMES
            assert {w["published_version_number"] for w in workflows} == {1}
        assert (data_dir / "plait.db").exists()
        assert "Application startup complete" in first.stderr
        assert keys[0] not in first.stderr

        with running(data_dir) as [again]:
            assert KEY.search(again.output) is None
            assert "plait keys create --tenant default --role admin" in again.output
            workflows = _workflows(again.url, keys[0])
            assert sorted(str(w["name"]) for w in workflows) == EXAMPLE_NAMES

    def test_of_two_first_starts_at_once_one_sets_up(self, tmp_path: Path) -> None:
        with running(tmp_path / "data", count=2) as servers:
            keys = [key for server in servers for key in KEY.findall(server.output)]
            assert len(keys) == 1
            for server in servers:
                workflows = _workflows(server.url, keys[0])
                assert sorted(str(w["name"]) for w in workflows) == EXAMPLE_NAMES


class TestServeFailures:
    def test_a_port_in_use_fails_after_showing_the_new_key(
        self, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
        monkeypatch.setattr(serve, "EXAMPLES_DIR", tmp_path / "no-examples")
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]

            result = cli("serve", "--port", str(port))

        assert result.code == 1
        assert len(KEY.findall(result.out)) == 1
        assert f"No examples directory at {tmp_path / 'no-examples'}" in result.out
        assert "Loaded 0 published example workflows: none" in result.out
        assert "serving on" not in result.out
