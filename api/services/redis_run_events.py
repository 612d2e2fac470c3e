"""Run events notified across processes through Redis pub/sub.

Runs execute in ``plait worker`` processes while SSE followers are connected to ``plait api``
processes, so a worker's ``notify`` must wake followers everywhere. ``RedisRunEventHub`` keeps
``RunEventHub``'s two calls (``notify``, ``subscribe``) and adds a Redis channel behind them:

- ``notify(run_id)`` wakes this process's followers at once, then queues the run id for a
  publisher task (it never waits on the network). Ids pending together are coalesced: a run
  emits about ten events in a burst, and one message per run per drain says "look again" as
  well as ten. A drain is one pipeline round trip.
- A listener task, subscribed to the one channel of all runs (``<prefix>:run-events``, message
  = run id), wakes the local followers of each run id it receives. So each process holds two
  connections whatever the number of runs and followers. Its own messages come back to it:
  they wake its followers a second time (harmless) and are not published again.

Redis is an accelerator, never a dependency: the database stays the one source of truth and
followers re-read it on every heartbeat (``Subscription.wait`` timing out). So when Redis is
down, at start or later, notifications stay local, what could not be published is dropped,
one warning is logged per outage, and both tasks reconnect with a capped, jittered backoff. After
the listener subscribes again, every local follower is woken once, since the messages sent
while it was away are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Literal, Self

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from api.services.run_events import RunEventHub

__all__ = ["RedisRunEventHub"]

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 5.0
"""Bounds connecting and subscribing, and each publish round trip: a black-holed Redis must
not hold a task (or ``start``) for the operating system's TCP timeout."""
_PING_INTERVAL_S = 15.0
"""An idle listener pings Redis this often; no answer within as long again counts as a broken
connection. Without it a half-open connection (Redis host gone, no reset received) would keep
the listener waiting for good."""
_CANCEL_AGAIN_S = 0.05
"""How long ``aclose`` waits for a cancelled task before cancelling it again (see ``_cancel``)."""
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 10.0

_Part = Literal["listener", "publisher"]


