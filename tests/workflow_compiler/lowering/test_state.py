"""Channels, the lazy ``nodes`` view, scopes, and what a body reads from outside."""

from __future__ import annotations

import pytest

from workflow_compiler.context import RunContext, RuntimeServices
from workflow_compiler.errors import NodeError
from workflow_compiler.expressions import compile_condition, compile_value
from workflow_compiler.lowering.state import (
    INPUTS,
    GraphState,
    Needs,
    NodesView,
    ScopeBuilder,
    graph_nodes,
    output_key,
    results_key,
    variable_key,
)
from workflow_compiler.spec import WorkflowSpec


def nodes_of(*raw: dict) -> list:
    return WorkflowSpec.model_validate({"version": "1", "nodes": list(raw)}).nodes


class TestNodesView:
    def test_reads_outputs_lazily_from_the_state(self) -> None:
        state = {output_key("a"): {"n": 1}}
        view = NodesView(state, {"a": output_key("a"), "b": output_key("b")})

        assert len(view) == 0
        assert view["a"] == {"output": {"n": 1}}
        assert view["b"] == {"output": None}

    def test_unknown_ids_are_undefined_in_expressions(self) -> None:
        scope = {"nodes": NodesView({}, {"a": output_key("a")})}

        assert compile_condition("nodes.zzz is not defined")(scope)
        with pytest.raises(NodeError):
            compile_value("{{ nodes.zzz.output }}")(scope)

    def test_ids_that_name_dict_methods_are_keys(self) -> None:
        view = NodesView({output_key("items"): [1, 2]}, {"items": output_key("items")})

        assert compile_value("{{ nodes.items.output }}")({"nodes": view}) == [1, 2]


class TestScopeBuilder:
    def test_scope_has_inputs_nodes_run_and_variables(self, services: RuntimeServices) -> None:
        build = ScopeBuilder(["a"], ["item"])
        run = RunContext(run_id="r", services=services, run={"id": "r"})
        state = {INPUTS: {"x": 1}, output_key("a"): 5, variable_key("item"): "it"}

        scope = build(state, run)

        assert scope["inputs"] == {"x": 1}
        assert scope["nodes"]["a"] == {"output": 5}
        assert scope["run"] == {"id": "r"}
        assert scope["item"] == "it"


class TestNeeds:
    def test_collects_nodes_inputs_and_variables_of_nested_nodes(self) -> None:
        body = nodes_of(
            {"id": "x", "type": "set", "value": "{{ nodes.outer.output }} {{ inputs.q }}"},
            {
                "id": "inner",
                "type": "for_each",
                "items": "{{ row }}",
                "body": [{"id": "y", "type": "set", "value": "{{ item }} {{ secrets.K }}"}],
                "result": "{{ nodes.far.output }}",
            },
        )

        needs = Needs.of(body, ["{{ run.id }}"])

        assert needs.node_ids == {"outer", "far"}
        assert needs.inputs
        assert needs.variables == {"row", "item"}
        assert not needs.any_node

    def test_a_computed_node_key_means_any_node(self) -> None:
        body = nodes_of({"id": "x", "type": "set", "value": "{{ nodes[inputs.which].output }}"})

        assert Needs.of(body).any_node


class TestGraphNodes:
    def test_stops_at_for_each_bodies(self) -> None:
        tree = nodes_of(
            {
                "id": "c",
                "type": "if",
                "condition": "true",
                "then": [{"id": "t", "type": "set", "value": 1}],
            },
            {
                "id": "fe",
                "type": "for_each",
                "items": [1],
                "body": [{"id": "b", "type": "set", "value": 1}],
            },
        )

        assert [node.id for node in graph_nodes(tree)] == ["c", "t", "fe"]


class TestGraphState:
    STATE = GraphState("G", node_ids=["a", "b"], variables=["item"], for_each_ids=["b"])

    def test_the_schema_has_every_channel(self) -> None:
        keys = set(self.STATE.schema().__annotations__)

        assert keys == {
            INPUTS,
            "wf:run",
            output_key("a"),
            output_key("b"),
            variable_key("item"),
            results_key("b"),
        }

    def test_a_node_reads_only_what_its_expressions_name(self) -> None:
        [node] = nodes_of({"id": "c", "type": "set", "value": "{{ nodes.a.output }}{{ item }}"})

        schema = self.STATE.input_schema("c", Needs.of_node(node), results_key("b"))

        assert schema is not None
        assert set(schema.__annotations__) == {
            output_key("a"),
            variable_key("item"),
            results_key("b"),
        }

    def test_a_computed_node_key_reads_the_whole_state(self) -> None:
        [node] = nodes_of({"id": "c", "type": "set", "value": "{{ nodes[inputs.k].output }}"})

        assert self.STATE.input_schema("c", Needs.of_node(node)) is None
