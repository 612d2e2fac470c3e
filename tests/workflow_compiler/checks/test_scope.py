"""Joining the scopes of branches."""

from __future__ import annotations

from workflow_compiler.checks.scope import Scope, after_all, after_choice, tree_ids, visible_after
from workflow_compiler.spec import WorkflowSpec


class TestAfterChoice:
    def test_sure_only_what_every_branch_ran(self) -> None:
        entry = Scope(sure=frozenset({"i"}), maybe={"old": "before"})
        then = entry.ran("t").ran("both")
        else_ = entry.ran("both").may_have_run({"m": "nested"}).hiding({"h": "body"})

        joined = after_choice(entry, [then, else_], "some branches")

        assert joined.sure == {"i", "both"}
        assert joined.maybe == {"old": "before", "m": "nested", "t": "some branches"}
        assert joined.hidden == {"h": "body"}


class TestAfterAll:
    def test_every_branch_ran(self) -> None:
        entry = Scope(sure=frozenset({"p"}))
        one = entry.ran("a").may_have_run({"x": "if"})
        two = entry.ran("x")

        joined = after_all(entry, [one, two])

        assert joined.sure == {"p", "a", "x"}
        assert joined.maybe == {}


class TestTreeIds:
    def test_visible_after_skips_loop_bodies(self) -> None:
        spec = WorkflowSpec.model_validate(
            {
                "version": "1",
                "nodes": [
                    {
                        "id": "i",
                        "type": "if",
                        "condition": "x",
                        "then": [{"id": "t", "type": "set"}],
                    },
                    {
                        "id": "f",
                        "type": "for_each",
                        "items": [],
                        "body": [{"id": "b", "type": "set"}],
                    },
                    {"id": "p", "type": "parallel", "branches": [[{"id": "q", "type": "set"}]]},
                ],
            }
        )

        assert list(visible_after(spec.nodes)) == ["i", "t", "f", "p", "q"]
        assert tree_ids(spec.nodes) == ["i", "t", "f", "b", "p", "q"]
