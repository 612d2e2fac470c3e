"""The ``tool`` executor: rendered args, schema checks, idempotency keys, retries."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

import httpx
import pytest
import respx

from workflow_compiler.context import RunContext
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import CollectingSink
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.executors.runner import CompiledStep, run_step
from workflow_compiler.executors.tool import ToolExecutor
from workflow_compiler.registries.tools import ToolContext, ToolRegistry
from workflow_compiler.spec import ToolNode

HOOK = "https://hooks.example.com/x"
SCOPE = {"inputs": {"total": 1200}, "nodes": {}}
HOOK_ARGS = {
    "method": "POST",
    "url": HOOK,
    "headers": {"Authorization": "Bearer {{ secrets.HOOK_TOKEN }}"},
    "json": {"total": "{{ inputs.total }}"},
}


def tool_node(**fields: Any) -> ToolNode:
    return ToolNode.model_validate(
        {"id": "notify", "type": "tool", "tool": "http_request", **fields}
    )


async def invoke(node: ToolNode, run: RunContext, scope: dict[str, Any] = SCOPE) -> NodeResult:
    call = Invocation(run=run, node_id=node.id, attempt=1, scope=scope, timeout_s=None)
    return await ToolExecutor(node)(call)


async def execute(node: ToolNode, run: RunContext) -> Any:
    """The node through the attempt loop, secrets and retries included."""
    return await run_step(CompiledStep.build(node, ToolExecutor(node)), run, SCOPE)


class RefusingTool:
    """Fails with a ``NodeError`` of its own, which must reach the runner unchanged."""

    name = "refuse"
    description = "Always refuses."
    args_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    result_schema = None
    side_effecting = False

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> Any:
        raise NodeError(ErrorKind.AUTH_ERROR, "the vault said no")


class TestCall:
    async def test_rendered_args_go_to_the_tool_and_its_result_is_the_output(
        self, run: RunContext, mock_http: respx.MockRouter
    ) -> None:
        hook = mock_http.post(HOOK).mock(return_value=httpx.Response(202, json={"queued": True}))
        node = tool_node(args=HOOK_ARGS)

        output = await execute(node, run)

        assert output["status"] == 202
        assert output["json"] == {"queued": True}
        request = hook.calls.last.request
        assert request.headers["authorization"] == "Bearer tok-123"
        assert request.headers["idempotency-key"] == "run_test:notify:1"
        assert json.loads(request.content) == {"total": 1200}

    async def test_the_rendered_args_are_the_steps_input_with_secrets_masked(
        self, run: RunContext, mock_http: respx.MockRouter, events: CollectingSink
    ) -> None:
        mock_http.post(HOOK).mock(return_value=httpx.Response(202, json={}))
        node = tool_node(args=HOOK_ARGS)

        await execute(node, run)

        completed = events.events[-1]
        assert completed.data["input"] == {
            "method": "POST",
            "url": HOOK,
            "headers": {"Authorization": "Bearer ***"},
            "json": {"total": 1200},
        }
        assert "tok-123" not in repr(events.events)

    async def test_args_that_fail_the_schema_are_still_reported_as_input(
        self, run: RunContext, events: CollectingSink
    ) -> None:
        node = tool_node(args={"method": "FETCH", "url": "{{ secrets.HOOK_TOKEN }}"})

        with pytest.raises(NodeError):
            await execute(node, run)

        failed = events.events[-1]
        assert failed.kind == "node_failed"
        assert failed.data["input"] == {"method": "FETCH", "url": "***"}

    async def test_an_unknown_tool_is_a_config_error(self, run: RunContext) -> None:
        with pytest.raises(NodeError) as info:
            await invoke(tool_node(tool="send_fax"), run)

        assert info.value.kind is ErrorKind.CONFIG_ERROR
        assert info.value.message == (
            "tool node 'notify' uses unknown tool 'send_fax' (registered: http_request)"
        )

    async def test_a_node_error_from_the_tool_passes_through(self, run: RunContext) -> None:
        tools = ToolRegistry([RefusingTool()])
        run = RunContext(run_id="r", services=dataclasses.replace(run.services, tools=tools))

        with pytest.raises(NodeError) as info:
            await invoke(tool_node(tool="refuse"), run)

        assert (info.value.kind, info.value.message) == (ErrorKind.AUTH_ERROR, "the vault said no")


class TestArgsValidation:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                {"method": "FETCH", "url": HOOK},
                "at args.method: 'FETCH' is not one of "
                "['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']",
            ),
            ({"method": "GET"}, "at args: 'url' is a required property"),
            (
                {"url": "ftp://files.example.com/a"},
                "at args.url: 'ftp://files.example.com/a' does not match",
            ),
            (
                {"url": HOOK, "headers": {"X-Count": 3}},
                "at args.headers.X-Count: 3 is not of type 'string'",
            ),
            ({"url": HOOK, "timeout_s": 0}, "at args.timeout_s: 0 is less than or equal"),
        ],
    )
    async def test_invalid_args_are_a_validation_error_naming_the_path(
        self, run: RunContext, mock_http: respx.MockRouter, args: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(NodeError) as info:
            await invoke(tool_node(args=args), run)

        assert info.value.kind is ErrorKind.VALIDATION_ERROR
        assert info.value.retryable is False
        assert info.value.message.startswith(f"invalid args for tool 'http_request': {message}")
        assert not mock_http.calls

    async def test_a_secret_in_a_rejected_value_is_masked(self, run: RunContext) -> None:
        node = tool_node(args={"url": "{{ secrets.HOOK_TOKEN }}"})

        with pytest.raises(NodeError) as info:
            await execute(node, run)

        assert info.value.message.startswith(
            "invalid args for tool 'http_request': at args.url: '***' does not match"
        )


class TestHttpFailures:
    """``http_request`` failures through the attempt loop."""

    RETRY: ClassVar[dict[str, Any]] = {"max_attempts": 3, "jitter": False}

    async def test_each_attempt_sends_its_own_idempotency_key(
        self, run: RunContext, mock_http: respx.MockRouter, events: CollectingSink
    ) -> None:
        hook = mock_http.post(HOOK)
        hook.side_effect = [httpx.Response(503, text="busy"), httpx.Response(200, json={})]
        node = tool_node(args={"method": "POST", "url": HOOK}, retry=self.RETRY)

        output = await execute(node, run)

        assert output == {
            "status": 200,
            "headers": {"content-length": "2", "content-type": "application/json"},
            "json": {},
        }
        keys = [call.request.headers["idempotency-key"] for call in hook.calls]
        assert keys == ["run_test:notify:1", "run_test:notify:2"]
        assert events.kinds() == ["node_started", "node_retrying", "node_started", "node_completed"]
        assert events.events[1].data["error"] == {
            "kind": "http_error",
            "message": f"POST {HOOK} answered 503: busy",
        }

    async def test_404_is_an_http_error_and_not_retried(
        self, run: RunContext, mock_http: respx.MockRouter
    ) -> None:
        hook = mock_http.post(HOOK).mock(return_value=httpx.Response(404, text="no such hook"))
        node = tool_node(args={"method": "POST", "url": HOOK}, retry=self.RETRY)

        with pytest.raises(NodeError) as info:
            await execute(node, run)

        assert info.value.kind is ErrorKind.HTTP_ERROR
        assert info.value.message == f"POST {HOOK} answered 404: no such hook"
        assert hook.call_count == 1

    async def test_a_secret_echoed_by_the_server_is_masked(
        self, run: RunContext, mock_http: respx.MockRouter
    ) -> None:
        mock_http.post(HOOK).mock(return_value=httpx.Response(401, text="bad token tok-123"))
        node = tool_node(
            args={
                "method": "POST",
                "url": HOOK,
                "headers": {"Authorization": "Bearer {{ secrets.HOOK_TOKEN }}"},
            },
            on_error="continue",
        )

        output = await execute(node, run)

        assert output == {
            "error": {"kind": "http_error", "message": f"POST {HOOK} answered 401: bad token ***"}
        }
