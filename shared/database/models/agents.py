"""The chat agent's memory: sessions, their messages, and the specs it proposes.

The agent never writes a workflow directly: it stores a ``SpecProposal`` that a person accepts
(which writes the draft, checking the revision the proposal was based on) or rejects.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from shared.database.models._columns import public_id, tenant_key
from shared.ids import new_message_id, new_proposal_id, new_session_id

if TYPE_CHECKING:
    from shared.database.models.tenancy import User
    from shared.database.models.workflows import Workflow

__all__ = ["AgentMessage", "AgentSession", "MessageRole", "ProposalStatus", "SpecProposal"]


class MessageRole(StrEnum):
    """Who wrote a message, in the chat-completions sense."""

    USER = "user"
    """The person chatting."""
    ASSISTANT = "assistant"
    """The agent's model."""
    TOOL = "tool"
    """The result of a tool the agent called (validate, test-run, …)."""
    SYSTEM = "system"
    """Instructions the agent was given."""


class ProposalStatus(StrEnum):
    """What a person decided about a proposal."""

    PENDING = "pending"
    """Not decided yet."""
    ACCEPTED = "accepted"
    """Written to the workflow's draft."""
    REJECTED = "rejected"
    """Declined by a person."""
    SUPERSEDED = "superseded"
    """A later proposal of the same session replaced it, or the draft moved on."""


class AgentSession(Model):
    """A conversation with the agent, usually about one workflow."""

    id = public_id(new_session_id)
    tenant = tenant_key()
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "plait.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    """Who started it; null for sessions started with an API key."""
    workflow: fields.ForeignKeyNullableRelation[Workflow] = fields.ForeignKeyField(
        "plait.Workflow", related_name="agent_sessions", null=True, on_delete=fields.SET_NULL
    )
    """The workflow being worked on; null while the agent drafts a new one."""
    title = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "agent_sessions"


class AgentMessage(Model):
    """One message of a session. ``seq`` orders them and is unique per session."""

    id = public_id(new_message_id)
    tenant = tenant_key()
    session: fields.ForeignKeyRelation[AgentSession] = fields.ForeignKeyField(
        "plait.AgentSession", related_name="messages", on_delete=fields.CASCADE
    )
    seq = fields.IntField()
    """1, 2, 3, … within the session: the order the model sees them in."""
    role = fields.CharEnumField(MessageRole, max_length=16)
    content = fields.TextField(default="")
    tool_calls = fields.JSONField(null=True)
    """The tool calls an assistant message makes, as the model returned them."""
    tool_call_id = fields.CharField(max_length=128, null=True)
    """For a ``tool`` message: the call it answers."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "agent_messages"
        unique_together = (("session", "seq"),)


class SpecProposal(Model):
    """A spec the agent proposes for a workflow's draft (or for a new workflow)."""

    id = public_id(new_proposal_id)
    tenant = tenant_key()
    session: fields.ForeignKeyRelation[AgentSession] = fields.ForeignKeyField(
        "plait.AgentSession", related_name="proposals", on_delete=fields.CASCADE
    )
    message: fields.ForeignKeyNullableRelation[AgentMessage] = fields.ForeignKeyField(
        "plait.AgentMessage", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    """The assistant message that made the proposal."""
    workflow: fields.ForeignKeyNullableRelation[Workflow] = fields.ForeignKeyField(
        "plait.Workflow", related_name=False, null=True, on_delete=fields.CASCADE
    )
    """The workflow whose draft it would replace; null proposes a new workflow."""
    base_revision = fields.IntField(null=True)
    """The draft revision the agent started from; accepting fails (409) if the draft moved."""
    spec = fields.JSONField()
    summary = fields.TextField(default="")
    """What changes and why, in the agent's words."""
    check_issues = fields.JSONField(default=list)
    """The static checks' errors and warnings for ``spec`` when it was proposed."""
    status = fields.CharEnumField(ProposalStatus, max_length=16, default=ProposalStatus.PENDING)
    created_at = fields.DatetimeField(auto_now_add=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "spec_proposals"
