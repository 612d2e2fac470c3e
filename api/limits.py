"""A bound on request bodies, so that one request cannot make the server buffer gigabytes.

Bodies are read whole (JSON), so the bound is enforced before the route sees them: a
``Content-Length`` above it is refused at once, and a body sent without one (chunked) is read
here first, up to the bound, then handed on; past the bound it is refused. Either way the
answer is a 413 problem (``request_too_large``) naming the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response

__all__ = ["TOO_LARGE", "BodyLimitMiddleware"]


TOO_LARGE = "request_too_large"
"""The code of the 413 problem."""


class BodyLimitMiddleware:
    """Refuses request bodies larger than ``max_bytes``.

    Args:
        app: The application behind it.
        max_bytes: The largest body accepted.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            messages = await self._read_bounded(receive)
            if messages is None:
                await self._refuse(scope, receive, send)
                return
            receive = _replay(messages, receive)
        elif declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _read_bounded(self, receive: Receive) -> list[Message] | None:
        """The messages of a body sent without a length, or None once it passes the bound."""
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            status=413,
            code=TOO_LARGE,
            title="The request body is too large",
            detail=self._detail(),
        )
        await response(scope, receive, send)

    def _detail(self) -> str:
        return (
            f"request bodies may hold at most {self.max_bytes} bytes "
            "(PLAIT_MAX_REQUEST_BYTES on the server)"
        )


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` giving ``messages`` first, then what ``receive`` gives (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
