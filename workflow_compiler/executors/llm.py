"""The ``llm`` node: a chat completion, optional JSON output, and a tool-calling loop.

Any OpenAI-compatible endpoint works: the provider registry hands out an ``AsyncOpenAI``
client built with ``max_retries=0``, because retrying is the node's retry policy's job (one
policy, visible in events, with the attempt in the idempotency key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessage

from workflow_compiler.error_mapping import (
    check_value,
    compile_schema,
    excerpt,
    from_openai,
    mask_error,
    secrets_in,
)
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.executors._tool_calls import ToolBelt
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.expressions import Renderer, compile_value
from workflow_compiler.registries.models import ProviderHandle
from workflow_compiler.spec import LlmNode

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


class LlmExecutor:
    """Calls the node's model until it answers without asking for tools.

    Output: the answer's text, or with ``output_schema`` the parsed JSON object, validated.
    Usage: token counts summed over every model call of the attempt.
    """

    def __init__(self, node: LlmNode) -> None:
        self._node = node
        self._messages = _compile_messages(node)
        self._output_validator = (
            compile_schema(node.output_schema) if node.output_schema is not None else None
        )

    async def __call__(self, call: Invocation) -> NodeResult:
        """Run one attempt: render the messages, converse, parse the answer.

        Raises:
            NodeError: ``config_error`` (no provider, model or tool), a mapped provider
                failure (see ``workflow_compiler.error_mapping``), ``validation_error`` for an
                answer that is not the JSON the schema asks for, ``limit_exceeded`` when the
                model still calls tools after ``max_tool_steps`` calls.
        """
        try:
            return await self._converse(call)
        except NodeError as error:
            mask_error(error, secrets_in(call.scope))
            raise

    async def _converse(self, call: Invocation) -> NodeResult:
        node = self._node
        services = call.run.services
        handle = services.models.get(node.provider)
        belt = ToolBelt.resolve(node.id, node.tools, services.tools)
        request = self._request(self._model(handle), call)
        messages = [
            {"role": role, "content": _as_text(content(call.scope))}
            for role, content in self._messages
        ]
        call.trace.input = _reported_input(request, messages, list(belt.tools))
        if belt.specs:
            request["tools"] = belt.specs
        usage = dict.fromkeys(USAGE_KEYS, 0)
        for step in range(1, node.max_tool_steps + 1):
            completion = await _complete(handle, messages, request)
            _add_usage(usage, completion)
            message = _first_message(completion, handle.name)
            if not (belt.specs and message.tool_calls):
                return NodeResult(output=self._output(message), usage=usage)
            if step == node.max_tool_steps:
                break
            messages.append(_assistant_turn(message))
            for tool_call in message.tool_calls:
                messages.append(await belt.run(tool_call, call))
        raise NodeError(
            ErrorKind.LIMIT_EXCEEDED,
            f"llm node '{node.id}' still called tools after max_tool_steps="
            f"{node.max_tool_steps} model calls",
        )

    def _model(self, handle: ProviderHandle) -> str:
        model = self._node.model or handle.default_model
        if model is None:
            raise NodeError(
                ErrorKind.CONFIG_ERROR,
                f"llm node '{self._node.id}' names no model and provider '{handle.name}' "
                "has no default model",
            )
        return model

    def _request(self, model: str, call: Invocation) -> dict[str, Any]:
        """Keyword arguments of every completion call, except the messages."""
        node = self._node
        request: dict[str, Any] = {"model": model}
        if node.temperature is not None:
            request["temperature"] = node.temperature
        if node.max_tokens is not None:
            request["max_tokens"] = node.max_tokens
        if call.timeout_s is not None:
            request["timeout"] = call.timeout_s
        if node.output_schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": node.output_schema, "strict": False},
            }
        return request

    def _output(self, message: ChatCompletionMessage) -> Any:
        content = message.content
        if self._output_validator is None:
            return content or ""
        subject = f"llm node '{self._node.id}' answered"
        if not content:
            raise NodeError(ErrorKind.VALIDATION_ERROR, f"{subject} no content, expected JSON")
        try:
            output = json.loads(content)
        except ValueError as exc:
            raise NodeError(
                ErrorKind.VALIDATION_ERROR, f"{subject} invalid JSON ({exc}): {excerpt(content)}"
            ) from exc
        check_value(
            self._output_validator,
            output,
            root="output",
            subject=f"{subject} JSON that does not match output_schema",
        )
        return output


def _compile_messages(node: LlmNode) -> list[tuple[str, Renderer]]:
    """``system`` then ``prompt`` as a user message, or ``system`` then ``messages``."""
    messages: list[tuple[str, Renderer]] = []
    if node.system is not None:
        messages.append(("system", compile_value(node.system)))
    if node.prompt is not None:
        messages.append(("user", compile_value(node.prompt)))
    messages.extend((m.role, compile_value(m.content)) for m in node.messages or [])
    return messages


def _reported_input(
    request: Mapping[str, Any], messages: list[dict[str, Any]], tools: list[str]
) -> dict[str, Any]:
    """What the first model call sends, as the step's input: the request without its client
    timeout, the messages (a copy: tool turns are appended later), and the tools by name."""
    reported = {key: value for key, value in request.items() if key != "timeout"}
    reported["messages"] = list(messages)
    if tools:
        reported["tools"] = tools
    return reported


def _as_text(value: Any) -> str:
    """A rendered message: a single-expression template may yield a non-string, sent as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


async def _complete(
    handle: ProviderHandle, messages: list[dict[str, Any]], request: Mapping[str, Any]
) -> ChatCompletion:
    try:
        return await handle.client.chat.completions.create(messages=messages, **request)
    except openai.OpenAIError as exc:
        raise from_openai(exc, provider=handle.name, api_key=handle.client.api_key) from exc


def _first_message(completion: ChatCompletion, provider: str) -> ChatCompletionMessage:
    if not completion.choices:
        raise NodeError(ErrorKind.PROVIDER_ERROR, f"provider '{provider}' answered no choices")
    return completion.choices[0].message


def _add_usage(usage: dict[str, int], completion: ChatCompletion) -> None:
    if completion.usage is None:
        return
    for key in USAGE_KEYS:
        usage[key] += getattr(completion.usage, key) or 0


def _assistant_turn(message: ChatCompletionMessage) -> dict[str, Any]:
    """The assistant message that asked for tools, as the next request must repeat it."""
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            tool_call.model_dump(exclude_none=True) for tool_call in message.tool_calls or []
        ],
    }
