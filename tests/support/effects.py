"""A real HTTP server on 127.0.0.1 that counts the requests workflow nodes send it.

Tests of separate worker processes cannot count calls through respx or a tool object in the
test's memory: a node in another process reaches this server through ``http_request`` like any
endpoint, and the ``Idempotency-Key`` it sends (``run_id:node_id:task_id:attempt``) says which
run and node the call came from. A request body ``{"delay_s": x}`` makes the answer wait, so
that a test can catch nodes in flight.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from types import TracebackType
from typing import Self

__all__ = ["EffectServer"]

_MAX_HEAD = 64 * 1024


class EffectServer:
    """Counts requests per (run id, node id), keeping their idempotency keys; use as
    ``async with EffectServer() as server``."""

    def __init__(self) -> None:
        self.keys: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """Where nodes send their requests."""
        assert self._server is not None, "the server is not started"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/effect"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._connections:
            writer.close()
        await self._server.wait_closed()

    def count(self, run_id: str, node_id: str) -> int:
        """How many requests node ``node_id`` of run ``run_id`` sent."""
        return len(self.keys[(run_id, node_id)])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one connection until the client closes it (keep-alive)."""
        self._connections.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > _MAX_HEAD:
                    return
                headers = _headers(head)
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                await self._answer(headers, body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _answer(
        self, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        key = headers["idempotency-key"]
        run_id, node_id = key.split(":")[:2]
        self.keys[(run_id, node_id)].append(key)
        delay_s = float(json.loads(body or b"{}").get("delay_s", 0))
        await asyncio.sleep(delay_s)
        payload = json.dumps({"node": node_id}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()


def _headers(head: bytes) -> dict[str, str]:
    """Lower-cased header names → values, from a request's head (request line skipped)."""
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}
