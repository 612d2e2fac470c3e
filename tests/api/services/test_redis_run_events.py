"""``RedisRunEventHub`` against the Redis on 127.0.0.1:6379: each test has its own channel
prefix, and two hubs on one Redis stand for two processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from api.services.redis_run_events import RedisRunEventHub

REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_URL = "redis://:s3cret-pw@127.0.0.1:1/0"
WAIT_S = 5.0
"""Bound of every wait expected to succeed."""
QUIET_S = 0.3
"""How long a wait expected to time out is given."""
LOGGER = "api.services.redis_run_events"

HubFactory = Callable[..., Awaitable[RedisRunEventHub]]


@pytest.fixture
def prefix() -> str:
    return f"plait-test-{uuid4().hex}"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the test's own, to look at (and break) the hubs' connections."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def make_hub(prefix: str) -> AsyncIterator[HubFactory]:
    """Starts hubs on the test's channel; closes them at the end of the test."""
    hubs: list[RedisRunEventHub] = []

    async def make(url: str = REDIS_URL, *, listen: bool = True) -> RedisRunEventHub:
        hub = RedisRunEventHub(url, channel_prefix=prefix, listen=listen)
        hubs.append(hub)
        await hub.start()
        return hub

    yield make
    for hub in hubs:
        await hub.aclose()


