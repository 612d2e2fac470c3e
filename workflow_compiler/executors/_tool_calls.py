"""The tools an ``llm`` node offers its model, and how one requested call is carried out."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openai.types.chat import ChatCompletionMessageFunctionToolCall

from workflow_compiler.error_mapping import check_value, compile_schema
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.executors.base import Invocation
from workflow_compiler.registries.tools import Tool, ToolContext, ToolRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ToolBelt:
    """The registry tools named by a node, and their OpenAI function definitions."""

    tools: Mapping[str, Tool]
    specs: list[dict[str, Any]]
    """``tools`` of the completion request; empty when the node offers none."""

    @classmethod
    def resolve(cls, node_id: str, names: list[str], registry: ToolRegistry) -> ToolBelt:
        """Look the names up in the run's registry.

        Raises:
            NodeError: ``config_error`` naming the first tool that is not registered.
        """
        tools: dict[str, Tool] = {}
        for name in names:
            tool = registry.get(name)
            if tool is None:
                raise NodeError(
                    ErrorKind.CONFIG_ERROR, f"llm node '{node_id}' offers unknown tool '{name}'"
                )
            tools[name] = tool
        specs = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": dict(tool.args_schema),
                },
            }
            for tool in tools.values()
        ]
        return cls(tools, specs)

    async def run(self, tool_call: Any, call: Invocation) -> dict[str, Any]:
        """Carry out one call the model asked for; the ``role: tool`` message answering it.

        A failing call (unknown tool, arguments that are not JSON or fail the schema, a tool
        that raises) is answered with ``{"error": {"kind", "message"}}`` instead of failing
        the node: the model can read the error and correct its arguments or do without, and
        the conversation so far is not thrown away. The node still fails on provider errors,
        and the ``max_tool_steps`` bound stops a model that keeps trying.

        Calls run one after another, in the order the model listed them, so side effects
        happen in a predictable order.
        """
        try:
            result = await self._call(tool_call, call)
        except NodeError as error:
            result = {"error": error.to_dict()}
        except Exception as exc:
            logger.warning(
                "tool call %s of node %s raised", tool_call.id, call.node_id, exc_info=True
            )
            result = {
                "error": {
                    "kind": ErrorKind.TOOL_ERROR.value,
                    "message": f"{type(exc).__name__}: {exc}",
                }
            }
        return {
            "role": "tool",
            "tool_call_id": tool_call.id,
            "content": json.dumps(result, ensure_ascii=False, default=str),
        }

    async def _call(self, tool_call: Any, call: Invocation) -> Any:
        if not isinstance(tool_call, ChatCompletionMessageFunctionToolCall):
            raise NodeError(ErrorKind.VALIDATION_ERROR, "only function tools are offered")
        name = tool_call.function.name
        tool = self.tools.get(name)
        if tool is None:
            offered = ", ".join(self.tools)
            raise NodeError(
                ErrorKind.VALIDATION_ERROR, f"no tool named '{name}' is offered ({offered})"
            )
        try:
            args = json.loads(tool_call.function.arguments or "{}")
        except ValueError as exc:
            raise NodeError(
                ErrorKind.VALIDATION_ERROR, f"arguments of '{name}' are not JSON: {exc}"
            ) from exc
        subject = f"invalid args for tool '{name}'"
        if not isinstance(args, dict):
            raise NodeError(ErrorKind.VALIDATION_ERROR, f"{subject}: arguments must be an object")
        check_value(compile_schema(tool.args_schema), args, root="args", subject=subject)
        context = ToolContext(
            run_id=call.run.run_id,
            node_id=call.node_id,
            idempotency_key=f"{call.idempotency_key}:{tool_call.id}",
            http=call.run.services.http,
            timeout_s=call.timeout_s,
        )
        return await tool(args, context)
