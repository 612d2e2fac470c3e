"""Templates, conditions and the static reading of references."""

from __future__ import annotations

import pytest

from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.expressions import (
    Constant,
    ExpressionSyntaxError,
    Reference,
    compile_condition,
    compile_value,
    not_run,
    references,
    single_expression,
    template_sources,
)

SCOPE = {
    "inputs": {"n": 3, "xs": [1, 2], "name": "Ada"},
    "nodes": {"f": {"output": {"items": [7], "total": 12.5}}},
}


class TestCompileValue:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("{{ inputs.n }}", 3),
            ("  {{ inputs.xs }} ", [1, 2]),
            ("{{ inputs.n > 2 }}", True),
            ("{{ nodes.f.output.total * 2 }}", 25.0),
            ("n={{ inputs.n }}", "n=3"),
            ("{{ inputs.n }}{{ inputs.n }}", "33"),
            ("{% for x in inputs.xs %}{{ x }};{% endfor %}", "1;2;"),
            ("{{ range(3) | list }}", [0, 1, 2]),
            ("{{ dict(a=inputs.n) }}", {"a": 3}),
            ({"a": ["{{ inputs.name }}", 1], "b": None}, {"a": ["Ada", 1], "b": None}),
        ],
    )
    def test_renders_native_values_and_strings(self, value: object, expected: object) -> None:
        assert compile_value(value)(SCOPE) == expected

    def test_rendering_leaves_the_scope_untouched(self) -> None:
        scope = {"inputs": {"n": 1}}
        compile_value("{% set inputs = 5 %}{{ inputs }}")(scope)
        assert scope == {"inputs": {"n": 1}}

    def test_dict_keys_win_over_dict_methods(self) -> None:
        assert compile_value("{{ nodes.f.output.items }}")(SCOPE) == [7]

    @pytest.mark.parametrize("value", ["plain text", 5, None, {"a": [1, "b"]}, "{ not jinja }"])
    def test_values_without_markup_are_constants(self, value: object) -> None:
        renderer = compile_value(value)
        assert isinstance(renderer, Constant)
        assert renderer({}) == value

    @pytest.mark.parametrize(
        "source",
        [
            "{{ inputs.missing }}",
            "x {{ inputs.missing }}",
            "{{ inputs.n + 'a' }}",
            "{{ {'a': 1} | dictsort(by='neither') }}",
            "x {{ {'a': 1} | dictsort(by='neither') }}",
        ],
    )
    def test_evaluation_failures_are_expression_errors(self, source: str) -> None:
        with pytest.raises(NodeError) as caught:
            compile_value(source)(SCOPE)
        assert caught.value.kind is ErrorKind.EXPRESSION_ERROR
        assert not caught.value.retryable

    def test_sandbox_refuses_unsafe_attributes(self) -> None:
        with pytest.raises(NodeError) as caught:
            compile_value("{{ inputs.name.__class__.__mro__ }}")(SCOPE)
        assert caught.value.kind is ErrorKind.EXPRESSION_ERROR

    @pytest.mark.parametrize(
        "source", ["{{ inputs.xs.append(9) }}", "{{ nodes.f.output.update({'total': 0}) }}"]
    )
    def test_templates_cannot_change_what_they_read(self, source: str) -> None:
        scope = {"inputs": {"xs": [1, 2]}, "nodes": {"f": {"output": {"total": 1}}}}
        with pytest.raises(NodeError) as caught:
            compile_value(source)(scope)
        assert caught.value.kind is ErrorKind.EXPRESSION_ERROR
        assert scope == {"inputs": {"xs": [1, 2]}, "nodes": {"f": {"output": {"total": 1}}}}

    @pytest.mark.parametrize(
        "source", ["{{ 10 ** 100000 }}", "{{ 'x' * 10 ** 10 }}", "{{ [0] * 10 ** 9 }}"]
    )
    def test_runaway_arithmetic_is_refused(self, source: str) -> None:
        with pytest.raises(NodeError, match=r"larger than|more than"):
            compile_value(source)({})

    @pytest.mark.parametrize(
        ("source", "expected"),
        [("{{ 2 ** 10 }}", 1024), ("{{ 'ab' * 3 }}", "ababab"), ("{{ 3 * [1] }}", [1, 1, 1])],
    )
    def test_ordinary_arithmetic_still_works(self, source: str, expected: object) -> None:
        assert compile_value(source)({}) == expected

    @pytest.mark.parametrize("source", ["{{ inputs. }}", "{% for %}", "a {{ ) }}"])
    def test_syntax_errors_are_raised_at_compile_time(self, source: str) -> None:
        with pytest.raises(ExpressionSyntaxError):
            compile_value(source)


