"""``plait validate``: ok with warnings, every error with its path, unusable files."""

from __future__ import annotations

from pathlib import Path

from tests.api.cli.conftest import CliRunner, SpecWriter

VALID = {"version": "1", "nodes": [{"id": "a", "type": "set", "value": 1}]}


class TestValidate:
    def test_a_valid_spec_prints_ok(self, cli: CliRunner, write_spec: SpecWriter) -> None:
        result = cli("validate", str(write_spec(VALID)))
        assert (result.code, result.out, result.err) == (0, "ok\n", "")

    def test_warnings_come_before_ok_and_do_not_fail(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        spec = {
            "version": "1",
            "nodes": [
                {
                    "id": "pick",
                    "type": "if",
                    "condition": "true",
                    "then": [{"id": "a", "type": "set", "value": 1}],
                },
                {"id": "b", "type": "set", "value": "{{ nodes.a.output }}"},
            ],
        }
        result = cli("validate", str(write_spec(spec)))
        assert result.code == 0
        warning, ok = result.out.splitlines()
        assert warning.startswith("nodes[1].value: warning: node 'a' may not have run here")
        assert ok == "ok"

    def test_every_error_is_listed_with_its_path(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        spec = {
            "version": "1",
            "nodes": [
                {"id": "a", "type": "set", "value": "{{ nodes.later.output }}"},
                {"id": "a", "type": "tool", "tool": "send_fax"},
                {"id": "later", "type": "set", "value": "{{ inputs.x | nosuchfilter }}"},
            ],
        }
        result = cli("validate", str(write_spec(spec)))
        assert result.code == 1
        assert result.out.splitlines() == [
            "nodes[1].id: duplicate node id 'a' (first used at nodes[0])",
            "nodes[1].tool: unknown tool 'send_fax' (known: http_request)",
            "nodes[0].value: node 'later' does not run before this point",
            "nodes[2].value: unknown filter 'nosuchfilter'",
        ]
        assert "Traceback" not in result.err

    def test_a_structural_error_points_into_the_document(
        self, cli: CliRunner, write_spec: SpecWriter
    ) -> None:
        spec = {
            "version": "1",
            "nodes": [
                {
                    "id": "x",
                    "type": "if",
                    "condition": "true",
                    "then": [{"id": "y", "type": "sleep"}],
                }
            ],
        }
        result = cli("validate", str(write_spec(spec)))
        assert result.code == 1
        assert result.out.startswith("nodes[0].then[0].type: unknown node type 'sleep'")

    def test_a_missing_file_is_one_line(self, cli: CliRunner, tmp_path: Path) -> None:
        result = cli("validate", str(tmp_path / "nope.json"))
        assert (result.code, result.out) == (1, "")
        assert result.err == f"error: {tmp_path / 'nope.json'}: no such file\n"

    def test_malformed_json_names_line_and_column(self, cli: CliRunner, tmp_path: Path) -> None:
        path = tmp_path / "bad.json"
        path.write_text('{\n  "version": "1",\n  "nodes": [,]\n}')
        result = cli("validate", str(path))
        assert result.code == 1
        assert result.err == (
            f"error: {path}: invalid JSON at line 3, column 13: Expecting value\n"
        )

    def test_a_spec_must_be_an_object(self, cli: CliRunner, tmp_path: Path) -> None:
        path = tmp_path / "list.json"
        path.write_text("[]")
        result = cli("validate", str(path))
        assert result.code == 1
        assert result.err == f"error: {path}: a spec must be a JSON object, got array\n"

    def test_a_directory_is_not_a_spec(self, cli: CliRunner, tmp_path: Path) -> None:
        result = cli("validate", str(tmp_path))
        assert result.code == 1
        assert result.err == f"error: {tmp_path}: is a directory, not a JSON file\n"

    def test_a_file_that_is_not_text_is_one_line(self, cli: CliRunner, tmp_path: Path) -> None:
        path = tmp_path / "spec.json"
        path.write_bytes(b"\xff\xfe{}")
        result = cli("validate", str(path))
        assert (result.code, result.err) == (1, f"error: {path}: not UTF-8 text\n")
