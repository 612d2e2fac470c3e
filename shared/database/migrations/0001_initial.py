from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from shared.database.models.agents import MessageRole, ProposalStatus
from shared.database.models.runs import RunSource, RunStatus, StepStatus
from shared.database.models.secrets import SecretProvider
from shared.database.models.tenancy import Role
from shared.database.models.triggers import TriggerEventStatus, TriggerKind
from shared.database.models.workflows import VersionStatus
from shared.ids import (
    new_api_key_id,
    new_message_id,
    new_proposal_id,
    new_run_id,
    new_secret_id,
    new_session_id,
    new_tenant_id,
    new_trigger_event_id,
    new_trigger_id,
    new_user_id,
    new_version_id,
    new_workflow_id,
)


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="CheckpointBlob",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("thread_id", fields.CharField(max_length=255)),
                ("checkpoint_ns", fields.CharField(default="", max_length=1024)),
                ("channel", fields.CharField(max_length=255)),
                ("version", fields.CharField(max_length=128)),
                ("type", fields.CharField(max_length=64)),
                ("blob", fields.BinaryField(null=True)),
            ],
            options={
                "table": "workflow_run_checkpoint_blobs",
                "app": "plait",
                "unique_together": (("thread_id", "checkpoint_ns", "channel", "version"),),
                "pk_attr": "id",
                "table_description": "The value of one channel at one version, shared by every checkpoint that has it.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CheckpointRecord",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("thread_id", fields.CharField(max_length=255)),
                ("checkpoint_ns", fields.CharField(default="", max_length=1024)),
                ("checkpoint_id", fields.CharField(max_length=255)),
                ("parent_checkpoint_id", fields.CharField(null=True, max_length=255)),
                ("run_id", fields.CharField(null=True, max_length=255)),
                ("type", fields.CharField(max_length=64)),
                ("checkpoint", fields.BinaryField()),
                ("metadata", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "workflow_run_checkpoints",
                "app": "plait",
                "unique_together": (("thread_id", "checkpoint_ns", "checkpoint_id"),),
                "indexes": [Index(fields=["run_id"], name="workflow_run_checkpoints_run_id_idx")],
                "pk_attr": "id",
                "table_description": "One saved checkpoint of a thread, without its channel values.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CheckpointWrite",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("thread_id", fields.CharField(max_length=255)),
                ("checkpoint_ns", fields.CharField(default="", max_length=1024)),
                ("checkpoint_id", fields.CharField(max_length=255)),
                ("task_id", fields.CharField(max_length=255)),
                ("task_path", fields.TextField(default="", unique=False)),
                ("idx", fields.IntField()),
                ("channel", fields.CharField(max_length=255)),
                ("type", fields.CharField(max_length=64)),
                ("blob", fields.BinaryField()),
            ],
            options={
                "table": "workflow_run_checkpoint_writes",
                "app": "plait",
                "unique_together": (
                    ("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"),
                ),
                "pk_attr": "id",
                "table_description": "One pending write of a task against a checkpoint.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Tenant",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_tenant_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "tenants",
                "app": "plait",
                "pk_attr": "id",
                "table_description": "An isolated space of workflows, runs, secrets and people.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("actor", fields.CharField(max_length=64)),
                ("action", fields.CharField(max_length=64)),
                ("target_id", fields.CharField(null=True, max_length=64)),
                ("data", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "audit_events",
                "app": "plait",
                "indexes": [
                    Index(fields=["tenant_id", "created_at"], name="audit_events_tenant_time")
                ],
                "pk_attr": "id",
                "table_description": "One change made by a principal: who did what to which row, and when. Append-only.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Secret",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_secret_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=128)),
                (
                    "provider",
                    fields.CharEnumField(
                        default=SecretProvider.LOCAL,
                        description="LOCAL: local\nENV: env",
                        enum_type=SecretProvider,
                        max_length=16,
                    ),
                ),
                ("ciphertext", fields.BinaryField(null=True)),
                ("key_id", fields.CharField(null=True, max_length=64)),
                ("description", fields.TextField(default="", unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "secrets",
                "app": "plait",
                "unique_together": (("tenant", "name"),),
                "pk_attr": "id",
                "table_description": "A named secret of a tenant.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_user_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("email", fields.CharField(max_length=320)),
                ("display_name", fields.CharField(default="", max_length=200)),
                (
                    "role",
                    fields.CharEnumField(
                        default=Role.VIEWER,
                        description="VIEWER: viewer\nOPERATOR: operator\nADMIN: admin",
                        enum_type=Role,
                        max_length=16,
                    ),
                ),
                ("password_hash", fields.CharField(null=True, max_length=255)),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "last_login_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "users",
                "app": "plait",
                "unique_together": (("tenant", "email"),),
                "pk_attr": "id",
                "table_description": "A person who signs in to a tenant.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_api_key_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "plait.User",
                        source_field="user_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("prefix", fields.CharField(unique=True, max_length=32)),
                ("key_hash", fields.CharField(unique=True, max_length=64)),
                (
                    "role",
                    fields.CharEnumField(
                        description="VIEWER: viewer\nOPERATOR: operator\nADMIN: admin",
                        enum_type=Role,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("expires_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "api_keys",
                "app": "plait",
                "pk_attr": "id",
                "table_description": "A credential for programs: shown once, when created, and stored only as a hash.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Workflow",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_workflow_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("description", fields.TextField(default="", unique=False)),
                ("tags", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("published_version_number", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "workflows",
                "app": "plait",
                "pk_attr": "id",
                "table_description": "The stable handle of a workflow: its name, its draft, its versions and its runs.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AgentSession",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_session_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "plait.User",
                        source_field="user_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "workflow",
                    fields.ForeignKeyField(
                        "plait.Workflow",
                        source_field="workflow_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="agent_sessions",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("title", fields.CharField(default="", max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "agent_sessions",
                "app": "plait",
                "pk_attr": "id",
                "table_description": "A conversation with the agent, usually about one workflow.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AgentMessage",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_message_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "session",
                    fields.ForeignKeyField(
                        "plait.AgentSession",
                        source_field="session_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="messages",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("seq", fields.IntField()),
                (
                    "role",
                    fields.CharEnumField(
                        description="USER: user\nASSISTANT: assistant\nTOOL: tool\nSYSTEM: system",
                        enum_type=MessageRole,
                        max_length=16,
                    ),
                ),
                ("content", fields.TextField(default="", unique=False)),
                ("tool_calls", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ("tool_call_id", fields.CharField(null=True, max_length=128)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "agent_messages",
                "app": "plait",
                "unique_together": (("session", "seq"),),
                "pk_attr": "id",
                "table_description": "One message of a session. ``seq`` orders them and is unique per session.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SpecProposal",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_proposal_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "session",
                    fields.ForeignKeyField(
                        "plait.AgentSession",
                        source_field="session_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="proposals",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "message",
                    fields.ForeignKeyField(
                        "plait.AgentMessage",
                        source_field="message_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                (
                    "workflow",
                    fields.ForeignKeyField(
                        "plait.Workflow",
                        source_field="workflow_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("base_revision", fields.IntField(null=True)),
                ("spec", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("summary", fields.TextField(default="", unique=False)),
                ("check_issues", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ProposalStatus.PENDING,
                        description="PENDING: pending\nACCEPTED: accepted\nREJECTED: rejected\nSUPERSEDED: superseded",
                        enum_type=ProposalStatus,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("decided_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "spec_proposals",
                "app": "plait",
                "pk_attr": "id",
                "table_description": "A spec the agent proposes for a workflow's draft (or for a new workflow).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WorkflowDraft",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "workflow",
                    fields.OneToOneField(
                        "plait.Workflow",
                        source_field="workflow_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="draft",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("spec", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("revision", fields.IntField(default=1)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "workflow_drafts",
                "app": "plait",
                "pk_attr": "id",
                "table_description": "The editable spec of a workflow, one per workflow.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WorkflowVersion",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_version_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "workflow",
                    fields.ForeignKeyField(
                        "plait.Workflow",
                        source_field="workflow_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="versions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("version_number", fields.IntField()),
                ("spec", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("spec_hash", fields.CharField(max_length=64)),
                (
                    "status",
                    fields.CharEnumField(
                        default=VersionStatus.DRAFT,
                        description="DRAFT: draft\nPUBLISHED: published\nARCHIVED: archived",
                        enum_type=VersionStatus,
                        max_length=16,
                    ),
                ),
                ("created_from_draft_revision", fields.IntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "workflow_versions",
                "app": "plait",
                "unique_together": (("workflow", "version_number"), ("workflow", "spec_hash")),
                "pk_attr": "id",
                "table_description": "A frozen spec. Rows are never updated except for ``status``.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TriggerSubscription",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_trigger_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "workflow",
                    fields.ForeignKeyField(
                        "plait.Workflow",
                        source_field="workflow_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="triggers",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "version",
                    fields.ForeignKeyField(
                        "plait.WorkflowVersion",
                        source_field="version_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.NO_ACTION,
                    ),
                ),
                ("name", fields.CharField(default="", max_length=200)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="SCHEDULE: schedule\nINTERVAL: interval\nWEBHOOK: webhook\nHTTP_POLL: http_poll",
                        enum_type=TriggerKind,
                        max_length=16,
                    ),
                ),
                ("config", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                (
                    "input_bindings",
                    fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads),
                ),
                ("filter_condition", fields.TextField(null=True, unique=False)),
                ("enabled", fields.BooleanField(default=True)),
                (
                    "next_fire_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "last_fired_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("cursor", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ("last_error", fields.TextField(null=True, unique=False)),
                ("lease_owner", fields.CharField(null=True, max_length=255)),
                (
                    "lease_expires_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "trigger_subscriptions",
                "app": "plait",
                "indexes": [
                    Index(fields=["enabled", "next_fire_at"], name="trigger_subscriptions_due"),
                    Index(
                        fields=["tenant_id", "workflow_id"], name="trigger_subscriptions_workflow"
                    ),
                ],
                "pk_attr": "id",
                "table_description": "Starts runs of a workflow when its trigger fires.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WorkflowRun",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_run_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "workflow",
                    fields.ForeignKeyField(
                        "plait.Workflow",
                        source_field="workflow_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="runs",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "version",
                    fields.ForeignKeyField(
                        "plait.WorkflowVersion",
                        source_field="version_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="runs",
                        on_delete=OnDelete.NO_ACTION,
                    ),
                ),
                ("spec", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ("spec_hash", fields.CharField(max_length=64)),
                ("inputs", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("outputs", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                (
                    "status",
                    fields.CharEnumField(
                        default=RunStatus.QUEUED,
                        description="QUEUED: queued\nRUNNING: running\nWAITING_HUMAN: waiting_human\nCOMPLETED: completed\nFAILED: failed\nCANCELED: canceled",
                        enum_type=RunStatus,
                        max_length=16,
                    ),
                ),
                (
                    "source",
                    fields.CharEnumField(
                        description="MANUAL: manual\nTRIGGER: trigger\nAGENT: agent\nAPI: api\nREPLAY: replay",
                        enum_type=RunSource,
                        max_length=16,
                    ),
                ),
                (
                    "parent_run",
                    fields.ForeignKeyField(
                        "plait.WorkflowRun",
                        source_field="parent_run_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="child_runs",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("forked_from_checkpoint_id", fields.CharField(null=True, max_length=64)),
                ("tags", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("annotations", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("business_event_id", fields.CharField(null=True, max_length=255)),
                ("idempotency_key", fields.CharField(null=True, max_length=255)),
                ("error_code", fields.CharField(null=True, max_length=64)),
                ("error_message", fields.TextField(null=True, unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("ended_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                (
                    "cancel_requested_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("lease_owner", fields.CharField(null=True, max_length=255)),
                (
                    "lease_expires_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("fencing_token", fields.BigIntField(default=0)),
                ("attempt", fields.IntField(default=0)),
            ],
            options={
                "table": "workflow_runs",
                "app": "plait",
                "unique_together": (("tenant", "idempotency_key"),),
                "indexes": [
                    Index(fields=["tenant_id", "created_at"], name="workflow_runs_tenant_time"),
                    Index(
                        fields=["tenant_id", "status", "created_at"],
                        name="workflow_runs_tenant_status",
                    ),
                    Index(
                        fields=["tenant_id", "workflow_id", "created_at"],
                        name="workflow_runs_tenant_workflow",
                    ),
                    Index(
                        fields=["tenant_id", "business_event_id"],
                        name="workflow_runs_business_event",
                    ),
                    Index(fields=["status", "lease_expires_at"], name="workflow_runs_status_lease"),
                    Index(fields=["parent_run_id"], name="workflow_runs_parent"),
                ],
                "pk_attr": "id",
                "table_description": "One execution of a workflow version, or of an ad-hoc spec.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RunEventRecord",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "run",
                    fields.ForeignKeyField(
                        "plait.WorkflowRun",
                        source_field="run_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("seq", fields.IntField()),
                ("kind", fields.CharField(max_length=32)),
                ("node_id", fields.CharField(null=True, max_length=128)),
                ("attempt", fields.IntField(null=True)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("data", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={
                "table": "run_events",
                "app": "plait",
                "unique_together": (("run", "seq"),),
                "pk_attr": "id",
                "table_description": "One event of a run's append-only stream (``workflow_compiler.events.RunEvent``).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RunStep",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "run",
                    fields.ForeignKeyField(
                        "plait.WorkflowRun",
                        source_field="run_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="steps",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("scope", fields.CharField(default="", max_length=255)),
                ("node_id", fields.CharField(max_length=128)),
                ("attempt", fields.IntField()),
                (
                    "status",
                    fields.CharEnumField(
                        default=StepStatus.RUNNING,
                        description="RUNNING: running\nCOMPLETED: completed\nFAILED: failed\nWAITING_HUMAN: waiting_human\nCANCELED: canceled",
                        enum_type=StepStatus,
                        max_length=16,
                    ),
                ),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("ended_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("duration_ms", fields.FloatField(null=True)),
                ("input", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ("output", fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ("error_code", fields.CharField(null=True, max_length=64)),
                ("error_message", fields.TextField(null=True, unique=False)),
                ("prompt_tokens", fields.IntField(null=True)),
                ("completion_tokens", fields.IntField(null=True)),
                ("total_tokens", fields.IntField(null=True)),
            ],
            options={
                "table": "workflow_run_steps",
                "app": "plait",
                "unique_together": (("run", "scope", "node_id", "attempt"),),
                "pk_attr": "id",
                "table_description": "One attempt of one node of a run: what went in, what came out, how long it took.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RunTag",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "run",
                    fields.ForeignKeyField(
                        "plait.WorkflowRun",
                        source_field="run_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="tag_rows",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("tag", fields.CharField(max_length=100)),
            ],
            options={
                "table": "workflow_run_tags",
                "app": "plait",
                "unique_together": (("run", "tag"),),
                "indexes": [
                    Index(fields=["tenant_id", "tag", "run_id"], name="workflow_run_tags_lookup")
                ],
                "pk_attr": "id",
                "table_description": "One tag of one run: the index behind filtering the run list by tag.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TriggerEvent",
            fields=[
                (
                    "id",
                    fields.CharField(
                        primary_key=True,
                        default=new_trigger_event_id,
                        unique=True,
                        db_index=True,
                        max_length=32,
                    ),
                ),
                (
                    "tenant",
                    fields.ForeignKeyField(
                        "plait.Tenant",
                        source_field="tenant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "subscription",
                    fields.ForeignKeyField(
                        "plait.TriggerSubscription",
                        source_field="subscription_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("dedupe_key", fields.CharField(max_length=255)),
                ("payload", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                (
                    "status",
                    fields.CharEnumField(
                        default=TriggerEventStatus.RECEIVED,
                        description="RECEIVED: received\nSTARTED: started\nFILTERED: filtered\nFAILED: failed",
                        enum_type=TriggerEventStatus,
                        max_length=16,
                    ),
                ),
                (
                    "run",
                    fields.ForeignKeyField(
                        "plait.WorkflowRun",
                        source_field="run_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="trigger_events",
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("error", fields.TextField(null=True, unique=False)),
                ("received_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "trigger_events",
                "app": "plait",
                "unique_together": (("subscription", "dedupe_key"),),
                "indexes": [
                    Index(fields=["subscription_id", "received_at"], name="trigger_events_by_time")
                ],
                "pk_attr": "id",
                "table_description": "One event a subscription received: a webhook call, a poll item, a scheduled tick.",
            },
            bases=["Model"],
        ),
    ]
