"""Fixtures for running the examples: the CLI in-process, a provider at a mocked endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tests.api.cli.conftest import clean_environment, cli
from tests.conftest import TEST_OPENAI_BASE_URL

__all__ = ["clean_environment", "cli"]

EXAMPLES = Path(__file__).parents[2] / "examples"
CHAT_URL = f"{TEST_OPENAI_BASE_URL}/chat/completions"


def load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def chat_reply(content: Any) -> httpx.Response:
    """A chat completion answering ``content`` (JSON-encoded unless it is text)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
        },
    )


def sent_json(call: respx.models.Call) -> Any:
    return json.loads(call.request.content)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's environment points the openai provider at the mocked endpoint."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", TEST_OPENAI_BASE_URL)


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    """Every outbound request is mocked; an unrouted one fails the run."""
    with respx.mock(assert_all_called=True) as router:
        yield router
