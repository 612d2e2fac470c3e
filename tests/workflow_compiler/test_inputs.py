"""validate_inputs: JSON Schema 2020-12, defaults applied, every error at once."""

from __future__ import annotations

from typing import Any

import pytest

from workflow_compiler.errors import InputsInvalidError, SpecInvalidError
from workflow_compiler.inputs import validate_inputs
from workflow_compiler.spec import WorkflowSpec

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "n": {"type": "integer", "default": 3},
        "opts": {
            "type": "object",
            "default": {},
            "properties": {
                "deep": {"type": "boolean", "default": True},
                "tags": {"default": ["a"]},
            },
        },
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"w": {"default": 1}, "name": {"type": "string"}},
                "required": ["name"],
            },
        },
    },
    "required": ["text"],
}


def _spec(inputs: dict[str, Any] | None = None) -> WorkflowSpec:
    raw: dict[str, Any] = {"version": "1", "nodes": [{"id": "a", "type": "set"}]}
    if inputs is not None:
        raw["inputs"] = inputs
    return WorkflowSpec.model_validate(raw)


class TestDefaults:
    def test_applied_recursively_without_touching_the_argument(self) -> None:
        given = {"text": "hi", "rows": [{"name": "x"}, {"name": "y", "w": 5}]}

        values = validate_inputs(_spec(_SCHEMA), given)

        assert values == {
            "text": "hi",
            "n": 3,
            "opts": {"deep": True, "tags": ["a"]},
            "rows": [{"name": "x", "w": 1}, {"name": "y", "w": 5}],
        }
        assert given == {"text": "hi", "rows": [{"name": "x"}, {"name": "y", "w": 5}]}

    def test_given_values_win(self) -> None:
        values = validate_inputs(_spec(_SCHEMA), {"text": "hi", "n": 7, "opts": {"deep": False}})

        assert values["n"] == 7
        assert values["opts"] == {"deep": False, "tags": ["a"]}

    def test_defaults_are_copies(self) -> None:
        spec = _spec(_SCHEMA)

        validate_inputs(spec, {"text": "x"})["opts"]["tags"].append("b")

        assert validate_inputs(spec, {"text": "x"})["opts"]["tags"] == ["a"]

    def test_the_default_schema_accepts_any_object(self) -> None:
        assert validate_inputs(_spec(), {"anything": [1]}) == {"anything": [1]}


class TestErrors:
    def test_all_at_once_with_paths(self) -> None:
        given = {
            "n": "three",
            "opts": {"deep": "yes"},
            "rows": [{"name": "a"}, {"w": 2}, {"name": 3}],
        }

        with pytest.raises(InputsInvalidError) as caught:
            validate_inputs(_spec(_SCHEMA), given)

        assert sorted((i.path, i.message) for i in caught.value.issues) == [
            ("inputs.n", "'three' is not of type 'integer'"),
            ("inputs.opts.deep", "'yes' is not of type 'boolean'"),
            ("inputs.rows[1].name", "required property is missing"),
            ("inputs.rows[2].name", "3 is not of type 'string'"),
            ("inputs.text", "required property is missing"),
        ]
        assert caught.value.code == "inputs_invalid"

    def test_a_default_does_not_hide_an_invalid_value(self) -> None:
        with pytest.raises(InputsInvalidError) as caught:
            validate_inputs(_spec(_SCHEMA), {"text": ""})

        assert [i.path for i in caught.value.issues] == ["inputs.text"]

    @pytest.mark.parametrize("given", [[1], "text", None, 3])
    def test_non_mapping_inputs(self, given: Any) -> None:
        with pytest.raises(InputsInvalidError) as caught:
            validate_inputs(_spec(_SCHEMA), given)

        assert [i.path for i in caught.value.issues] == ["inputs"]

    def test_an_unusable_input_schema_is_a_spec_error(self) -> None:
        spec = _spec({"type": "object", "properties": {"a": {"$ref": "#/$defs/none"}}})

        with pytest.raises(SpecInvalidError) as caught:
            validate_inputs(spec, {"a": 1})

        assert [i.path for i in caught.value.issues] == ["inputs.properties.a.$ref"]
