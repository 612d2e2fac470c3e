"""The ``RunExecutor`` of a Plait process (the API, a worker, ``plait serve``).

Every process that executes runs builds it the same way: each run reads its tenant's
encrypted secrets and uses its tenant's model providers, what its nodes output is masked
with every secret value the tenant has in use, its events are recorded (redacted), and the
hub is told, so that followers in any process read on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import replace

import httpx

from api.services.providers import tenant_model_providers
from api.services.run_events import RecordingSink, RunEventHub
from api.services.run_executor import LeaseKeeping, RunExecutor, RunQueue
from api.services.secrets import TenantSecrets
from shared.crypto import SecretBox
from shared.database.checkpointer import TortoiseSaver
from shared.redaction import Redactor
from workflow_compiler.context import RuntimeServices
from workflow_compiler.registries.models import ModelProviders
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.secrets import MappingSecrets

__all__ = ["process_executor"]


def process_executor(
    *,
    tools: ToolRegistry,
    models: ModelProviders,
    http: httpx.AsyncClient,
    box: SecretBox,
    redactor: Redactor,
    hub: RunEventHub,
    env_secrets: Callable[[], Collection[str]],
    lease: LeaseKeeping | None = None,
    queue: RunQueue | None = None,
) -> RunExecutor:
    """The executor of the runs this process executes.

    Args:
        tools: The tools specs may call.
        models: The providers of tenants without their own (the server's environment).
        http: The process's client: node requests and provider calls go through it.
        box: Decrypts the tenants' secrets.
        redactor: The process's redactor; each run uses its tenant's view.
        hub: Told about every event and status change.
        env_secrets: The names ``env`` secrets may have (``PLAIT_ENV_SECRETS``), read for
            each run.
        lease: How executions hold their runs (see ``RunExecutor``).
        queue: Where async runs go; None: they execute here.
    """
    services = RuntimeServices(tools=tools, models=models, secrets=MappingSecrets({}), http=http)

    async def tenant_services(
        tenant_id: str, services: RuntimeServices, reads: frozenset[str]
    ) -> RuntimeServices:
        tenant = redactor.for_tenant(tenant_id)
        names = env_secrets()
        secrets = TenantSecrets(
            tenant_id, box=box, redactor=tenant, env_secrets=names, clock=services.clock
        )
        await secrets.remember(reads)
        return replace(
            services,
            secrets=secrets,
            models=await tenant_model_providers(
                tenant_id,
                box=box,
                redactor=tenant,
                environ=os.environ,
                http=http,
                env_secrets=names,
            ),
            secrets_in_use=tenant.values,
        )

    return RunExecutor(
        services,
        checkpointer=TortoiseSaver(),
        events_for=lambda run: RecordingSink(
            run, hub=hub, redactor=redactor.for_tenant(run.tenant_id)
        ),
        on_change=hub.notify,
        tenant_services=tenant_services,
        redactor=redactor,
        lease=lease,
        queue=queue,
    )
