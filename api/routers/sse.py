"""A run's events as Server-Sent Events, for ``GET /runs/{id}/events`` and streamed runs.

Each event is one SSE message whose ``id`` is its ``seq``, so a client that reconnects with
``Last-Event-ID`` (browsers' ``EventSource`` does it by itself) gets what it missed and
nothing twice::

    id: 3
    event: node_completed
    data: {"seq": 3, "kind": "node_completed", ...}

While nothing happens, a comment line (``: keep-alive``) goes out every ``heartbeat_s``
seconds so that proxies keep the connection open. The stream ends once the run stopped
producing events (completed, failed, canceled or waiting for people) and all were sent.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from fastapi import Request
from fastapi.responses import StreamingResponse

from api.schemas.run_history import RunEventPublic
from api.services import Principal
from api.services.run_events import RunEventHub
from api.services.run_history import follow_events
from shared.database.models import RunEventRecord

__all__ = [
    "HEARTBEAT",
    "SSE_HEARTBEAT_S",
    "SSE_MEDIA_TYPE",
    "run_event_stream",
    "wants_event_stream",
]

SSE_MEDIA_TYPE = "text/event-stream"

SSE_HEARTBEAT_S = 15.0
"""Default seconds between keep-alives (``app.state.sse_heartbeat_s``): below the 30-60 s
after which common proxies close an idle connection."""

HEARTBEAT = b": keep-alive\n\n"
"""A comment line: ignored by clients, but traffic for proxies that close idle streams."""

_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""No caching of a live stream; ``X-Accel-Buffering: no`` stops nginx from buffering it."""


def wants_event_stream(request: Request) -> bool:
    """Whether the request's ``Accept`` asks for an event stream rather than JSON."""
    return SSE_MEDIA_TYPE in request.headers.get("accept", "")


async def run_event_stream(
    principal: Principal,
    run_id: str,
    *,
    after_seq: int,
    hub: RunEventHub,
    heartbeat_s: float,
) -> StreamingResponse:
    """The response streaming the run's events with ``seq`` above ``after_seq`` until the
    run stops producing events.

    The run is looked up first, so a missing run is a 404 problem, not a broken stream.

    Raises:
        RunNotFoundError: no such run in the principal's tenant.
    """
    events = await follow_events(
        principal, run_id, after=after_seq, hub=hub, heartbeat_s=heartbeat_s
    )
    return StreamingResponse(_messages(events), media_type=SSE_MEDIA_TYPE, headers=_HEADERS)


async def _messages(
    events: AsyncGenerator[RunEventRecord | None, None],
) -> AsyncIterator[bytes]:
    """SSE messages of ``events``; closing them when the client goes ends the subscription
    at once rather than when the generator is collected."""
    async with aclosing(events):
        async for event in events:
            if event is None:
                yield HEARTBEAT
                continue
            public = RunEventPublic.model_validate(event)
            data = public.model_dump_json()
            yield f"id: {public.seq}\nevent: {public.kind}\ndata: {data}\n\n".encode()
