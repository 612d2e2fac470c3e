"""The ``llm`` executor against a mocked OpenAI-compatible endpoint, behind the real client."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar

import httpx
import pytest
import respx

from tests.support.clock import FakeClock
from workflow_compiler.context import RunContext, RuntimeServices
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.events import CollectingSink
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.executors.llm import LlmExecutor
from workflow_compiler.executors.runner import CompiledStep, run_step
from workflow_compiler.registries.models import StaticModelProviders
from workflow_compiler.registries.tools import ToolContext, ToolRegistry
from workflow_compiler.spec import LlmNode
from workflow_compiler.tools import HttpRequestTool

SCOPE = {"inputs": {"text": "Invoice total: 1200 EUR"}}


def llm_node(**fields: Any) -> LlmNode:
    return LlmNode.model_validate(
        {"id": "ask", "type": "llm", "model": "gpt-test", "prompt": "Hi", **fields}
    )


async def invoke(node: LlmNode, run: RunContext, *, timeout_s: float | None = None) -> NodeResult:
    call = Invocation(run=run, node_id=node.id, attempt=1, scope=SCOPE, timeout_s=timeout_s)
    return await LlmExecutor(node)(call)


def completion(
    content: str | None = None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: tuple[int, int] = (10, 5),
) -> httpx.Response:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt_tokens, completion_tokens = usage
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


def tool_call(call_id: str, name: str, args: Any) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }


def api_error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message, "type": "x", "code": None}})


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    """The JSON body of a request the model endpoint received."""
    return json.loads(route.calls[index].request.content)


class AddTool:
    """A side-effect-free tool that records the contexts it was called with."""

    name = "add"
    description = "Add two integers."
    args_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    result_schema: ClassVar[dict[str, Any]] = {"type": "integer"}
    side_effecting = False

    def __init__(self) -> None:
        self.contexts: list[ToolContext] = []

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> int:
        self.contexts.append(ctx)
        return args["a"] + args["b"]


class BrokenAddTool(AddTool):
    """``add`` with a bug."""

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> int:
        raise ZeroDivisionError("division by zero")


@pytest.fixture
def add_tool() -> AddTool:
    return AddTool()


@pytest.fixture
def tool_run(services: RuntimeServices, add_tool: AddTool) -> RunContext:
    """A run whose registry holds ``add`` and the built-in ``http_request``."""
    tools = ToolRegistry([add_tool, HttpRequestTool()])
    return RunContext(run_id="run_test", services=dataclasses.replace(services, tools=tools))


class TestTextAnswer:
    async def test_prompt_and_system_are_rendered_and_the_text_is_the_output(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion("1200 EUR"))
        node = llm_node(
            system="You extract totals.",
            prompt="Extract the total from: {{ inputs.text }}",
            temperature=0.2,
            max_tokens=50,
        )

        result = await invoke(node, run)

        assert result.output == "1200 EUR"
        assert sent(chat_api) == {
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "You extract totals."},
                {"role": "user", "content": "Extract the total from: Invoice total: 1200 EUR"},
            ],
            "temperature": 0.2,
            "max_tokens": 50,
        }
        assert chat_api.calls.last.request.headers["authorization"] == "Bearer sk-test"

    async def test_messages_are_rendered_and_non_text_values_sent_as_json(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion("ok"))
        node = llm_node(
            prompt=None,
            messages=[
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi, what do you need?"},
                {"role": "user", "content": "{{ inputs }}"},
            ],
        )

        await invoke(node, run)

        assert sent(chat_api)["messages"] == [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi, what do you need?"},
            {"role": "user", "content": '{"text": "Invoice total: 1200 EUR"}'},
        ]

    async def test_the_node_timeout_bounds_the_request(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion("ok"))

        await invoke(llm_node(), run, timeout_s=12.5)

        assert chat_api.calls.last.request.extensions["timeout"] == dict.fromkeys(
            ("connect", "read", "write", "pool"), 12.5
        )

    async def test_the_providers_default_model_applies_when_the_node_names_none(
        self, services: RuntimeServices, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion("ok"))
        models = StaticModelProviders.from_env(
            {
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_BASE_URL": "https://llm.test/v1",
                "OPENAI_MODEL": "gpt-default",
            }
        )
        run = RunContext(run_id="r", services=dataclasses.replace(services, models=models))

        await invoke(llm_node(model=None), run)

        assert sent(chat_api)["model"] == "gpt-default"

    async def test_no_model_anywhere_is_a_config_error(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        with pytest.raises(NodeError) as info:
            await invoke(llm_node(model=None), run)

        assert info.value.kind is ErrorKind.CONFIG_ERROR
        assert info.value.message == (
            "llm node 'ask' names no model and provider 'openai' has no default model"
        )
        assert not chat_api.called

    async def test_a_missing_provider_key_is_a_config_error_naming_the_variable(
        self, services: RuntimeServices, chat_api: respx.Route
    ) -> None:
        models = StaticModelProviders.from_env({})
        run = RunContext(run_id="r", services=dataclasses.replace(services, models=models))

        with pytest.raises(NodeError) as info:
            await invoke(llm_node(), run)

        assert info.value.kind is ErrorKind.CONFIG_ERROR
        assert "OPENAI_API_KEY" in info.value.message
        assert not chat_api.called


class TestReportedInput:
    async def test_the_first_request_is_the_input_with_tool_names_and_secrets_masked(
        self, tool_run: RunContext, chat_api: respx.Route, events: CollectingSink
    ) -> None:
        chat_api.side_effect = [
            completion(tool_calls=[tool_call("call_1", "add", {"a": 2, "b": 3})]),
            completion("5"),
        ]
        node = llm_node(
            system="Key {{ secrets.HOOK_TOKEN }}", prompt="{{ inputs.text }}", tools=["add"]
        )

        await run_step(CompiledStep.build(node, LlmExecutor(node)), tool_run, SCOPE)

        assert events.events[-1].data["input"] == {
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "Key ***"},
                {"role": "user", "content": "Invoice total: 1200 EUR"},
            ],
            "tools": ["add"],
        }
        assert "tok-123" not in repr(events.events)


class TestJsonOutput:
    SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"total": {"type": "number"}, "currency": {"type": "string"}},
        "required": ["total"],
    }

    async def test_the_answer_is_parsed_and_the_schema_sent_as_response_format(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion('{"total": 1200, "currency": "EUR"}'))

        result = await invoke(llm_node(output_schema=self.SCHEMA), run)

        assert result.output == {"total": 1200, "currency": "EUR"}
        assert sent(chat_api)["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": self.SCHEMA, "strict": False},
        }

    async def test_invalid_json_is_a_validation_error(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion("The total is 1200"))

        with pytest.raises(NodeError) as info:
            await invoke(llm_node(output_schema=self.SCHEMA), run)

        assert info.value.kind is ErrorKind.VALIDATION_ERROR
        assert info.value.message.startswith("llm node 'ask' answered invalid JSON")
        assert "The total is 1200" in info.value.message

    async def test_a_schema_mismatch_is_a_validation_error_naming_the_path(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion('{"total": "a lot"}'))

        with pytest.raises(NodeError) as info:
            await invoke(llm_node(output_schema=self.SCHEMA), run)

        assert info.value.kind is ErrorKind.VALIDATION_ERROR
        assert info.value.retryable is False
        assert info.value.message == (
            "llm node 'ask' answered JSON that does not match output_schema: "
            "at output.total: 'a lot' is not of type 'number'"
        )

    async def test_an_empty_answer_is_a_validation_error(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=completion(None))

        with pytest.raises(NodeError) as info:
            await invoke(llm_node(output_schema=self.SCHEMA), run)

        assert info.value.kind is ErrorKind.VALIDATION_ERROR


class TestToolCalling:
    async def test_a_tool_result_goes_back_to_the_model_until_it_answers(
        self, tool_run: RunContext, add_tool: AddTool, chat_api: respx.Route
    ) -> None:
        chat_api.side_effect = [
            completion(tool_calls=[tool_call("call_1", "add", {"a": 2, "b": 3})], usage=(20, 7)),
            completion("2 + 3 = 5", usage=(30, 4)),
        ]

        result = await invoke(llm_node(prompt="What is 2 + 3?", tools=["add"]), tool_run)

        assert result.output == "2 + 3 = 5"
        assert result.usage == {"prompt_tokens": 50, "completion_tokens": 11, "total_tokens": 61}
        first = sent(chat_api, 0)
        assert first["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "add",
                    "description": "Add two integers.",
                    "parameters": AddTool.args_schema,
                },
            }
        ]
        second = sent(chat_api, 1)
        assert second["tools"] == first["tools"]
        assert second["messages"] == [
            {"role": "user", "content": "What is 2 + 3?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [tool_call("call_1", "add", {"a": 2, "b": 3})],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "5"},
        ]
        assert [ctx.idempotency_key for ctx in add_tool.contexts] == ["run_test:ask:1:call_1"]

    async def test_the_model_can_call_http_request(
        self, tool_run: RunContext, chat_api: respx.Route, mock_http: respx.MockRouter
    ) -> None:
        weather = mock_http.get("https://api.example.com/weather").mock(
            return_value=httpx.Response(200, json={"celsius": 21})
        )
        chat_api.side_effect = [
            completion(
                tool_calls=[
                    tool_call(
                        "call_w",
                        "http_request",
                        {"url": "https://api.example.com/weather", "params": {"city": "Oslo"}},
                    )
                ]
            ),
            completion("It is 21 °C in Oslo."),
        ]

        result = await invoke(llm_node(tools=["http_request"]), tool_run)

        assert result.output == "It is 21 °C in Oslo."
        request = weather.calls.last.request
        assert request.url.params["city"] == "Oslo"
        assert request.headers["idempotency-key"] == "run_test:ask:1:call_w"
        tool_message = sent(chat_api, 1)["messages"][-1]
        assert tool_message["tool_call_id"] == "call_w"
        assert json.loads(tool_message["content"]) == {
            "status": 200,
            "headers": {"content-length": "14", "content-type": "application/json"},
            "json": {"celsius": 21},
        }

    async def test_a_failing_tool_call_is_reported_to_the_model_not_the_node(
        self, tool_run: RunContext, add_tool: AddTool, chat_api: respx.Route
    ) -> None:
        chat_api.side_effect = [
            completion(
                tool_calls=[
                    tool_call("call_1", "add", {"a": 2}),
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "add", "arguments": "{"},
                    },
                    tool_call("call_3", "subtract", {"a": 2, "b": 3}),
                ]
            ),
            completion("I could not compute it."),
        ]

        result = await invoke(llm_node(tools=["add"]), tool_run)

        assert result.output == "I could not compute it."
        assert add_tool.contexts == []
        replies = [json.loads(m["content"]) for m in sent(chat_api, 1)["messages"][-3:]]
        assert [reply["error"]["kind"] for reply in replies] == ["validation_error"] * 3
        assert replies[0]["error"]["message"] == (
            "invalid args for tool 'add': at args: 'b' is a required property"
        )
        assert "not JSON" in replies[1]["error"]["message"]
        assert replies[2]["error"]["message"] == "no tool named 'subtract' is offered (add)"

    async def test_a_tool_raising_unexpectedly_is_reported_as_tool_error(
        self, tool_run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.side_effect = [
            completion(tool_calls=[tool_call("call_1", "add", {"a": 2, "b": 3})]),
            completion("Sorry."),
        ]

        tools = ToolRegistry([BrokenAddTool()])
        run = RunContext(
            run_id="run_test", services=dataclasses.replace(tool_run.services, tools=tools)
        )

        result = await invoke(llm_node(tools=["add"]), run)

        assert result.output == "Sorry."
        reply = json.loads(sent(chat_api, 1)["messages"][-1]["content"])
        assert reply == {
            "error": {"kind": "tool_error", "message": "ZeroDivisionError: division by zero"}
        }

    async def test_more_than_max_tool_steps_model_calls_is_limit_exceeded(
        self, tool_run: RunContext, add_tool: AddTool, chat_api: respx.Route
    ) -> None:
        chat_api.mock(
            return_value=completion(tool_calls=[tool_call("call_1", "add", {"a": 1, "b": 1})])
        )

        with pytest.raises(NodeError) as info:
            await invoke(llm_node(tools=["add"], max_tool_steps=3), tool_run)

        assert info.value.kind is ErrorKind.LIMIT_EXCEEDED
        assert info.value.retryable is False
        assert "max_tool_steps=3" in info.value.message
        assert chat_api.call_count == 3
        assert len(add_tool.contexts) == 2

    async def test_an_unknown_tool_is_a_config_error(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        with pytest.raises(NodeError) as info:
            await invoke(llm_node(tools=["nope"]), run)

        assert info.value.kind is ErrorKind.CONFIG_ERROR
        assert info.value.message == "llm node 'ask' offers unknown tool 'nope'"
        assert not chat_api.called


class TestProviderErrors:
    """Provider failures through the attempt loop, with the node's retry policy."""

    RETRY: ClassVar[dict[str, Any]] = {"max_attempts": 3, "initial_interval_s": 2, "jitter": False}

    async def test_429_then_success_is_retried_once(
        self,
        run: RunContext,
        chat_api: respx.Route,
        events: CollectingSink,
        clock: FakeClock,
    ) -> None:
        chat_api.side_effect = [api_error(429, "Rate limit reached"), completion("fine")]
        node = llm_node(retry=self.RETRY)

        output = await run_step(CompiledStep.build(node, LlmExecutor(node)), run, SCOPE)

        assert output == "fine"
        assert events.kinds() == ["node_started", "node_retrying", "node_started", "node_completed"]
        retrying = events.events[1]
        assert retrying.data["error"] == {
            "kind": "rate_limited",
            "message": "provider 'openai' answered 429: Rate limit reached",
        }
        assert events.events[-1].attempt == 2
        assert clock.sleeps == [2.0]
        assert chat_api.call_count == 2

    async def test_500s_fail_the_node_after_max_attempts(
        self, run: RunContext, chat_api: respx.Route, events: CollectingSink
    ) -> None:
        chat_api.mock(return_value=api_error(500, "The server had an error"))
        node = llm_node(retry=self.RETRY)

        with pytest.raises(NodeError) as info:
            await run_step(CompiledStep.build(node, LlmExecutor(node)), run, SCOPE)

        assert info.value.kind is ErrorKind.PROVIDER_ERROR
        assert chat_api.call_count == 3
        assert events.kinds().count("node_retrying") == 2
        failed = events.events[-1]
        assert (failed.kind, failed.attempt) == ("node_failed", 3)
        assert failed.data["error"]["kind"] == "provider_error"

    async def test_401_is_an_auth_error_and_not_retried(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(return_value=api_error(401, "Incorrect API key provided: sk-test."))
        node = llm_node(retry=self.RETRY)

        with pytest.raises(NodeError) as info:
            await run_step(CompiledStep.build(node, LlmExecutor(node)), run, SCOPE)

        assert info.value.kind is ErrorKind.AUTH_ERROR
        assert chat_api.call_count == 1
        assert info.value.message == (
            "provider 'openai' answered 401: Incorrect API key provided: ***."
        )

    async def test_a_read_timeout_is_a_timeout(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.side_effect = httpx.ReadTimeout("read timed out")

        with pytest.raises(NodeError) as info:
            await invoke(llm_node(), run)

        assert info.value.kind is ErrorKind.TIMEOUT
        assert info.value.retryable is True
        assert isinstance(info.value.__cause__, Exception)

    @pytest.mark.parametrize(
        ("response", "kind", "retryable"),
        [
            (api_error(400, "Invalid 'messages'"), ErrorKind.PROVIDER_ERROR, False),
            (api_error(403, "Project not allowed"), ErrorKind.AUTH_ERROR, False),
            (api_error(404, "The model does not exist"), ErrorKind.PROVIDER_ERROR, False),
            (api_error(503, "Overloaded"), ErrorKind.PROVIDER_ERROR, True),
            (httpx.Response(502, text="Bad gateway"), ErrorKind.PROVIDER_ERROR, True),
            (httpx.ConnectError("connection refused"), ErrorKind.NETWORK_ERROR, True),
        ],
    )
    async def test_each_failure_maps_to_its_kind(
        self,
        run: RunContext,
        chat_api: respx.Route,
        response: httpx.Response | Exception,
        kind: ErrorKind,
        retryable: bool,
    ) -> None:
        chat_api.side_effect = [response]

        with pytest.raises(NodeError) as info:
            await invoke(llm_node(), run)

        assert (info.value.kind, info.value.retryable) == (kind, retryable)
        if isinstance(response, httpx.Response):
            assert f"answered {response.status_code}: " in info.value.message

    async def test_neither_the_api_key_nor_a_secret_appears_in_messages(
        self, run: RunContext, chat_api: respx.Route
    ) -> None:
        chat_api.mock(
            return_value=api_error(400, "Bad request for key sk-test with prompt token tok-123")
        )
        node = llm_node(prompt="Use {{ secrets.HOOK_TOKEN }}", on_error="continue")

        output = await run_step(CompiledStep.build(node, LlmExecutor(node)), run, SCOPE)

        assert output == {
            "error": {
                "kind": "provider_error",
                "message": "provider 'openai' answered 400: "
                "Bad request for key *** with prompt token ***",
            }
        }
        assert sent(chat_api)["messages"][0]["content"] == "Use tok-123"
