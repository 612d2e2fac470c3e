"""``plait worker`` and ``plait scheduler`` refuse to start without Redis, and a worker's
concurrency is checked; running them is ``tests/worker/test_processes.py``'s."""

from __future__ import annotations

import pytest

from tests.api.cli.conftest import CliRunner


@pytest.fixture(autouse=True)
def _no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAIT_REDIS_URL", raising=False)


class TestWithoutRedis:
    @pytest.mark.parametrize(
        ("command", "instead"),
        [
            ("worker", "the API process executes its async runs itself (plait serve)"),
            ("scheduler", "plait serve runs the scheduler in its own process"),
        ],
    )
    def test_refuses_to_start_and_says_what_to_do(
        self, cli: CliRunner, command: str, instead: str
    ) -> None:
        result = cli(command)

        assert result.code == 2
        assert result.err == (
            f"error: plait {command} needs PLAIT_REDIS_URL: without Redis, {instead}\n"
        )


class TestConcurrency:
    @pytest.mark.parametrize("value", ["0", "-3", "many"])
    def test_must_be_a_positive_number(self, cli: CliRunner, value: str) -> None:
        result = cli("worker", "--concurrency", value)

        assert result.code == 2
        assert "argument --concurrency" in result.err