@pytest.fixture
async def listener(redis: Redis, prefix: str) -> AsyncIterator[PubSub]:
    """A raw subscriber to the hubs' channel, to see exactly what is published."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(f"{prefix}:run-events")
    yield pubsub
    await pubsub.aclose()


def named(url: str, name: str) -> str:
    """``url`` whose connections carry ``name`` (``CLIENT SETNAME``), to find them again."""
    return f"{url}?client_name={name}"


async def kill_connections(redis: Redis, name: str, kind: str) -> int:
    """Closes, server side, the connections named ``name`` of ``kind`` (pubsub, normal)."""
    clients = [c for c in await redis.client_list(_type=kind) if c["name"] == name]
    for client in clients:
        await redis.client_kill_filter(_id=client["id"])
    return len(clients)


async def published(pubsub: PubSub, count: int) -> list[str]:
    """The next ``count`` run ids published on the channel, waiting at most ``WAIT_S``."""
    run_ids: list[str] = []
    async with asyncio.timeout(WAIT_S):
        while len(run_ids) < count:
            message = await pubsub.get_message(timeout=WAIT_S)
            if message is not None and message["type"] == "message":
                run_ids.append(message["data"].decode())
    return run_ids


class TestAcrossHubs:
    async def test_notify_on_one_hub_wakes_a_follower_on_the_other(
        self, make_hub: HubFactory
    ) -> None:
        worker, api = await make_hub(), await make_hub()
        with api.subscribe("run-1") as followed, api.subscribe("run-2") as other:
            worker.notify("run-1")
            assert await followed.wait(WAIT_S)
            assert not await other.wait(QUIET_S)

    async def test_each_notification_crosses_again(self, make_hub: HubFactory) -> None:
        worker, api = await make_hub(), await make_hub()
        with api.subscribe("run-1") as followed:
            for _ in range(3):
                worker.notify("run-1")
                assert await followed.wait(WAIT_S)

    async def test_own_messages_wake_local_followers_and_are_not_published_again(
        self, make_hub: HubFactory, listener: PubSub
    ) -> None:
        hub = await make_hub()
        with hub.subscribe("run-1") as followed:
            hub.notify("run-1")
            assert await followed.wait(0)  # at once, locally
            hub.notify("end")
            assert await published(listener, 2) == ["run-1", "end"]
            assert await followed.wait(WAIT_S)  # its own message, back from Redis
            assert not await followed.wait(QUIET_S)

    async def test_a_publishing_hub_reaches_others_and_reads_nothing(
        self, make_hub: HubFactory, redis: Redis, prefix: str
    ) -> None:
        worker = await make_hub(listen=False)
        api = await make_hub()
        with api.subscribe("run-1") as followed, worker.subscribe("run-2") as local:
            worker.notify("run-1")
            assert await followed.wait(WAIT_S)
            api.notify("run-2")
            assert not await local.wait(QUIET_S)
        subscribers = await redis.pubsub_numsub(f"{prefix}:run-events")
        assert subscribers == [(f"{prefix}:run-events".encode(), 1)]  # the API's only


class TestLocal:
    async def test_local_followers_are_woken_at_once(self, make_hub: HubFactory) -> None:
        hub = await make_hub()
        with hub.subscribe("run-1") as followed:
            hub.notify("run-1")
            assert await followed.wait(0)

    async def test_a_hub_not_started_is_local_only(self, prefix: str) -> None:
        hub = RedisRunEventHub(REDIS_URL, channel_prefix=prefix)
        with hub.subscribe("run-1") as followed:
            hub.notify("run-1")
            assert await followed.wait(0)
        await hub.aclose()

    async def test_starting_twice_is_refused(self, make_hub: HubFactory) -> None:
        hub = await make_hub()
        with pytest.raises(RuntimeError, match="already started"):
            await hub.start()


class TestCoalescing:
    async def test_a_burst_is_published_once_per_run_id_in_order(
        self, make_hub: HubFactory, listener: PubSub
    ) -> None:
        hub = await make_hub()
        for _ in range(10):
            hub.notify("run-1")
            hub.notify("run-2")
        assert sorted(await published(listener, 2)) == ["run-1", "run-2"]
        hub.notify("end")  # published after the burst's drain: nothing else came before it
        assert await published(listener, 1) == ["end"]

    async def test_coalescing_loses_no_run_id(self, make_hub: HubFactory) -> None:
        worker, api = await make_hub(), await make_hub()
        run_ids = [f"run-{i}" for i in range(50)]
        with ExitStack() as stack:
            followers = [stack.enter_context(api.subscribe(run_id)) for run_id in run_ids]
            for round_ in range(3):
                for run_id in run_ids[round_::2]:
                    worker.notify(run_id)
                await asyncio.sleep(0)  # a drain starts while more are queued
            for run_id in run_ids:
                worker.notify(run_id)
            woken = await asyncio.gather(*(f.wait(WAIT_S) for f in followers))
        assert all(woken)


class TestOutage:
    async def test_unreachable_redis_keeps_local_notifications(
        self, make_hub: HubFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger=LOGGER)
        async with asyncio.timeout(WAIT_S):
            hub = await make_hub(UNREACHABLE_URL)
        with hub.subscribe("run-1") as followed:
            for _ in range(5):
                hub.notify("run-1")
                assert await followed.wait(0)
                await asyncio.sleep(0.05)  # let the publisher fail, and the listener retry
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "s3cret-pw" not in caplog.text
        async with asyncio.timeout(1):
            await hub.aclose()

    async def test_listener_resubscribes_after_its_connection_breaks(
        self, make_hub: HubFactory, redis: Redis, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger=LOGGER)
        name = f"plait-test-{uuid4().hex}"
        worker, api = await make_hub(), await make_hub(named(REDIS_URL, name))
        with api.subscribe("run-1") as followed:
            assert await kill_connections(redis, name, "pubsub") == 1
            # Resubscribed: the follower is woken, since messages may have been missed.
            assert await followed.wait(WAIT_S)
            worker.notify("run-1")
            assert await followed.wait(WAIT_S)
        assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]

    async def test_publisher_reconnects_after_its_connection_breaks(
        self, make_hub: HubFactory, redis: Redis, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger=LOGGER)
        name = f"plait-test-{uuid4().hex}"
        worker, api = await make_hub(named(REDIS_URL, name)), await make_hub()
        with api.subscribe("run-1") as followed:
            worker.notify("run-1")
            assert await followed.wait(WAIT_S)
            assert await kill_connections(redis, name, "normal") >= 1
            worker.notify("run-1")  # through a new connection: nothing lost, nothing logged
            assert await followed.wait(WAIT_S)
        assert not caplog.records


class TestClientOwnership:
    async def test_a_client_passed_in_is_left_open(self, prefix: str, redis: Redis) -> None:
        async with RedisRunEventHub(redis, channel_prefix=prefix) as hub:
            with hub.subscribe("run-1") as followed:
                hub.notify("run-1")
                assert await followed.wait(WAIT_S)
        assert await redis.ping()
