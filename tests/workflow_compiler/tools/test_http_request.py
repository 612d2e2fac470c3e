"""The built-in ``http_request`` tool, called directly on a mocked transport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from workflow_compiler.error_mapping import check_value, compile_schema
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.registries.tools import Tool, ToolContext
from workflow_compiler.tools import HttpRequestTool

API = "https://api.example.com"


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API) as router:
        yield router


@pytest.fixture
def ctx(http: httpx.AsyncClient) -> ToolContext:
    return ToolContext(
        run_id="run_1", node_id="fetch", idempotency_key="run_1:fetch:1", http=http, timeout_s=None
    )


async def call(args: dict[str, Any], ctx: ToolContext) -> Any:
    tool = HttpRequestTool()
    check_value(compile_schema(tool.args_schema), args, root="args", subject="args")
    return await tool(args, ctx)


class TestDeclaration:
    def test_it_is_a_side_effecting_tool_with_a_result_schema(self) -> None:
        tool = HttpRequestTool()

        assert isinstance(tool, Tool)
        assert tool.name == "http_request"
        assert tool.side_effecting is True
        assert tool.args_schema["required"] == ["url"]
        assert tool.result_schema["properties"]["status"] == {"type": "integer"}

    @pytest.mark.parametrize(
        "result",
        [
            {"status": 200, "headers": {"a": "b"}, "json": [1, {"x": None}]},
            {"status": 204, "headers": {}, "text": ""},
        ],
    )
    def test_results_satisfy_the_declared_schema(self, result: dict[str, Any]) -> None:
        check_value(
            compile_schema(HttpRequestTool.result_schema), result, root="result", subject="r"
        )


class TestRequest:
    async def test_get_returns_status_lowercased_headers_and_parsed_json(
        self, ctx: ToolContext, mock_http: respx.MockRouter
    ) -> None:
        route = mock_http.get("/items").mock(
            return_value=httpx.Response(
                200, json={"items": [1, 2]}, headers={"X-Request-Id": "req-9"}
            )
        )

        result = await call({"url": f"{API}/items", "params": {"page": 2, "tag": ["a", "b"]}}, ctx)

        assert result == {
            "status": 200,
            "headers": {
                "x-request-id": "req-9",
                "content-length": "15",
                "content-type": "application/json",
            },
            "json": {"items": [1, 2]},
        }
        request = route.calls.last.request
        assert request.method == "GET"
        assert str(request.url) == f"{API}/items?page=2&tag=a&tag=b"
        assert request.headers["idempotency-key"] == "run_1:fetch:1"

    async def test_post_sends_the_json_body(
        self, ctx: ToolContext, mock_http: respx.MockRouter
    ) -> None:
        route = mock_http.post("/orders").mock(return_value=httpx.Response(201, json={"id": 7}))

        result = await call(
            {"method": "POST", "url": f"{API}/orders", "json": {"total": 1200, "lines": []}}, ctx
        )

        assert result["status"] == 201
        assert result["json"] == {"id": 7}
        request = route.calls.last.request
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == {"total": 1200, "lines": []}

    async def test_a_non_json_response_is_returned_as_text(
        self, ctx: ToolContext, mock_http: respx.MockRouter
    ) -> None:
        mock_http.get("/page").mock(return_value=httpx.Response(200, text="<h1>hello</h1>"))

        result = await call({"url": f"{API}/page"}, ctx)

        assert result["text"] == "<h1>hello</h1>"
        assert "json" not in result

    @pytest.mark.parametrize(
        ("content_type", "body", "expected"),
        [
            ("application/problem+json; charset=utf-8", b'{"a": 1}', {"json": {"a": 1}}),
            ("application/json", b"not json", {"text": "not json"}),
            ("application/json", b"", {"text": ""}),
        ],
    )
    async def test_json_is_parsed_only_when_declared_and_well_formed(
        self,
        ctx: ToolContext,
        mock_http: respx.MockRouter,
        content_type: str,
        body: bytes,
        expected: dict[str, Any],
    ) -> None:
        mock_http.get("/x").mock(
            return_value=httpx.Response(200, content=body, headers={"Content-Type": content_type})
        )

        result = await call({"url": f"{API}/x"}, ctx)

        assert {k: v for k, v in result.items() if k in ("json", "text")} == expected

    async def test_an_idempotency_key_set_by_the_spec_is_kept(
        self, ctx: ToolContext, mock_http: respx.MockRouter
    ) -> None:
        route = mock_http.put("/doc").mock(return_value=httpx.Response(204))

        await call(
            {"method": "PUT", "url": f"{API}/doc", "headers": {"idempotency-key": "mine"}}, ctx
        )

        assert route.calls.last.request.headers.get_list("idempotency-key") == ["mine"]

    @pytest.mark.parametrize(
        ("requested", "node_bound", "expected"),
        [(3.0, None, 3.0), (None, 8.0, 8.0), (3.0, 8.0, 3.0), (20.0, 8.0, 8.0)],
    )
    async def test_the_tighter_timeout_applies(
        self,
        http: httpx.AsyncClient,
        mock_http: respx.MockRouter,
        requested: float | None,
        node_bound: float | None,
        expected: float,
    ) -> None:
        route = mock_http.get("/slow").mock(return_value=httpx.Response(200))
        ctx = ToolContext(
            run_id="r", node_id="n", idempotency_key="r:n:1", http=http, timeout_s=node_bound
        )
        args: dict[str, Any] = {"url": f"{API}/slow"}
        if requested is not None:
            args["timeout_s"] = requested

        await call(args, ctx)

        timeouts = route.calls.last.request.extensions["timeout"]
        assert timeouts == dict.fromkeys(("connect", "read", "write", "pool"), expected)


class TestFailures:
    @pytest.mark.parametrize(
        ("status", "kind", "retryable"),
        [
            (404, ErrorKind.HTTP_ERROR, False),
            (400, ErrorKind.HTTP_ERROR, False),
            (401, ErrorKind.HTTP_ERROR, False),
            (429, ErrorKind.RATE_LIMITED, True),
            (500, ErrorKind.HTTP_ERROR, True),
            (503, ErrorKind.HTTP_ERROR, True),
        ],
    )
    async def test_error_statuses_are_classified(
        self,
        ctx: ToolContext,
        mock_http: respx.MockRouter,
        status: int,
        kind: ErrorKind,
        retryable: bool,
    ) -> None:
        mock_http.delete("/items/1").mock(return_value=httpx.Response(status, text="nope"))

        with pytest.raises(NodeError) as info:
            await call({"method": "DELETE", "url": f"{API}/items/1"}, ctx)

        assert (info.value.kind, info.value.retryable) == (kind, retryable)
        assert info.value.message == f"DELETE {API}/items/1 answered {status}: nope"

    async def test_messages_quote_200_characters_and_hide_the_query_and_user_info(
        self, ctx: ToolContext, mock_http: respx.MockRouter
    ) -> None:
        mock_http.get("/search").mock(return_value=httpx.Response(422, text="e" * 500))

        with pytest.raises(NodeError) as info:
            await call({"url": "https://me:pw@api.example.com/search?api_key=k-1"}, ctx)

        assert info.value.message == f"GET {API}/search answered 422: {'e' * 200}…"

    @pytest.mark.parametrize(
        ("failure", "kind"),
        [
            (httpx.ConnectError("connection refused"), ErrorKind.NETWORK_ERROR),
            (httpx.RemoteProtocolError("peer closed"), ErrorKind.NETWORK_ERROR),
            (httpx.ConnectTimeout("connect timed out"), ErrorKind.TIMEOUT),
            (httpx.ReadTimeout("read timed out"), ErrorKind.TIMEOUT),
        ],
    )
    async def test_transport_failures_are_classified_and_retryable(
        self, ctx: ToolContext, mock_http: respx.MockRouter, failure: Exception, kind: ErrorKind
    ) -> None:
        mock_http.get("/items").mock(side_effect=failure)

        with pytest.raises(NodeError) as info:
            await call({"url": f"{API}/items"}, ctx)

        assert info.value.kind is kind
        assert info.value.retryable is True
        assert info.value.message.startswith(f"GET {API}/items ")
        assert info.value.__cause__ is failure

    async def test_other_request_errors_are_not_retried(
        self, ctx: ToolContext, mock_http: respx.MockRouter
    ) -> None:
        mock_http.get("/loop").mock(side_effect=httpx.TooManyRedirects("too many redirects"))

        with pytest.raises(NodeError) as info:
            await call({"url": f"{API}/loop"}, ctx)

        assert (info.value.kind, info.value.retryable) == (ErrorKind.HTTP_ERROR, False)
