"""The ``scope`` of node events: which body pass (for_each item, loop pass) a node ran in.

A node inside a body runs once per pass with the same id and attempt numbers; its scope is
what tells those executions apart (and keys its step record).
"""

from __future__ import annotations

from typing import Any

from tests.workflow_compiler.lowering.conftest import ProbeTool, Run, probe_node, set_node, spec
from workflow_compiler.events import CollectingSink


def started(events: CollectingSink) -> list[tuple[str, str | None]]:
    """(scope, node id) of every node_started event, in order."""
    return [(e.scope, e.node_id) for e in events.events if e.kind == "node_started"]


def for_each(node_id: str, items: Any, body: list[Any], **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "for_each", "items": items, "body": body, **fields}


def loop(node_id: str, passes: int, body: list[Any]) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "loop",
        "condition": "true",
        "max_iterations": passes,
        "body": body,
    }


class TestTopLevel:
    async def test_top_level_nodes_and_run_events_have_an_empty_scope(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        await run_spec(spec(set_node("a", 1), set_node("b", 2)))

        assert {e.scope for e in events.events} == {""}


class TestForEach:
    async def test_each_item_of_the_body_is_scoped_by_its_index(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        await run_spec(
            spec(for_each("each", ["x", "y", "z"], [set_node("work", "{{ item }}")]), output=1)
        )

        assert sorted(started(events)) == [
            ("", "each"),
            ("each[0]", "work"),
            ("each[1]", "work"),
            ("each[2]", "work"),
        ]
        completed = {
            e.scope: e.data["output"]
            for e in events.events
            if e.kind == "node_completed" and e.node_id == "work"
        }
        assert completed == {"each[0]": "x", "each[1]": "y", "each[2]": "z"}

    async def test_nested_for_each_joins_the_scopes_with_a_slash(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        inner = for_each("inner", "{{ [item, item] }}", [set_node("leaf", 1)])
        await run_spec(spec(for_each("outer", [1, 2], [inner])))

        leaves = sorted(scope for scope, node_id in started(events) if node_id == "leaf")
        assert leaves == [
            "outer[0]/inner[0]",
            "outer[0]/inner[1]",
            "outer[1]/inner[0]",
            "outer[1]/inner[1]",
        ]
        assert sorted(s for s, n in started(events) if n == "inner") == ["outer[0]", "outer[1]"]


class TestLoop:
    async def test_each_pass_is_scoped_by_its_number_and_so_is_the_check_after_it(
        self, run_spec: Run, probe: ProbeTool, events: CollectingSink
    ) -> None:
        await run_spec(spec(loop("again", 2, [probe_node("work")])))

        assert started(events) == [
            ("", "again"),
            ("again#1", "work"),
            ("again#1", "again"),
            ("again#2", "work"),
            ("again#2", "again"),
        ]

    async def test_a_for_each_in_a_loop_scopes_its_items_under_the_pass(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        body = [for_each("each", [10, 20], [set_node("work", "{{ item }}")])]
        await run_spec(spec(loop("again", 2, body)))

        work = sorted(scope for scope, node_id in started(events) if node_id == "work")
        assert work == ["again#1/each[0]", "again#1/each[1]", "again#2/each[0]", "again#2/each[1]"]

    async def test_a_loop_in_a_for_each_scopes_its_passes_under_the_item(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        await run_spec(spec(for_each("each", ["a", "b"], [loop("again", 2, [set_node("w", 1)])])))

        work = sorted(scope for scope, node_id in started(events) if node_id == "w")
        assert work == ["each[0]/again#1", "each[0]/again#2", "each[1]/again#1", "each[1]/again#2"]