class TestNodesThatDidNotRun:
    SCOPE = {"nodes": {"t": {"output": not_run("t")}, "u": {"output": {"a": 1}}}}

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("{{ nodes.t.output }}", None),
            ("{{ [nodes.t.output, {'k': nodes.t.output}] }}", [None, {"k": None}]),
            ("{{ nodes.t.output | default(0) }}", 0),
            ("{{ nodes.t.output.a.b | default(1) }}", 1),
            ("{{ nodes.u.output.zz.b | default(2) }}", 2),
            ("{{ nodes.t.output is defined }}", False),
            ("{{ nodes.t.output is none }}", True),
            ("{{ nodes.t.output == none }}", True),
            ("{{ nodes.t.output or nodes.u.output }}", {"a": 1}),
            ("[{{ nodes.t.output }}]", "[]"),
        ],
    )
    def test_reads_as_null_and_guards_apply(self, source: str, expected: object) -> None:
        assert compile_value(source)(self.SCOPE) == expected

    def test_using_it_unguarded_names_the_node(self) -> None:
        with pytest.raises(NodeError, match="node 't' has not run"):
            compile_value("{{ nodes.t.output.total > 3 }}")(self.SCOPE)

    def test_a_missing_key_unguarded_still_fails(self) -> None:
        with pytest.raises(NodeError) as caught:
            compile_value("{{ nodes.u.output.zz.b }}")(self.SCOPE)
        assert caught.value.kind is ErrorKind.EXPRESSION_ERROR


class TestSingleExpression:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("{{ a }}", " a "), ("{{ a }} {{ b }}", None), ("x{{ a }}", None), ("a", None)],
    )
    def test_detects_exactly_one_placeholder(self, text: str, expected: str | None) -> None:
        assert single_expression(text) == expected


class TestCompileCondition:
    def test_evaluates_truth(self) -> None:
        assert compile_condition("inputs.n > 2 and nodes.f.output.total < 20")(SCOPE) is True
        assert compile_condition("inputs.xs | length > 5")(SCOPE) is False

    def test_rejects_bad_syntax(self) -> None:
        with pytest.raises(ExpressionSyntaxError):
            compile_condition("inputs.n >")


class TestReferences:
    def test_reads_constant_paths(self) -> None:
        assert references("nodes.a.output.items[0].name > inputs.limit", condition=True) == [
            Reference("nodes", ("a", "output", "items", 0, "name"), False),
            Reference("inputs", ("limit",), False),
        ]

    def test_dynamic_subscripts_cut_the_path_and_are_read_themselves(self) -> None:
        assert references("{{ inputs.xs[inputs.i] }}") == [
            Reference("inputs", ("xs",), False),
            Reference("inputs", ("i",), False),
        ]

    @pytest.mark.parametrize(
        "source",
        [
            "{{ nodes.t.output | default(0) }}",
            "{{ nodes.t.output.a | d('x') }}",
            "{{ nodes.t.output is defined }}",
            "{{ nodes.t.output.a if nodes.t.output is defined else 0 }}",
            "{{ nodes.t.output.a if nodes.t.output is not none else 0 }}",
            "{% if nodes.t.output is defined %}{{ nodes.t.output.a }}{% endif %}",
        ],
    )
    def test_guards(self, source: str) -> None:
        refs = [r for r in references(source) if r.root == "nodes"]
        assert refs
        assert all(r.guarded for r in refs)

    def test_a_guard_covers_only_what_it_tested(self) -> None:
        refs = references("{{ nodes.u.output if nodes.t.output is defined else 1 }}")
        assert Reference("nodes", ("u", "output"), False) in refs

    def test_locals_of_the_template_are_not_references(self) -> None:
        refs = references("{% set k = 2 %}{% for x in inputs.xs %}{{ x * k }}{% endfor %}")
        assert refs == [Reference("inputs", ("xs",), False)]


class TestTemplateSources:
    def test_yields_paths_of_templated_strings(self) -> None:
        value = {"a": "{{ x }}", "b": ["plain", {"c": "y {{ z }}"}], "d": 3}
        assert list(template_sources(value)) == [(".a", "{{ x }}"), (".b[1].c", "y {{ z }}")]
