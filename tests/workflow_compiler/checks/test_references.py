"""Names and the reference rule: what an expression may read at its place in the tree."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow_compiler.checks.conftest import found, set_node, spec_of


def _if(node_id: str, then: list[Any], else_: list[Any] | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "if", "condition": "true", "then": then, "else": else_ or []}


def _each(node_id: str, body: list[Any], items: Any = "{{ [1, 2] }}", **fields: Any) -> dict:
    return {"id": node_id, "type": "for_each", "items": items, "body": body, **fields}


def _loop(node_id: str, body: list[Any], condition: str = "true") -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "loop",
        "condition": condition,
        "body": body,
        "max_iterations": 3,
    }


def _par(node_id: str, *branches: list[Any]) -> dict[str, Any]:
    return {"id": node_id, "type": "parallel", "branches": list(branches)}


def _read(node_id: str, expression: str) -> dict[str, Any]:
    return set_node(node_id, "{{ " + expression + " }}")


class TestNames:
    @pytest.mark.parametrize(
        "expression",
        [
            "inputs.anything",
            "run.id",
            "secrets.TOKEN",
            "range(3) | list",
            "dict(a=1)",
            "namespace(x=1).x",
            "lipsum(1) ~ cycler(1).next() ~ joiner()()",
            "[1, 2] | map('string') | join(',')",
        ],
    )
    def test_known_names_pass(self, check, expression: str) -> None:
        assert check(spec_of(_read("a", expression))).issues == []

    def test_locals_the_template_defines(self, check) -> None:
        template = "{% set y = 2 %}{% for z in [y] %}{{ z }}{% endfor %}{{ y }}"

        assert check(spec_of(set_node("a", template))).issues == []

    def test_unknown_name(self, check) -> None:
        report = check(spec_of(_read("a", "input.text")))

        assert found(report) == [("error", "nodes[0].value")]
        assert report.issues[0].message == (
            "unknown name 'input' (did you mean 'inputs'?); names here: inputs, nodes, run, secrets"
        )

    def test_loop_variables_inside_nested_bodies(self, check) -> None:
        inner = _each(
            "inner",
            [_read("b", "row ~ index ~ cell ~ j")],
            items="{{ [row] }}",
            **{"as": "cell", "index_as": "j"},
        )

        report = check(spec_of(_each("outer", [inner], **{"as": "row"}), _read("c", "row")))

        assert found(report) == [("error", "nodes[1].value")]
        assert "unknown name 'row'" in report.issues[0].message

    def test_loop_variables_are_listed_where_known(self, check) -> None:
        report = check(spec_of(_each("f", [_read("b", "iten")])))

        assert report.issues[0].message == (
            "unknown name 'iten' (did you mean 'item'?); "
            "names here: index, inputs, item, nodes, run, secrets"
        )


class TestNodeReferences:
    @pytest.mark.parametrize(
        ("expression", "message"),
        [
            ("nodes.zz.output", "unknown node 'zz'"),
            ("nodes.aa.output", "unknown node 'aa' (did you mean 'a'?)"),
            ("nodes.a", "did you mean nodes.a.output?"),
            ("nodes.a.outputs.x", "did you mean nodes.a.output?"),
            ("nodes[0].output", "unknown node '0'"),
            ("nodes.c.output", "node 'c' does not run before this point"),
            ("nodes.b.output", "node 'b' cannot read its own output"),
        ],
    )
    def test_errors(self, check, expression: str, message: str) -> None:
        report = check(spec_of(set_node("a"), _read("b", expression), set_node("c")))

        assert found(report) == [("error", "nodes[1].value")]
        assert report.issues[0].message.startswith(message)

    @pytest.mark.parametrize("expression", ["nodes[inputs.k].output", "nodes", "nodes | length"])
    def test_without_a_constant_id_warns(self, check, expression: str) -> None:
        report = check(spec_of(set_node("a"), _read("b", expression)))

        assert found(report) == [("warning", "nodes[1].value")]
        assert "cannot be checked" in report.issues[0].message

    def test_earlier_nodes_are_plain(self, check) -> None:
        spec = spec_of(set_node("a", {"x": 1}), _read("b", "nodes.a.output.x"))

        assert check(spec).issues == []


class TestBranches:
    @pytest.mark.parametrize(
        "expression",
        [
            "nodes.t.output | default(1)",
            "nodes.t.output | d(1)",
            "nodes.t.output.x | default('n')",
            "nodes.t.output is defined",
            "nodes.t.output is none",
            "nodes.t.output is not none",
            "nodes.t.output is undefined",
        ],
    )
    def test_guarded_reads_after_the_block_pass(self, check, expression: str) -> None:
        spec = spec_of(_if("i", [set_node("t", {"x": 1})]), _read("r", expression))

        assert check(spec).issues == []

    def test_unguarded_reads_after_the_block_warn(self, check) -> None:
        spec = spec_of(
            set_node("a"),
            _if("i", [set_node("t")], [set_node("e")]),
            _read("r", "[nodes.a.output, nodes.i.output.branch, nodes.t.output, nodes.e.output]"),
        )

        report = check(spec)

        assert found(report) == [("warning", "nodes[2].value")] * 2
        assert report.ok
        assert "node 't' may not have run here (it runs in only some branches of if 'i')" in (
            report.issues[0].message
        )

    def test_inside_a_branch(self, check) -> None:
        spec = spec_of(
            _if(
                "i",
                [set_node("t"), _read("t2", "[nodes.i.output, nodes.t.output]")],
                [_read("e", "nodes.t.output")],
            ),
        )

        report = check(spec)

        assert found(report) == [("error", "nodes[0].else[0].value")]
        assert "it is in another branch of if 'i'" in report.issues[0].message

    def test_switch(self, check) -> None:
        spec = spec_of(
            {
                "id": "s",
                "type": "switch",
                "cases": [
                    {"when": "nodes.s.output", "nodes": [set_node("c0")]},
                    {"when": "true", "nodes": [_read("c1", "nodes.s.output.case")]},
                ],
                "default": [_read("d", "nodes.c0.output")],
            },
            _read("after", "nodes.c1.output"),
        )

        assert found(check(spec)) == [
            ("error", "nodes[0].cases[0].when"),
            ("error", "nodes[0].default[0].value"),
            ("warning", "nodes[1].value"),
        ]

    def test_nested_branches_stay_maybe(self, check) -> None:
        spec = spec_of(
            _if("i", [_if("j", [set_node("deep")], [set_node("other")])]),
            _read("r", "nodes.deep.output"),
            _read("s", "nodes.j.output"),
        )

        assert found(check(spec)) == [("warning", "nodes[1].value"), ("warning", "nodes[2].value")]


class TestParallel:
    def test_branches_cannot_see_each_other(self, check) -> None:
        spec = spec_of(
            set_node("a"),
            _par(
                "p",
                [set_node("x"), _read("x2", "[nodes.a.output, nodes.p.output, nodes.x.output]")],
                [_read("y", "nodes.x.output")],
            ),
            _read("after", "[nodes.x.output, nodes.x2.output, nodes.y.output, nodes.p.output]"),
        )

        report = check(spec)

        assert found(report) == [("error", "nodes[1].branches[1][0].value")]
        assert "it runs concurrently, in another branch of parallel 'p'" in report.issues[0].message

    def test_a_maybe_node_inside_a_branch_stays_maybe(self, check) -> None:
        spec = spec_of(
            _par("p", [_if("i", [set_node("t")])], [set_node("u")]),
            _read("r", "[nodes.t.output, nodes.u.output]"),
        )

        assert found(check(spec)) == [("warning", "nodes[1].value")]


class TestForEach:
    def test_scope_of_the_body(self, check) -> None:
        spec = spec_of(
            set_node("a"),
            _each(
                "f",
                [
                    set_node("b"),
                    _read("c", "[nodes.a.output, nodes.b.output, item, index]"),
                    _read("d", "nodes.f.output"),
                ],
                result="{{ nodes.c.output }}",
            ),
            _read("after", "nodes.f.output[0]"),
            _read("late", "nodes.b.output"),
        )

        report = check(spec)

        assert found(report) == [("error", "nodes[1].body[2].value"), ("error", "nodes[3].value")]
        assert "for_each 'f' has an output only once all items are done" in report.issues[0].message
        assert "it is inside the body of for_each 'f'" in report.issues[1].message

    def test_items_use_the_outer_scope(self, check) -> None:
        spec = spec_of(_each("f", [set_node("b")], items="{{ nodes.b.output }}"))

        assert found(check(spec)) == [("error", "nodes[0].items")]

    def test_result_reads_the_end_of_the_body(self, check) -> None:
        spec = spec_of(
            _each(
                "f",
                [_if("i", [set_node("t")])],
                result="{{ [item, nodes.i.output, nodes.t.output] }}",
            )
        )

        assert found(check(spec)) == [("warning", "nodes[0].result")]


class TestLoop:
    def test_condition_sees_body_nodes_as_maybe(self, check) -> None:
        spec = spec_of(
            _loop(
                "l",
                [set_node("b")],
                condition="nodes.b.output < 3 and nodes.l.output.iterations < 9",
            ),
            _loop("g", [set_node("c")], condition="(nodes.c.output | default(0)) < 3"),
        )

        report = check(spec)

        assert found(report) == [("warning", "nodes[0].condition")]
        assert "node 'b' may not have run here (it runs in the body of loop 'l'" in (
            report.issues[0].message
        )

    def test_body_sees_later_nodes_as_maybe(self, check) -> None:
        spec = spec_of(
            _loop(
                "l",
                [
                    _read("first", "[nodes.l.output.iterations, nodes.second.output]"),
                    _read("second", "nodes.first.output"),
                    _read("count", "(nodes.count.output | default(0)) + 1"),
                    _if("i", [set_node("t")]),
                    _each("f", [set_node("inner")]),
                ],
            ),
            _read("after", "[nodes.l.output, nodes.first.output]"),
        )

        report = check(spec)

        assert found(report) == [("warning", "nodes[0].body[0].value"), ("error", "nodes[1].value")]
        assert "it runs later in the body of loop 'l'" in report.issues[0].message
        assert "it is inside the body of loop 'l'" in report.issues[1].message

    def test_nested_for_each_body_is_not_visible_in_the_next_pass(self, check) -> None:
        spec = spec_of(
            _loop("l", [_read("r", "nodes.inner.output"), _each("f", [set_node("inner")])])
        )

        assert found(check(spec)) == [("error", "nodes[0].body[0].value")]


class TestOutput:
    def test_uses_the_final_scope(self, check) -> None:
        spec = spec_of(
            _if("i", [set_node("t")]),
            _each("f", [set_node("b")]),
            output={
                "t": "{{ nodes.t.output }}",
                "b": "{{ nodes.b.output }}",
                "ok": "{{ nodes.f.output | length }}",
                "name": "{{ secrets.X }} {{ nope }}",
            },
        )

        assert found(check(spec)) == [
            ("warning", "output.t"),
            ("error", "output.b"),
            ("error", "output.name"),
        ]

    def test_a_bare_template(self, check) -> None:
        assert found(check(spec_of(set_node("a"), output="{{ nodes.z.output }}"))) == [
            ("error", "output")
        ]


class TestNestedStructures:
    def test_if_inside_parallel_inside_for_each(self, check) -> None:
        branch_a = [_if("i", [set_node("t")], [set_node("e")]), _read("ra", "nodes.t.output")]
        branch_b = [_read("rb", "[item, nodes.i.output]")]
        body = [
            _par("p", branch_a, branch_b),
            _read("join", "[nodes.t.output | default(0), nodes.ra.output, nodes.rb.output]"),
        ]

        report = check(spec_of(_each("f", body), _read("after", "nodes.p.output")))

        assert found(report) == [
            ("warning", "nodes[0].body[0].branches[0][1].value"),
            ("error", "nodes[0].body[0].branches[1][0].value"),
            ("error", "nodes[1].value"),
        ]

    def test_loop_inside_if_inside_for_each(self, check) -> None:
        loop = _loop("l", [_read("x", "[item, nodes.y.output | default(0)]"), set_node("y")])
        body = [_if("i", [loop]), _read("z", "[nodes.l.output, nodes.y.output]")]

        report = check(spec_of(_each("f", body)))

        assert found(report) == [
            ("warning", "nodes[0].body[1].value"),
            ("error", "nodes[0].body[1].value"),
        ]

    def test_many_errors_at_once(self, check) -> None:
        spec = spec_of(
            _read("a", "nodes.b.output"),
            _read("b", "nope"),
            {"id": "t", "type": "tool", "tool": "missing", "args": {"x": "{{ ( }}"}},
            set_node("a"),
        )

        assert found(check(spec)) == [
            ("error", "nodes[3].id"),
            ("error", "nodes[2].tool"),
            ("error", "nodes[0].value"),
            ("error", "nodes[1].value"),
            ("error", "nodes[2].args.x"),
        ]
