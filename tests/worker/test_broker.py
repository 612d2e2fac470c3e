"""The Redis stream broker as the run queue: messages sent, and what no worker read yet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from taskiq import AsyncBroker

from shared.config import Settings
from worker.broker import CONSUMER_GROUP, STREAM, TaskiqRunQueue, make_broker

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> str:
    return f"plait-test-{uuid4().hex}"


@pytest.fixture
async def broker(prefix: str) -> AsyncIterator[AsyncBroker]:
    """A stream broker under the test's own prefix; its keys are deleted after."""
    broker = make_broker(Settings(redis_url=REDIS_URL, redis_prefix=prefix), read_batch=4)
    await broker.startup()
    yield broker
    await broker.shutdown()
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(f"{prefix}:{STREAM}")
    await redis.aclose()


class TestUndelivered:
    async def test_counts_the_messages_no_worker_read_yet(
        self, broker: AsyncBroker, prefix: str
    ) -> None:
        queue = TaskiqRunQueue(broker)
        assert await queue.undelivered() == 0
        for run_id in ("run_1", "run_2", "run_3"):
            await queue.put(run_id)

        assert await queue.undelivered() == 3
        redis = Redis.from_url(REDIS_URL)
        await redis.xreadgroup(
            f"{prefix}:{CONSUMER_GROUP}", "reader", {f"{prefix}:{STREAM}": ">"}, count=2
        )
        await redis.aclose()
        assert await queue.undelivered() == 1

    async def test_the_in_process_broker_has_nothing_waiting(self) -> None:
        queue = TaskiqRunQueue(make_broker(Settings(redis_url=None)))
        assert await queue.undelivered() == 0
