"""Helpers that translate foreign failures into ``NodeError``."""

from __future__ import annotations

import httpx
import openai
import pytest

from workflow_compiler.error_mapping import (
    check_value,
    compile_schema,
    display_url,
    excerpt,
    from_openai,
    mask,
    mask_error,
    secrets_in,
)
from workflow_compiler.errors import ErrorKind, NodeError


class TestMask:
    def test_every_occurrence_is_masked_longest_secret_first(self) -> None:
        assert mask("abc abcdef abc", ["abc", "abcdef", ""]) == "*** *** ***"

    def test_an_error_is_masked_in_place(self) -> None:
        error = NodeError(ErrorKind.HTTP_ERROR, "token t-1 refused")

        assert mask_error(error, ["t-1"]) is error
        assert (error.message, str(error)) == ("token *** refused", "token *** refused")

    def test_secrets_are_read_from_the_scope(self) -> None:
        assert secrets_in({"secrets": {"A": "x", "B": 3}}) == ["x"]
        assert secrets_in({"inputs": {}}) == []


class TestCheckValue:
    def test_the_path_names_keys_and_indexes(self) -> None:
        validator = compile_schema(
            {
                "type": "object",
                "properties": {"xs": {"type": "array", "items": {"type": "integer"}}},
            }
        )

        with pytest.raises(NodeError) as info:
            check_value(validator, {"xs": [1, "two"]}, root="output", subject="bad")

        assert info.value.message == "bad: at output.xs[1]: 'two' is not of type 'integer'"

    def test_a_valid_value_passes(self) -> None:
        check_value(compile_schema({"type": "string"}), "ok", root="v", subject="bad")


class TestFromOpenai:
    def test_a_malformed_answer_is_a_provider_error(self) -> None:
        response = httpx.Response(200, request=httpx.Request("POST", "https://llm.test/v1/x"))
        exc = openai.APIResponseValidationError(response, body=None, message="bad shape k-9")

        error = from_openai(exc, provider="openai", api_key="k-9")

        assert error.kind is ErrorKind.PROVIDER_ERROR
        assert (
            error.message == "provider 'openai' failed: APIResponseValidationError: bad shape ***"
        )


class TestText:
    def test_urls_lose_query_fragment_and_user_info(self) -> None:
        url = httpx.URL("https://u:p@api.example.com:8443/a/b?key=1#top")

        assert display_url(url) == "https://api.example.com:8443/a/b"

    def test_excerpts_are_stripped_and_cut_at_200_characters(self) -> None:
        assert excerpt("  short \n") == "short"
        assert excerpt("x" * 201) == "x" * 200 + "…"
