"""The ``workflow`` node in the checks: its shape, its templated inputs, its unknown output."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow_compiler.checks.conftest import found, set_node, spec_of
from workflow_compiler.spec import WorkflowNode

CHILD = "wf_01JH4X9Q2ZKV8S7E5M3T6YB0CD"


def workflow_node(node_id: str = "child", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "workflow", "workflow_id": CHILD, **fields}


class TestShape:
    def test_defaults_to_the_published_version_and_no_inputs(self, check) -> None:
        report = check(spec_of(workflow_node()))

        assert report.issues == []
        node = report.spec.nodes[0]
        assert isinstance(node, WorkflowNode)
        assert (node.workflow_id, node.version, node.inputs) == (CHILD, "published", {})

    def test_a_pinned_version(self, check) -> None:
        report = check(spec_of(workflow_node(version=3)))

        assert report.issues == []
        assert report.spec.nodes[0].version == 3

    @pytest.mark.parametrize("version", [0, -1, "latest", "3", True, 1.5, None])
    def test_a_version_is_published_or_a_positive_number(self, check, version: Any) -> None:
        report = check(spec_of(workflow_node(version=version)))

        assert report.spec is None
        assert [(i.path, i.message) for i in report.issues] == [
            ("nodes[0].version", 'version must be "published" or a version number (1 or more)')
        ]

    @pytest.mark.parametrize(
        "workflow_id", ["", "wf_short", "run_01JH4X9Q2ZKV8S7E5M3T6YB0CD", CHILD.lower(), 7]
    )
    def test_the_workflow_is_named_by_its_id(self, check, workflow_id: Any) -> None:
        report = check(spec_of(workflow_node(workflow_id=workflow_id)))

        assert found(report) == [("error", "nodes[0].workflow_id")]

    def test_the_workflow_id_is_required(self, check) -> None:
        report = check(spec_of({"id": "child", "type": "workflow"}))

        assert [(i.path, i.message) for i in report.issues] == [
            ("nodes[0].workflow_id", "required field is missing")
        ]

    def test_inputs_are_an_object(self, check) -> None:
        report = check(spec_of(workflow_node(inputs=["{{ inputs.x }}"])))

        assert found(report) == [("error", "nodes[0].inputs")]


class TestInputs:
    def test_templates_read_the_scope_of_the_node(self, check) -> None:
        report = check(
            spec_of(
                set_node("total", 3),
                workflow_node(inputs={"n": "{{ nodes.total.output }}", "text": "{{ inputs.t }}"}),
                inputs={"type": "object", "properties": {"t": {"type": "string"}}},
            )
        )

        assert report.issues == []

    def test_every_bad_template_is_an_error_at_its_path(self, check) -> None:
        report = check(
            spec_of(
                workflow_node(
                    inputs={
                        "a": "{{ nodes.later.output }}",
                        "b": {"deep": ["{{ nope }}"]},
                        "c": "{{ inputs.x +* }}",
                        "d": "{{ nodes.child.output }}",
                    }
                ),
                set_node("later"),
            )
        )

        assert found(report) == [
            ("error", "nodes[0].inputs.a"),
            ("error", "nodes[0].inputs.b.deep[0]"),
            ("error", "nodes[0].inputs.c"),
            ("error", "nodes[0].inputs.d"),
        ]
        messages = [issue.message for issue in report.issues]
        assert messages[0] == "node 'later' does not run before this point"
        assert messages[1].startswith("unknown name 'nope'")
        assert messages[3] == "node 'child' cannot read its own output"

    def test_secrets_cannot_be_passed_to_the_child(self, check) -> None:
        report = check(
            spec_of(
                workflow_node(inputs={"token": "Bearer {{ secrets.HOOK_TOKEN }}", "n": 1}),
            )
        )

        assert [(i.path, i.message) for i in report.issues] == [
            (
                "nodes[0].inputs.token",
                "a workflow node cannot pass secrets to its child run, whose inputs are stored "
                "as given; let the child workflow read secrets.NAME itself",
            )
        ]

    def test_a_syntax_error_is_reported_once(self, check) -> None:
        report = check(spec_of(workflow_node(inputs={"s": "{{ secrets.A +* }}"})))

        assert found(report) == [("error", "nodes[0].inputs.s")]


class TestOutput:
    def test_is_unknown_so_any_path_into_it_passes(self, check) -> None:
        report = check(
            spec_of(
                workflow_node(),
                set_node("x", "{{ nodes.child.output.total[0].name }}"),
                output="{{ nodes.child.output.anything }}",
            )
        )

        assert report.issues == []

    def test_on_error_continue_may_read_the_error(self, check) -> None:
        report = check(
            spec_of(
                workflow_node(on_error="continue"),
                set_node("x", "{{ nodes.child.output.error.kind }}"),
            )
        )

        assert report.issues == []
