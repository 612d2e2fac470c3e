"""What a process that executes runs holds while it lives: the broker, the hub, the executor.

The API (sync runs, and async ones too without Redis), ``plait worker`` and ``plait serve``
all open the same ``ProcessRuntime``: one HTTP client, the secret box checked against the
stored secrets, the hub (Redis pub/sub with ``PLAIT_REDIS_URL``, so that events reach
followers in every API process), the broker and its queue, and the ``RunExecutor`` holding
leases. With the in-process broker the process executes its own queue (it registers the
task); with Redis only ``plait worker`` does. The database must be open first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from taskiq import AsyncBroker, InMemoryBroker

from api.services.process_executor import process_executor
from api.services.redis_run_events import RedisRunEventHub
from api.services.run_events import RunEventHub
from api.services.run_executor import LeaseKeeping, RunExecutor
from api.services.run_leases import process_owner
from api.services.run_records import LeaseTerms
from shared.config import Settings
from shared.crypto import SecretBox, open_secret_box
from shared.redaction import Redactor
from worker.broker import TaskiqRunQueue, make_broker
from worker.tasks import register_tasks
from workflow_compiler.registries.models import ModelProviders
from workflow_compiler.registries.tools import ToolRegistry

__all__ = ["ProcessRuntime", "hub_for", "open_runtime"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessRuntime:
    """The parts of a process that executes runs (see the module docstring)."""

    http: httpx.AsyncClient
    secret_box: SecretBox
    broker: AsyncBroker
    queue: TaskiqRunQueue
    executor: RunExecutor


def hub_for(settings: Settings, *, followers: bool = True) -> RunEventHub:
    """The hub ``settings`` ask for: Redis pub/sub with ``redis_url``, else in-process.
    ``open_runtime`` starts and closes it.

    Args:
        followers: Whether the process serves followers (SSE: the API); a worker only
            publishes its runs' notifications.
    """
    if settings.redis_url is None:
        return RunEventHub()
    return RedisRunEventHub(
        settings.redis_url.get_secret_value(),
        channel_prefix=settings.redis_prefix,
        listen=followers,
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    tools: ToolRegistry,
    models: ModelProviders,
    redactor: Redactor,
    hub: RunEventHub,
    env_secrets: Callable[[], Collection[str]],
    worker: bool,
    read_batch: int = 1,
) -> AsyncIterator[ProcessRuntime]:
    """Open the process's parts; on exit, stop its runs (their leases given up), the broker
    and the hub.

    Args:
        worker: Whether this process executes the queue's runs (``plait worker``); a process
            with the in-process broker always does.
        read_batch: The most messages a read of the Redis stream takes (``make_broker``).

    Raises:
        SecretKeysError: the encryption keys are wrong or missing.
    """
    broker = make_broker(settings, read_batch=read_batch)
    async with httpx.AsyncClient() as http:
        box = await open_secret_box(settings)
        queue = TaskiqRunQueue(broker)
        lease = LeaseTerms(owner=process_owner(), ttl_s=settings.lease_ttl_s)
        executor = process_executor(
            tools=tools,
            models=models,
            http=http,
            box=box,
            redactor=redactor,
            hub=hub,
            env_secrets=env_secrets,
            lease=LeaseKeeping(terms=lease, check_s=settings.lease_check_s),
            queue=queue,
        )
        if worker or isinstance(broker, InMemoryBroker):
            register_tasks(broker, executor)
        if isinstance(hub, RedisRunEventHub):
            await hub.start()
        try:
            await broker.startup()
            try:
                yield ProcessRuntime(
                    http=http, secret_box=box, broker=broker, queue=queue, executor=executor
                )
            finally:
                await executor.aclose()
                await broker.shutdown()
        finally:
            if isinstance(hub, RedisRunEventHub):
                await hub.aclose()
