"""The ``human`` node, run inside a graph (``interrupt()`` needs LangGraph's context)."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import CollectingSink
from workflow_compiler.lowering import RunOutcome, compile_workflow


async def ask(
    services: RuntimeServices, saver: InMemorySaver, node: dict[str, Any], *answers: Any
) -> RunOutcome:
    """Start a one-node spec, then answer each question in turn."""
    compiled = compile_workflow(parse_spec({"version": "1", "nodes": [node]}, tools=services.tools))
    outcome = await compiled.start({}, run_id="r", services=services, checkpointer=saver)
    for answer in answers:
        outcome = await compiled.resume(
            {outcome.pending[0].id: answer}, run_id="r", services=services, checkpointer=saver
        )
    return outcome


APPROVE = {
    "id": "approve",
    "type": "human",
    "prompt": "Approve?",
    "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
}


class TestHumanExecutor:
    async def test_asks_with_the_prompt_and_schema(self, services: RuntimeServices) -> None:
        outcome = await ask(services, InMemorySaver(), APPROVE)

        [question] = outcome.pending
        assert question.node_id == "approve"
        assert question.prompt == "Approve?"
        assert question.schema == APPROVE["schema"]

    async def test_a_valid_answer_is_the_output(self, services: RuntimeServices) -> None:
        outcome = await ask(services, InMemorySaver(), APPROVE, {"ok": True})

        assert outcome.output == {"ok": True}

    async def test_an_invalid_answer_asks_again_and_then_accepts_a_valid_one(
        self, services: RuntimeServices, events: CollectingSink
    ) -> None:
        saver = InMemorySaver()

        again = await ask(services, saver, APPROVE, {"ok": 1})

        [question] = again.pending
        assert question.error is not None
        assert question.error.startswith("invalid answer for 'approve'")
        assert events.kinds("approve").count("interrupted") == 2
        assert "node_failed" not in events.kinds("approve")

    async def test_the_default_schema_is_a_string(self, services: RuntimeServices) -> None:
        node = {"id": "name", "type": "human", "prompt": "Name?"}

        outcome = await ask(services, InMemorySaver(), node, 42, "Ada")

        assert outcome.output == "Ada"

    async def test_secret_values_are_masked_in_the_prompt(self, services: RuntimeServices) -> None:
        node = {"id": "check", "type": "human", "prompt": "Token {{ secrets.HOOK_TOKEN }} ok?"}
        saver = InMemorySaver()

        outcome = await ask(services, saver, node)

        assert outcome.pending[0].prompt == "Token *** ok?"
        stored = repr(list(saver.storage.values())) + repr(list(saver.writes.values()))
        assert "tok-123" not in stored

    async def test_the_prompt_is_the_steps_input(
        self, services: RuntimeServices, events: CollectingSink
    ) -> None:
        node = {"id": "check", "type": "human", "prompt": "Token {{ secrets.HOOK_TOKEN }} ok?"}

        await ask(services, InMemorySaver(), node, "yes")

        interrupted, completed = (
            e for e in events.events if e.kind in ("interrupted", "node_completed")
        )
        assert interrupted.data["input"] == {"prompt": "Token *** ok?"}
        assert completed.data["input"] == {"prompt": "Token *** ok?"}
