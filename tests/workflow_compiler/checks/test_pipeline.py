"""check_spec and parse_spec end to end: never a crash, every error at once, fast."""

from __future__ import annotations

import copy
import random
import time
from typing import Any

import pytest

import workflow_compiler.checks as checks
from tests.workflow_compiler.checks.conftest import found, set_node, spec_of
from workflow_compiler.checks import check_spec, parse_spec
from workflow_compiler.errors import SpecInvalidError
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import WorkflowSpec

DESIGN_EXAMPLE: dict[str, Any] = {
    "version": "1",
    "inputs": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    "nodes": [
        {
            "id": "extract",
            "type": "llm",
            "prompt": "Extract the total from: {{ inputs.text }}",
            "output_schema": {"type": "object", "properties": {"total": {"type": "number"}}},
        },
        {
            "id": "big",
            "type": "if",
            "condition": "nodes.extract.output.total > 1000",
            "then": [
                {
                    "id": "approve",
                    "type": "human",
                    "prompt": "Pay {{ nodes.extract.output.total }}?",
                    "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                }
            ],
        },
        {
            "id": "notify",
            "type": "tool",
            "tool": "fetch",
            "args": {
                "headers": {"Authorization": "Bearer {{ secrets.HOOK_TOKEN }}"},
                "json": {"total": "{{ nodes.extract.output.total }}"},
            },
        },
    ],
    "output": {"total": "{{ nodes.extract.output.total }}"},
}


def _fifty_nodes() -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [DESIGN_EXAMPLE["nodes"][0]]
    for i in range(12):
        nodes.append(
            {
                "id": f"i{i}",
                "type": "if",
                "condition": f"nodes.extract.output.total > {i}",
                "then": [set_node(f"t{i}", {"n": "{{ nodes.extract.output.total }}", "i": i})],
                "else": [
                    {
                        "id": f"e{i}",
                        "type": "tool",
                        "tool": "fetch",
                        "args": {"q": "{{ inputs.text }}"},
                    }
                ],
            }
        )
        nodes.append(set_node(f"s{i}", "{{ nodes.t" + str(i) + ".output.n | default(0) }} items"))
    nodes.append(
        {
            "id": "f",
            "type": "for_each",
            "items": "{{ nodes.e0.output.items | default([]) }}",
            "body": [set_node("b", "{{ item.name }} #{{ index }}")],
            "result": "{{ nodes.b.output }}",
        }
    )
    return spec_of(*nodes, inputs=DESIGN_EXAMPLE["inputs"], output={"f": "{{ nodes.f.output }}"})


class TestCheckSpec:
    def test_the_design_example_is_clean(self, check) -> None:
        report = check(DESIGN_EXAMPLE)

        assert report.issues == []
        assert report.ok
        assert isinstance(report.spec, WorkflowSpec)

    def test_accepts_a_parsed_spec(self, check) -> None:
        spec = WorkflowSpec.model_validate(spec_of(set_node("a", "{{ nodes.b.output }}")))

        assert found(check(spec)) == [("error", "nodes[0].value")]

    def test_a_fifty_node_spec_is_clean_and_fast(self, check) -> None:
        spec = _fifty_nodes()
        check(spec)

        best = min(_timed(check, spec) for _ in range(3))

        assert check(spec).ok
        assert best < 0.05

    @pytest.mark.parametrize(
        "raw",
        [
            {},
            {"version": "1", "nodes": []},
            {"version": "1", "nodes": [None, [], 1.5, {"type": None}, {"id": 1, "type": "set"}]},
            {"version": "1", "nodes": [{"id": "a", "type": "set"}], "inputs": {"type": []}},
            {"version": "1", "nodes": [{"id": "a", "type": "for_each", "items": [], "body": []}]},
            {"version": 1, "nodes": {"a": 1}, "output": object()},
            {"version": "1", "nodes": [set_node("a", "{{ " + "[" * 300 + " }}")]},
        ],
    )
    def test_never_raises_on_garbage(self, check, raw: object) -> None:
        assert not check(raw).ok

    def test_never_raises_on_mutations_of_a_valid_spec(self, tools: ToolRegistry) -> None:
        rng = random.Random(2)
        junk: list[Any] = [
            None,
            0,
            -1,
            1.5,
            "",
            "{{",
            "{{ nodes }}",
            "x",
            [],
            {},
            [1],
            {"a": 1},
            True,
        ]
        for _ in range(300):
            raw = copy.deepcopy(_fifty_nodes())
            for _ in range(rng.randint(1, 4)):
                _mutate(raw, rng, junk)

            report = check_spec(raw, tools=tools)

            assert report.errors if report.spec is None else report.spec.nodes


def _timed(check, spec: dict[str, Any]) -> float:
    started = time.perf_counter()
    check(spec)
    return time.perf_counter() - started


def _mutate(value: Any, rng: random.Random, junk: list[Any]) -> None:
    """Replace or delete one random member somewhere in a JSON tree."""
    while True:
        keys = list(value) if isinstance(value, dict) else list(range(len(value)))
        if not keys:
            return
        key = rng.choice(keys)
        child = value[key]
        if isinstance(child, dict | list) and child and rng.random() < 0.7:
            value = child
            continue
        if isinstance(value, dict) and rng.random() < 0.3:
            del value[key]
        else:
            value[key] = copy.deepcopy(rng.choice(junk))
        return


class TestParseSpec:
    def test_returns_the_model(self, tools: ToolRegistry) -> None:
        spec = parse_spec(spec_of(set_node("a"), output="{{ nodes.a.output }}"), tools=tools)

        assert spec.nodes[0].id == "a"

    def test_warnings_do_not_block(self, tools: ToolRegistry) -> None:
        raw = spec_of(
            {"id": "i", "type": "if", "condition": "true", "then": [set_node("t")]},
            output="{{ nodes.t.output }}",
        )

        assert parse_spec(raw, tools=tools).output == "{{ nodes.t.output }}"

    def test_raises_with_every_issue(self, tools: ToolRegistry) -> None:
        raw = spec_of(
            {"id": "i", "type": "if", "condition": "true", "then": [set_node("t")]},
            set_node("a", "{{ nodes.zz.output }}"),
            output="{{ nodes.t.output }} {{ x }}",
        )

        with pytest.raises(SpecInvalidError) as caught:
            parse_spec(raw, tools=tools)

        assert [(i.severity, i.path) for i in caught.value.issues] == [
            ("error", "nodes[1].value"),
            ("warning", "output"),
            ("error", "output"),
        ]
        assert caught.value.code == "spec_invalid"

    def test_raises_for_a_non_object(self, tools: ToolRegistry) -> None:
        with pytest.raises(SpecInvalidError, match="a spec must be a JSON object"):
            parse_spec([], tools=tools)


class TestExports:
    def test_public_names(self) -> None:
        assert sorted(checks.__all__) == ["CheckReport", "check_spec", "parse_spec"]