class RedisRunEventHub(RunEventHub):
    """A ``RunEventHub`` whose notifications also reach the hubs of other processes.

    Use it from one event loop (as ``RunEventHub``): ``notify`` is synchronous but must be
    called in the loop's thread. Call ``start`` before notifications can cross processes and
    ``aclose`` at shutdown; before ``start`` and after ``aclose`` the hub is local only.

    Args:
        redis: A Redis URL (the hub makes its client and closes it in ``aclose``), or a client
            owned by the caller (closed by the caller, after ``aclose``). The URL may hold a
            password: it is never logged.
        channel_prefix: Prefix of the channel name: the hubs connected to one Redis server
            with the same prefix notify each other (pub/sub ignores the database number).
        listen: Whether notifications from other processes wake followers here. A process
            with no followers (``plait worker``: SSE streams are the API's) only publishes,
            and spares itself reading every run's notifications.
    """

    def __init__(
        self, redis: str | Redis, *, channel_prefix: str = "plait", listen: bool = True
    ) -> None:
        super().__init__()
        self._listens = listen
        if isinstance(redis, str):
            # No retries inside redis-py: a broken connection reaches the listener, which
            # resubscribes on a fresh connection and wakes its followers (see the module doc).
            self._redis = Redis.from_url(
                redis,
                socket_connect_timeout=_CONNECT_TIMEOUT_S,
                socket_keepalive=True,
                retry=Retry(NoBackoff(), 0),
            )
            self._owns_client = True
        else:
            self._redis = redis
            self._owns_client = False
        self.channel = f"{channel_prefix}:run-events"
        """The one channel of all runs' notifications."""
        self._pending: dict[str, None] = {}
        """Run ids to publish, in order, each once (a dict as an ordered set)."""
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: PubSub | None = None
        """The listener's connection, while subscribed."""
        self._failing: set[_Part] = set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def notify(self, run_id: str) -> None:
        """Wake the followers of ``run_id`` here at once, and queue it for the other processes.

        Never blocks and never raises for Redis: a run id that cannot be published is dropped.
        """
        super().notify(run_id)
        if self._tasks:
            self._pending[run_id] = None
            self._wakeup.set()

    async def start(self) -> None:
        """Subscribe to the channel and start the listener and publisher tasks.

        Returns once subscribed, so a notification published by another hub after ``start``
        reaches this one; or, Redis being unreachable, after one attempt (bounded by a timeout,
        logged as a warning) and the listener keeps trying in the background.
        """
        if self._tasks:
            raise RuntimeError("RedisRunEventHub already started")
        self._tasks = [
            asyncio.create_task(self._publish_forever(), name=f"{self.channel} publisher")
        ]
        if not self._listens:
            return
        try:
            self._pubsub = await self._subscribe()
        except Exception as exc:
            self._failed("listener", exc)
        self._tasks.append(
            asyncio.create_task(self._listen_forever(), name=f"{self.channel} listener")
        )

    async def aclose(self) -> None:
        """Stop both tasks, dropping what is not published yet, and close the connections."""
        tasks, self._tasks = self._tasks, []
        await _cancel(tasks)
        self._pending.clear()
        if self._pubsub is not None:  # closed here: the listener may not have run at all
            pubsub, self._pubsub = self._pubsub, None
            await _close_quietly(pubsub)
        if self._owns_client:
            await self._redis.aclose()

    async def _publish_forever(self) -> None:
        """Publish the pending run ids, one pipeline per drain: ids queued while a drain is
        in flight make the next one."""
        delays = _backoff()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = list(self._pending), {}
            try:
                await self._publish(batch)
            except Exception as exc:
                self._failed("publisher", exc)
                logger.debug("%d run id(s) not published to %s", len(batch), self.channel)
                await asyncio.sleep(next(delays))
                continue
            self._recovered("publisher")
            delays = _backoff()

    async def _publish(self, run_ids: list[str]) -> None:
        """Publish, trying a second time at once on a connection error: the first may come
        from a pooled connection that Redis closed (a restart, an idle timeout)."""
        try:
            await self._publish_once(run_ids)
        except RedisConnectionError:
            await self._publish_once(run_ids)

    async def _publish_once(self, run_ids: list[str]) -> None:
        async with asyncio.timeout(_CONNECT_TIMEOUT_S):
            if len(run_ids) == 1:
                await self._redis.publish(self.channel, run_ids[0])
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for run_id in run_ids:
                    pipe.publish(self.channel, run_id)
                await pipe.execute()

    async def _listen_forever(self) -> None:
        """Wake local followers for each message; on a failure, resubscribe after a delay."""
        delays = _backoff()
        while True:
            if self._pubsub is None:
                try:
                    self._pubsub = await self._subscribe()
                except Exception as exc:
                    self._failed("listener", exc)
                    await asyncio.sleep(next(delays))
                    continue
            delays = _backoff()
            try:
                await self._listen(self._pubsub)
            except Exception as exc:
                self._failed("listener", exc)
            pubsub, self._pubsub = self._pubsub, None
            await _close_quietly(pubsub)
            await asyncio.sleep(next(delays))

    async def _subscribe(self) -> PubSub:
        """A new connection subscribed to the channel. Every local follower is woken: what
        was published while this process was not subscribed is lost."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                await pubsub.subscribe(self.channel)
        except BaseException:
            await _close_quietly(pubsub)
            raise
        self._recovered("listener")
        self._wake_local(list(self._subscriptions))
        return pubsub

    async def _listen(self, pubsub: PubSub) -> None:
        """Read messages until the connection fails (raises); ping when idle, and count a
        ping left unanswered for ``_PING_INTERVAL_S`` as a failure."""
        loop = asyncio.get_running_loop()
        pinged_at: float | None = None
        while True:
            message = await pubsub.get_message(timeout=_PING_INTERVAL_S)
            if message is not None:
                pinged_at = None  # any reply proves the connection alive
                if message["type"] == "message":
                    self._wake_local((_text(message["data"]),))
                continue
            now = loop.time()
            if pinged_at is None:
                await pubsub.ping()
                pinged_at = now
            elif now - pinged_at >= _PING_INTERVAL_S:
                raise TimeoutError("Redis did not answer PING")

    def _wake_local(self, run_ids: Iterable[str]) -> None:
        """Wake this process's followers only (never publish: that would echo forever)."""
        for run_id in run_ids:
            if run_id in self._subscriptions:
                super().notify(run_id)

    def _failed(self, part: _Part, exc: BaseException) -> None:
        """Log the first failure of an outage only: a task retrying every few seconds must
        not fill the log. Only the exception's type: its message may quote the server."""
        first = not self._failing
        self._failing.add(part)
        if first:
            logger.warning(
                "Redis unavailable for run events (%s: %s): followers in other processes "
                "read on at their heartbeat until it is back; retrying",
                part,
                type(exc).__name__,
            )

    def _recovered(self, part: _Part) -> None:
        if part in self._failing:
            self._failing.discard(part)
            if not self._failing:
                logger.info("Redis available again for run events (%s)", self.channel)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again those still running.

    Once is not enough: on Python 3.11, ``asyncio.wait_for`` (redis-py sends each command
    through it when a socket timeout is set, as by default) swallows a cancellation that
    arrives as the command completes (CPython bpo-42130, fixed in 3.12), and the listener
    would go on listening.
    """
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_CANCEL_AGAIN_S)
    await asyncio.gather(*tasks, return_exceptions=True)


def _backoff() -> Iterator[float]:
    """Delays before reconnecting: doubling from ``_BACKOFF_FIRST_S`` up to ``_BACKOFF_MAX_S``,
    each jittered (down to half) so that processes cut off together do not return together."""
    delay = _BACKOFF_FIRST_S
    while True:
        yield delay * random.uniform(0.5, 1.0)
        delay = min(delay * 2, _BACKOFF_MAX_S)


def _text(data: bytes | str) -> str:
    """The run id of a message, whether the client decodes responses or not."""
    return data.decode() if isinstance(data, bytes) else data


async def _close_quietly(pubsub: PubSub) -> None:
    """Close a pub/sub connection that may already be broken; its errors say nothing new."""
    with contextlib.suppress(Exception):
        await pubsub.aclose()
