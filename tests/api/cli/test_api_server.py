"""``plait api``: a real uvicorn server on a free port, answering the health route."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.cli.api_server import api_app
from shared.config import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestApiCommand:
    def test_serves_the_api_until_stopped(self, tmp_path: Path) -> None:
        port = _free_port()
        env = {**os.environ, "PLAIT_DATA_DIR": str(tmp_path / "data")}
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "api", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.stderr.read().decode()
                    assert time.monotonic() < deadline, "plait api did not answer within 30 s"
                    time.sleep(0.1)
            assert response.status_code == 200
            assert response.json() == {"status": "ok", "database": "ok"}
            assert (tmp_path / "data" / "plait.db").exists()
        finally:
            server.terminate()
            server.communicate(timeout=30)


class TestApiApp:
    def test_without_redis_it_runs_the_scheduler_of_its_own_runs(self) -> None:
        settings = Settings(database_url="sqlite:///tmp/never-opened.db")
        assert api_app(settings).state.scheduler is True

    def test_with_redis_the_scheduler_is_plait_schedulers(self) -> None:
        settings = Settings(
            database_url="sqlite:///tmp/never-opened.db", redis_url="redis://127.0.0.1:6379/0"
        )
        assert api_app(settings).state.scheduler is False
