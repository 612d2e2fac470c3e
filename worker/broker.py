"""The task broker: where async runs wait for a worker.

With ``PLAIT_REDIS_URL`` it is a Redis stream read by a consumer group: each message goes to
one worker and is acknowledged only after its task finished, so a message whose worker died
is delivered again (after ``IDLE_REDELIVERY_MS``). Without Redis it is taskiq's in-process
broker, which executes the task in the process that kicked it. The task code is the same
(``worker.tasks``): a message is a run id, and whoever takes it up decides from the run's row
what to do.

Redis can go away and come back empty (it keeps nothing on disk here). Kicks then fail, and
the caller leaves the run ``queued`` for the sweeper; a worker's listener waits and recreates
the stream's consumer group instead of dying. The group reads from the stream's beginning
when it is (re)created, so messages sent before the workers first listened are not skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, AsyncBroker, InMemoryBroker
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from shared.config import Settings

__all__ = [
    "IDLE_REDELIVERY_MS",
    "STREAM",
    "TAKE_UP_TASK",
    "TaskiqRunQueue",
    "make_broker",
]

logger = logging.getLogger(__name__)

TAKE_UP_TASK = "plait.take_up_run"
"""The one task: take up the run whose id the message holds."""

STREAM = "runs"
"""The Redis stream of run messages, after ``PLAIT_REDIS_PREFIX`` and a colon."""

CONSUMER_GROUP = "workers"

IDLE_REDELIVERY_MS = 300_000
"""A message a worker took and never acknowledged (it died) goes to another worker after
this long. The reaper usually hands the run on much sooner (its lease expires); this is the
broker's own safety net."""

STREAM_MAX_LENGTH = 1_000_000
"""The stream is trimmed to about this many messages; a run whose message was trimmed before
a worker read it is found by the sweeper."""

_RETRY_S = (0.5, 1.0, 2.0, 5.0)
"""Waits between attempts to listen again while Redis is away."""


def make_broker(settings: Settings, *, read_batch: int = 1) -> AsyncBroker:
    """The broker ``settings`` ask for: Redis streams with ``redis_url``, else in-process.

    Args:
        read_batch: The most messages one read takes from the stream, or claims of a dead
            worker's (a worker's concurrency). Messages read wait in the worker until it has
            room, and are lost with it if it dies (until the sweeper finds their runs), and
            another worker cannot take them meanwhile: a worker must not read more than it
            can execute.
    """
    if settings.redis_url is None:
        return InMemoryBroker()
    return _ResilientStreamBroker(
        settings.redis_url.get_secret_value(),
        queue_name=f"{settings.redis_prefix}:{STREAM}",
        consumer_group_name=f"{settings.redis_prefix}:{CONSUMER_GROUP}",
        consumer_id="0",
        maxlen=STREAM_MAX_LENGTH,
        idle_timeout=IDLE_REDELIVERY_MS,
        unacknowledged_lock_timeout=10.0,
        xread_block=1000,
        xread_count=read_batch,
        unacknowledged_batch_size=read_batch,
        socket_connect_timeout=5,
        socket_timeout=10,
    )


class TaskiqRunQueue:
    """``RunQueue`` on a taskiq broker: puts the run id in a ``TAKE_UP_TASK`` message."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker
        self._kicker: AsyncKicker[[str], None] = AsyncKicker(
            task_name=TAKE_UP_TASK, broker=broker, labels={}
        )

    async def put(self, run_id: str) -> None:
        """Send the message; raises what the broker raises when Redis cannot be reached."""
        await self._kicker.kiq(run_id)

    async def undelivered(self) -> int:
        """The consumer group's lag on the Redis stream (0 without Redis: the in-process
        broker executes each message when it is sent, and when Redis cannot tell)."""
        broker = self._broker
        if not isinstance(broker, RedisStreamBroker):
            return 0
        async with Redis(connection_pool=broker.connection_pool) as redis:
            try:
                groups = await redis.xinfo_groups(broker.queue_name)
            except ResponseError:  # no stream yet: nothing was ever sent
                return 0
        group = broker.consumer_group_name.encode()
        lags = [g.get("lag") for g in groups if g["name"] in (group, group.decode())]
        return int(lags[0] or 0) if lags else 0


class _ResilientStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, listening again after Redis went away instead of
    ending the worker."""

    async def startup(self) -> None:
        """Start even while Redis is away: a process that only sends messages needs no
        group, and a worker's ``listen`` declares it once Redis answers."""
        try:
            await super().startup()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning(
                "Redis cannot be reached (%s): runs stay queued until it is back",
                type(exc).__name__,
            )

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        failures = 0
        while True:
            try:
                async for message in super().listen():
                    failures = 0
                    yield message
            except (RedisConnectionError, RedisTimeoutError, ResponseError) as exc:
                if failures == 0:
                    logger.warning(
                        "cannot read the run stream (%s); retrying until Redis is back",
                        type(exc).__name__,
                    )
                await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
                failures += 1
                await self._declare_group_quietly()

    async def _declare_group_quietly(self) -> None:
        """Recreate the stream and its consumer group (Redis came back empty); a failure
        means it is still away, and the next round tries again."""
        try:
            await self._declare_consumer_group()
        except (RedisConnectionError, RedisTimeoutError):
            return
