"""Agent sessions, messages and proposals: ids, message order, proposal defaults."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from shared.database.models import (
    AgentMessage,
    AgentSession,
    MessageRole,
    ProposalStatus,
    SpecProposal,
    Tenant,
    Workflow,
)
from tests.shared.database.models.conftest import SPEC


@pytest.fixture
async def session(workflow: Workflow) -> AgentSession:
    return await AgentSession.create(tenant_id=workflow.tenant_id, workflow=workflow)


class TestAgentMessage:
    async def test_messages_are_numbered_once_per_session(
        self, tenant: Tenant, session: AgentSession
    ) -> None:
        other = await AgentSession.create(tenant=tenant)
        first = await AgentMessage.create(
            tenant=tenant, session=session, seq=1, role=MessageRole.USER, content="hi"
        )
        await AgentMessage.create(tenant=tenant, session=other, seq=1, role=MessageRole.USER)

        with pytest.raises(IntegrityError):
            await AgentMessage.create(
                tenant=tenant, session=session, seq=1, role=MessageRole.ASSISTANT
            )
        assert (session.id[:4], first.id[:4]) == ("ses_", "msg_")


class TestSpecProposal:
    async def test_a_proposal_waits_for_a_decision(
        self, tenant: Tenant, session: AgentSession, workflow: Workflow
    ) -> None:
        message = await AgentMessage.create(
            tenant=tenant,
            session=session,
            seq=1,
            role=MessageRole.ASSISTANT,
            tool_calls=[{"id": "c1", "function": {"name": "propose_spec"}}],
        )
        proposal = await SpecProposal.create(
            tenant=tenant,
            session=session,
            message=message,
            workflow=workflow,
            base_revision=3,
            spec=SPEC,
            summary="Adds a set node.",
        )

        stored = await SpecProposal.get(id=proposal.id)
        assert stored.id.startswith("prp_")
        assert (stored.status, stored.decided_at) == (ProposalStatus.PENDING, None)
        assert (stored.spec, stored.base_revision, stored.check_issues) == (SPEC, 3, [])
