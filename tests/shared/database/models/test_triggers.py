"""Trigger subscriptions and events: ids, deduplication, and the link to the run."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from shared.database.models import (
    TriggerEvent,
    TriggerEventStatus,
    TriggerKind,
    TriggerSubscription,
    Workflow,
    WorkflowRun,
)


@pytest.fixture
async def subscription(workflow: Workflow) -> TriggerSubscription:
    return await TriggerSubscription.create(
        tenant_id=workflow.tenant_id,
        workflow=workflow,
        kind=TriggerKind.WEBHOOK,
        input_bindings={"text": "{{ event.body.text }}"},
    )


class TestTriggerSubscription:
    async def test_a_subscription_has_a_trg_id_and_is_enabled(
        self, subscription: TriggerSubscription
    ) -> None:
        stored = await TriggerSubscription.get(id=subscription.id)

        assert stored.id.startswith("trg_")
        assert (stored.kind, stored.enabled, stored.cursor) == (TriggerKind.WEBHOOK, True, None)
        assert stored.input_bindings == {"text": "{{ event.body.text }}"}


class TestTriggerEvent:
    async def test_a_delivery_is_recorded_once_per_subscription(
        self, subscription: TriggerSubscription
    ) -> None:
        first = await TriggerEvent.create(
            tenant_id=subscription.tenant_id, subscription=subscription, dedupe_key="delivery-1"
        )

        with pytest.raises(IntegrityError):
            await TriggerEvent.create(
                tenant_id=subscription.tenant_id,
                subscription=subscription,
                dedupe_key="delivery-1",
            )
        assert first.id.startswith("evt_")
        assert (await TriggerEvent.get(id=first.id)).status is TriggerEventStatus.RECEIVED

    async def test_other_subscriptions_dedupe_on_their_own(
        self, subscription: TriggerSubscription, workflow: Workflow
    ) -> None:
        other = await TriggerSubscription.create(
            tenant_id=workflow.tenant_id, workflow=workflow, kind=TriggerKind.INTERVAL
        )
        for owner in (subscription, other):
            await TriggerEvent.create(
                tenant_id=owner.tenant_id, subscription=owner, dedupe_key="delivery-1"
            )

        assert await TriggerEvent.filter(dedupe_key="delivery-1").count() == 2

    async def test_an_event_outlives_the_run_it_started(
        self, subscription: TriggerSubscription, run: WorkflowRun
    ) -> None:
        event = await TriggerEvent.create(
            tenant_id=subscription.tenant_id,
            subscription=subscription,
            dedupe_key="delivery-1",
            status=TriggerEventStatus.STARTED,
            run=run,
        )

        await run.delete()

        assert (await TriggerEvent.get(id=event.id)).run_id is None
