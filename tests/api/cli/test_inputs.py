"""``--input key=value`` and ``--inputs-file``: typing by the schema, precedence, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli.errors import EXIT_USAGE, UsageError
from api.cli.inputs import parse_inputs

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "code": {"type": ["string", "null"]},
        "n": {"type": "integer"},
        "flags": {"type": "boolean"},
        "xs": {"type": "array"},
    },
}


class TestParseInputs:
    def test_string_properties_keep_the_raw_text(self) -> None:
        inputs = parse_inputs(["name=007", "code=true"], None, SCHEMA)
        assert inputs == {"name": "007", "code": "true"}

    def test_other_values_are_read_as_json(self) -> None:
        inputs = parse_inputs(["n=5", "flags=true", "xs=[1, 2]", 'extra={"a": null}'], None, SCHEMA)
        assert inputs == {"n": 5, "flags": True, "xs": [1, 2], "extra": {"a": None}}

    def test_a_value_that_is_not_json_stays_text(self) -> None:
        assert parse_inputs(["n=five", "other=hello world"], None, SCHEMA) == {
            "n": "five",
            "other": "hello world",
        }

    def test_only_the_first_equals_sign_splits(self) -> None:
        assert parse_inputs(["name=a=b", "empty="], None, SCHEMA) == {"name": "a=b", "empty": ""}

    def test_flags_override_the_file_in_order(self, tmp_path: Path) -> None:
        file = tmp_path / "inputs.json"
        file.write_text(json.dumps({"n": 1, "name": "file"}))
        inputs = parse_inputs(["n=2", "n=3"], file, SCHEMA)
        assert inputs == {"n": 3, "name": "file"}

    @pytest.mark.parametrize("pair", ["name", "=5", " =5"])
    def test_a_pair_without_key_or_equals_is_a_usage_error(self, pair: str) -> None:
        with pytest.raises(UsageError) as caught:
            parse_inputs([pair], None, SCHEMA)
        assert caught.value.message == f"--input '{pair}' must look like key=value"
        assert caught.value.exit_code == EXIT_USAGE

    def test_an_inputs_file_must_hold_an_object(self, tmp_path: Path) -> None:
        file = tmp_path / "inputs.json"
        file.write_text("[1, 2]")
        with pytest.raises(UsageError) as caught:
            parse_inputs([], file, SCHEMA)
        assert caught.value.message == f"{file}: inputs must be a JSON object, got array"

    def test_a_missing_inputs_file_is_a_usage_error(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError) as caught:
            parse_inputs([], tmp_path / "nope.json", SCHEMA)
        assert caught.value.message == f"{tmp_path / 'nope.json'}: no such file"

    def test_malformed_inputs_file_names_line_and_column(self, tmp_path: Path) -> None:
        file = tmp_path / "inputs.json"
        file.write_text('{\n  "n": 1,\n}')
        with pytest.raises(UsageError, match=r"invalid JSON at line 3, column 1: "):
            parse_inputs([], file, SCHEMA)

    def test_a_schema_without_properties_reads_json(self) -> None:
        assert parse_inputs(["n=1"], None, {"type": "object"}) == {"n": 1}
