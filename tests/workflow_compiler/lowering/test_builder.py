"""Blocks lowered to LangGraph: branches, the parallel join, loops, on_error, merge nodes."""

from __future__ import annotations

from typing import Any

from tests.workflow_compiler.lowering.conftest import (
    Compile,
    ProbeTool,
    Run,
    probe_node,
    set_node,
    spec,
)
from workflow_compiler.errors import ErrorKind
from workflow_compiler.events import CollectingSink

NUMBER = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def if_node(condition: str, then: list[Any], else_: list[Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": "choose",
        "type": "if",
        "condition": condition,
        "then": then,
        "else": else_,
        **fields,
    }


def started(events: CollectingSink) -> list[str]:
    return [e.node_id for e in events.events if e.kind == "node_started" and e.node_id]


class TestIf:
    async def test_runs_then_when_the_condition_holds(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        raw = spec(
            if_node("inputs.n > 10", [set_node("big", "big")], [set_node("small", "small")]),
            set_node("after", "{{ nodes.big.output or nodes.small.output }}"),
            inputs=NUMBER,
            output={"after": "{{ nodes.after.output }}", "choice": "{{ nodes.choose.output }}"},
        )

        outcome = await run_spec(raw, {"n": 11})

        assert outcome.output == {"after": "big", "choice": {"branch": "then"}}
        assert started(events) == ["choose", "big", "after"]

    async def test_runs_else_otherwise(self, run_spec: Run, events: CollectingSink) -> None:
        raw = spec(
            if_node("inputs.n > 10", [set_node("big", "big")], [set_node("small", "small")]),
            set_node("after", "{{ nodes.big.output or nodes.small.output }}"),
            inputs=NUMBER,
        )

        outcome = await run_spec(raw, {"n": 3})

        assert outcome.output == "small"
        assert started(events) == ["choose", "small", "after"]

    async def test_an_empty_branch_goes_straight_to_the_next_node(self, run_spec: Run) -> None:
        raw = spec(
            if_node("inputs.n > 10", [set_node("big", "big")], []),
            set_node("after", "{{ nodes.big.output }}"),
            inputs=NUMBER,
        )

        outcome = await run_spec(raw, {"n": 1})

        assert outcome.status == "completed"
        assert outcome.output is None

    async def test_an_if_may_end_the_workflow(self, run_spec: Run) -> None:
        raw = spec(if_node("inputs.n > 10", [set_node("big", "big")], []), inputs=NUMBER)

        outcome = await run_spec(raw, {"n": 1})

        assert outcome.output == {"branch": "else"}

    async def test_a_failed_condition_under_continue_skips_the_block(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        raw = spec(
            if_node(
                "10 // inputs.n > 1",
                [set_node("big", 1)],
                [set_node("small", 0)],
                on_error="continue",
            ),
            set_node("after", "{{ nodes.choose.output.error.kind }}"),
            inputs=NUMBER,
        )

        outcome = await run_spec(raw, {"n": 0})

        assert outcome.output == "expression_error"
        assert started(events) == ["choose", "after"]


class TestSwitch:
    @staticmethod
    def _spec() -> dict[str, Any]:
        return spec(
            {
                "id": "route",
                "type": "switch",
                "cases": [
                    {"when": "inputs.n > 100", "nodes": [set_node("huge", "huge")]},
                    {"when": "inputs.n > 10", "nodes": [set_node("big", "big")]},
                    {"when": "inputs.n > 5", "nodes": [set_node("medium", "medium")]},
                ],
                "default": [set_node("small", "small")],
            },
            inputs=NUMBER,
            output={
                "case": "{{ nodes.route.output.case }}",
                "ran": "{{ [nodes.huge.output, nodes.big.output, nodes.medium.output, "
                "nodes.small.output] | select | list }}",
            },
        )

    async def test_runs_the_first_case_that_holds(self, run_spec: Run) -> None:
        outcome = await run_spec(self._spec(), {"n": 500})

        assert outcome.output == {"case": 0, "ran": ["huge"]}

    async def test_a_later_case_when_earlier_ones_do_not_hold(self, run_spec: Run) -> None:
        outcome = await run_spec(self._spec(), {"n": 50})

        assert outcome.output == {"case": 1, "ran": ["big"]}

    async def test_runs_default_when_no_case_holds(self, run_spec: Run) -> None:
        outcome = await run_spec(self._spec(), {"n": 1})

        assert outcome.output == {"case": "default", "ran": ["small"]}


class TestParallel:
    async def test_the_join_waits_for_every_branch(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        raw = spec(
            {
                "id": "fan",
                "type": "parallel",
                "branches": [
                    [set_node("short", "s")],
                    [
                        set_node("l1", 1),
                        set_node("l2", 2),
                        set_node("l3", "{{ nodes.l2.output + 1 }}"),
                    ],
                    [],
                ],
            },
            set_node("join", "{{ [nodes.fan.output, nodes.short.output, nodes.l3.output] }}"),
        )

        outcome = await run_spec(raw)

        assert outcome.output == [{}, "s", 3]
        order = started(events)
        assert order.count("join") == 1
        assert order.index("join") > order.index("l3")

    async def test_a_branch_ending_in_an_if_joins_through_a_merge_node(
        self, run_spec: Run, compile_spec: Compile, events: CollectingSink
    ) -> None:
        raw = spec(
            {
                "id": "fan",
                "type": "parallel",
                "branches": [
                    [if_node("inputs.n > 0", [set_node("pos", "+")], [set_node("neg", "-")])],
                    [set_node("other", "o"), set_node("other2", "o2")],
                ],
            },
            set_node("join", "{{ [nodes.pos.output, nodes.neg.output, nodes.other2.output] }}"),
            inputs=NUMBER,
        )

        outcome = await run_spec(raw, {"n": -1})

        assert outcome.output == [None, "-", "o2"]
        assert started(events).count("join") == 1
        assert "fan.branch0" in compile_spec(raw).graph.nodes

    async def test_parallel_blocks_nest(self, run_spec: Run) -> None:
        inner = {
            "id": "inner",
            "type": "parallel",
            "branches": [[set_node("x", "x")], [set_node("y", "y")]],
        }
        raw = spec(
            {"id": "outer", "type": "parallel", "branches": [[inner], [set_node("z", "z")]]},
            set_node("join", "{{ nodes.x.output ~ nodes.y.output ~ nodes.z.output }}"),
        )

        outcome = await run_spec(raw)

        assert outcome.output == "xyz"


class TestLoop:
    async def test_stops_when_the_condition_no_longer_holds(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        raw = spec(
            {
                "id": "again",
                "type": "loop",
                "condition": "nodes.again.output.iterations < 3",
                "max_iterations": 10,
                "body": [probe_node("work")],
            },
        )

        outcome = await run_spec(raw)

        assert outcome.output == {"iterations": 3}
        assert probe.count("work") == 3

    async def test_stops_at_max_iterations_even_if_the_condition_holds(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        raw = spec(
            {
                "id": "again",
                "type": "loop",
                "condition": "true",
                "max_iterations": 4,
                "body": [probe_node("work")],
            }
        )

        outcome = await run_spec(raw)

        assert outcome.output == {"iterations": 4}
        assert probe.count("work") == 4

    async def test_a_false_condition_skips_the_body(self, run_spec: Run, probe: ProbeTool) -> None:
        raw = spec(
            {
                "id": "again",
                "type": "loop",
                "condition": "false",
                "max_iterations": 4,
                "body": [probe_node("work")],
            },
            set_node("after", "{{ nodes.again.output.iterations }}"),
        )

        outcome = await run_spec(raw)

        assert outcome.output == 0
        assert probe.calls == []

    async def test_the_condition_reads_the_previous_pass(self, run_spec: Run) -> None:
        raw = spec(
            {
                "id": "count",
                "type": "loop",
                "condition": "(nodes.step.output | default(0, true)) < 5",
                "max_iterations": 100,
                "body": [set_node("step", "{{ (nodes.step.output | default(0, true)) + 2 }}")],
            },
        )

        outcome = await run_spec(raw)

        assert outcome.output == {"iterations": 3}

    async def test_an_inner_loop_restarts_its_count_on_each_outer_pass(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        inner = {
            "id": "inner",
            "type": "loop",
            "condition": "true",
            "max_iterations": 2,
            "body": [probe_node("work")],
        }
        seen = {
            "id": "seen",
            "type": "tool",
            "tool": "probe",
            "args": {"key": "inner ran {{ nodes.inner.output.iterations }}"},
        }
        raw = spec(
            {
                "id": "outer",
                "type": "loop",
                "condition": "true",
                "max_iterations": 3,
                "body": [inner, seen],
            }
        )

        outcome = await run_spec(raw)

        assert outcome.output == {"iterations": 3}
        assert probe.count("work") == 6
        assert probe.count("inner ran 2") == 3


class TestOnError:
    async def test_continue_makes_the_error_the_output_and_the_run_goes_on(
        self, run_spec: Run, probe: ProbeTool, events: CollectingSink
    ) -> None:
        probe.broken.add("fragile")
        raw = spec(
            probe_node("fragile", on_error="continue"),
            set_node("after", "{{ nodes.fragile.output.error }}"),
        )

        outcome = await run_spec(raw)

        assert outcome.status == "completed"
        assert outcome.output == {
            "kind": ErrorKind.TOOL_ERROR.value,
            "message": "probe 'fragile' is broken",
        }
        assert events.kinds("fragile") == ["node_started", "node_failed"]
