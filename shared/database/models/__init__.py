"""Plait's Tortoise models, one module per area; every one belongs to the app ``plait``.

Import models from here (``from shared.database.models import WorkflowRun``). Tortoise loads
the modules listed in ``shared.database.connection.MODEL_MODULES``; a new module must be added
there, and every change needs a migration (see ``shared.database.migrations``).

Key contracts:

- Public ids (``wf_…``, ``run_…``; ``shared.ids``) are the primary keys of the rows the API
  names; rows only reached through a parent (draft, steps, events, tags, audit entries) have
  integer keys.
- Every user-owned row has ``tenant_id``, and every query filters on it.
- Enum columns (``CharEnumField``) store the member's value. Adding a member changes the
  column's comment (the list of values), so it takes a migration like any model change.
"""

from shared.database.models._columns import json_value
from shared.database.models.agents import (
    AgentMessage,
    AgentSession,
    MessageRole,
    ProposalStatus,
    SpecProposal,
)
from shared.database.models.providers import ModelProvider, ProviderKind
from shared.database.models.runs import (
    RunEventRecord,
    RunSource,
    RunStatus,
    RunStep,
    RunTag,
    StepStatus,
    WorkflowRun,
)
from shared.database.models.secrets import Secret, SecretProvider
from shared.database.models.tenancy import ApiKey, AuditEvent, Role, Tenant, User
from shared.database.models.triggers import (
    TriggerEvent,
    TriggerEventStatus,
    TriggerKind,
    TriggerSubscription,
)
from shared.database.models.workflows import VersionStatus, Workflow, WorkflowDraft, WorkflowVersion

__all__ = [
    "AgentMessage",
    "AgentSession",
    "ApiKey",
    "AuditEvent",
    "MessageRole",
    "ModelProvider",
    "ProposalStatus",
    "ProviderKind",
    "Role",
    "RunEventRecord",
    "RunSource",
    "RunStatus",
    "RunStep",
    "RunTag",
    "Secret",
    "SecretProvider",
    "SpecProposal",
    "StepStatus",
    "Tenant",
    "TriggerEvent",
    "TriggerEventStatus",
    "TriggerKind",
    "TriggerSubscription",
    "User",
    "VersionStatus",
    "Workflow",
    "WorkflowDraft",
    "WorkflowRun",
    "WorkflowVersion",
    "json_value",
]
