"""Reading a streamed response as it is sent, message by message.

httpx's ``ASGITransport`` returns a response only once its body is complete, so a test could
not read the first events of a stream that has not ended. ``asgi_stream`` calls the ASGI app
itself and hands out each body chunk as the app sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message

READ_TIMEOUT_S = 10.0
"""How long a test waits for the next chunk before failing (never reached when it works)."""


@dataclass
class StreamedResponse:
    """A response whose body is still arriving."""

    status: int
    headers: dict[str, str]
    _chunks: asyncio.Queue[bytes | None] = field(repr=False)

    async def next_chunk(self) -> bytes | None:
        """The next body chunk as sent; None once the body is complete."""
        async with asyncio.timeout(READ_TIMEOUT_S):
            return await self._chunks.get()

    async def rest(self) -> list[bytes]:
        """Every chunk until the body is complete."""
        chunks: list[bytes] = []
        while (chunk := await self.next_chunk()) is not None:
            chunks.append(chunk)
        return chunks


@contextlib.asynccontextmanager
async def asgi_stream(
    app: ASGIApp, path: str, *, headers: Mapping[str, str]
) -> AsyncIterator[StreamedResponse]:
    """GET ``path`` (with its query string) from ``app``; the response once its headers are
    sent. Leaving the block disconnects the client."""
    target, _, query = path.partition("?")
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
    start: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    requested = False
    disconnected = asyncio.Event()

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.set_result(message)
        elif message["type"] == "http.response.body":
            if message.get("body"):
                chunks.put_nowait(message["body"])
            if not message.get("more_body", False):
                chunks.put_nowait(None)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target,
        "raw_path": target.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("testclient", 50000),
        "server": ("test", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            message = await asyncio.shield(start)
        response_headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        yield StreamedResponse(message["status"], response_headers, chunks)
    finally:
        disconnected.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def messages(body: str) -> list[dict[str, str]]:
    """The SSE messages of a body: each a mapping of its fields; comments as ``comment``."""
    parsed = []
    for block in body.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name or "comment"] = value
        parsed.append(fields)
    return parsed
