"""for_each: item order, the concurrency bound, empty lists, nesting, loops, human input."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from tests.workflow_compiler.lowering.conftest import (
    Compile,
    ProbeTool,
    Run,
    set_node,
    spec,
)
from workflow_compiler.context import RuntimeServices
from workflow_compiler.errors import ErrorKind
from workflow_compiler.events import CollectingSink

LIST_INPUT = {"type": "object", "properties": {"xs": {"type": "array"}}, "required": ["xs"]}


def for_each(body: list[Any], items: Any = "{{ inputs.xs }}", **fields: Any) -> dict[str, Any]:
    return {"id": "each", "type": "for_each", "items": items, "body": body, **fields}


def probe_item(node_id: str = "work", value: Any = "{{ item }}") -> dict[str, Any]:
    """A probe call keyed by the item."""
    return {
        "id": node_id,
        "type": "tool",
        "tool": "probe",
        "args": {"key": "{{ item }}", "value": value},
    }


class TestOrderAndConcurrency:
    async def test_results_keep_item_order_and_at_most_concurrency_items_run(
        self,
        compile_spec: Compile,
        services: RuntimeServices,
        saver: InMemorySaver,
        probe: ProbeTool,
    ) -> None:
        keys = ["a", "b", "c", "d", "e"]
        probe.gates = {key: asyncio.Event() for key in keys}
        compiled = compile_spec(
            spec(
                for_each([probe_item(value="{{ item | upper }}")], concurrency=2), inputs=LIST_INPUT
            )
        )
        run = asyncio.create_task(
            compiled.start({"xs": keys}, run_id="r", services=services, checkpointer=saver)
        )

        in_flight = [await probe.started.get(), await probe.started.get()]
        waiting = len(keys) - 2
        while in_flight:
            probe.gates[in_flight.pop()].set()  # latest first: items finish out of order
            if waiting:
                in_flight.append(await probe.started.get())
                waiting -= 1
        outcome = await run

        assert outcome.output == ["A", "B", "C", "D", "E"]
        assert probe.max_active == 2
        assert sorted(probe.finished) == keys
        assert probe.finished != keys

    async def test_an_empty_list_gives_an_empty_result(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        raw = spec(
            for_each([probe_item()]),
            set_node("after", "{{ nodes.each.output }}"),
            inputs=LIST_INPUT,
        )

        outcome = await run_spec(raw, {"xs": []})

        assert outcome.output == []
        assert probe.calls == []

    async def test_result_is_rendered_in_the_body_scope(self, run_spec: Run) -> None:
        raw = spec(
            set_node("prefix", "n"),
            for_each(
                [set_node("square", "{{ item * item }}")],
                result="{{ nodes.prefix.output }}{{ index }}={{ nodes.square.output }}",
            ),
            inputs=LIST_INPUT,
        )

        outcome = await run_spec(raw, {"xs": [2, 3]})

        assert outcome.output == ["n0=4", "n1=9"]


class TestNesting:
    async def test_nested_bodies_see_outer_variables_and_nodes(self, run_spec: Run) -> None:
        inner = {
            "id": "cells",
            "type": "for_each",
            "items": "{{ row }}",
            "as": "cell",
            "body": [set_node("scaled", "{{ cell * nodes.factor.output + r }}")],
        }
        raw = spec(
            set_node("factor", 10),
            {
                "id": "rows",
                "type": "for_each",
                "items": "{{ inputs.xs }}",
                "as": "row",
                "index_as": "r",
                "body": [inner],
            },
            inputs=LIST_INPUT,
        )

        outcome = await run_spec(raw, {"xs": [[1, 2], [3]]})

        assert outcome.output == [[10, 20], [31]]

    async def test_a_for_each_in_a_loop_starts_fresh_on_each_pass(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        seen = {
            "id": "seen",
            "type": "tool",
            "tool": "probe",
            "args": {"key": "{{ nodes.each.output | join(',') }}"},
        }
        raw = spec(
            {
                "id": "again",
                "type": "loop",
                "condition": "true",
                "max_iterations": 2,
                "body": [
                    for_each([set_node("times", "{{ item * nodes.again.output.iterations }}")]),
                    seen,
                ],
            },
            inputs=LIST_INPUT,
        )

        outcome = await run_spec(raw, {"xs": [1, 2]})

        assert outcome.status == "completed"
        assert probe.calls == ["1,2", "2,4"]


class TestHumanInBody:
    async def test_each_item_asks_and_resumes_by_interrupt_id(
        self, compile_spec: Compile, services: RuntimeServices, saver: InMemorySaver
    ) -> None:
        ask = {
            "id": "ok",
            "type": "human",
            "prompt": "approve {{ item }}?",
            "schema": {"type": "boolean"},
        }
        compiled = compile_spec(spec(for_each([ask]), inputs=LIST_INPUT))

        waiting = await compiled.start(
            {"xs": [1, 2]}, run_id="r", services=services, checkpointer=saver
        )

        assert waiting.status == "waiting_human"
        by_prompt = {p.prompt: p for p in waiting.pending}
        assert sorted(by_prompt) == ["approve 1?", "approve 2?"]
        assert {p.node_id for p in waiting.pending} == {"ok"}

        partly = await compiled.resume(
            {by_prompt["approve 2?"].id: False}, run_id="r", services=services, checkpointer=saver
        )
        assert [p.prompt for p in partly.pending] == ["approve 1?"]

        done = await compiled.resume(
            {partly.pending[0].id: True}, run_id="r", services=services, checkpointer=saver
        )
        assert done.status == "completed"
        assert done.output == [True, False]


class TestFailures:
    async def test_items_that_are_not_a_list_fail_the_run(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        raw = spec(
            for_each([set_node("x", 1)], items="{{ inputs.value }}"), inputs={"type": "object"}
        )

        outcome = await run_spec(raw, {"value": "nope"})

        assert outcome.status == "failed"
        assert outcome.error is not None
        assert outcome.error.kind == ErrorKind.VALIDATION_ERROR
        assert "must be a list" in outcome.error.message

    async def test_under_continue_bad_items_skip_the_body(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        raw = spec(
            for_each([probe_item()], items="{{ inputs.value }}", on_error="continue"),
            set_node("after", "{{ nodes.each.output.error.kind }}"),
            inputs={"type": "object"},
        )

        outcome = await run_spec(raw, {"value": 3})

        assert outcome.output == "validation_error"
        assert probe.calls == []

    async def test_continue_run_reruns_only_the_failed_item(
        self,
        compile_spec: Compile,
        services: RuntimeServices,
        saver: InMemorySaver,
        probe: ProbeTool,
    ) -> None:
        compiled = compile_spec(spec(for_each([probe_item()], concurrency=1), inputs=LIST_INPUT))
        probe.broken.add("b")
        failed = await compiled.start(
            {"xs": ["a", "b", "c"]}, run_id="r", services=services, checkpointer=saver
        )
        assert failed.status == "failed"

        probe.broken.clear()
        outcome = await compiled.continue_run(run_id="r", services=services, checkpointer=saver)

        assert outcome.output == ["a", "b", "c"]
        assert (probe.count("a"), probe.count("b"), probe.count("c")) == (1, 2, 1)


class TestIdempotencyKeys:
    async def test_every_item_and_every_pass_gets_its_own_key(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        looped = {
            "id": "again",
            "type": "loop",
            "condition": "nodes.again.output.iterations < 3",
            "max_iterations": 5,
            "body": [{"id": "tick", "type": "tool", "tool": "probe", "args": {"key": "tick"}}],
        }

        outcome = await run_spec(
            spec(for_each([probe_item()]), looped, inputs=LIST_INPUT), {"xs": ["a", "b", "c"]}
        )

        assert outcome.status == "completed"
        assert len(probe.keys) == 6
        assert len(set(probe.keys)) == 6
        assert all(key.startswith(("run-1:work:", "run-1:tick:")) for key in probe.keys)
        assert all(key.endswith(":1") for key in probe.keys)
