"""The ``human`` node: ask a person through LangGraph's ``interrupt()``, validate the answer.

The run pauses with the payload ``{"node_id", "prompt", "schema"}``; the caller resumes it with
the answer (``Command(resume=...)``). LangGraph re-runs the node on resume and replays every
answer given so far, in order, to the successive ``interrupt()`` calls. An answer that fails
``schema`` is not a node failure: the node interrupts again with an ``error`` field added, so
the person is asked again, and the rejected answer stays in the replayed history.
"""

from __future__ import annotations

import json
from typing import Any

from langgraph.types import interrupt

from workflow_compiler.error_mapping import check_value, compile_schema, mask, secrets_in
from workflow_compiler.errors import NodeError
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.expressions import compile_value
from workflow_compiler.spec import HumanNode


class HumanExecutor:
    """Renders the prompt, interrupts until an answer passes the schema, returns the answer."""

    def __init__(self, node: HumanNode) -> None:
        self._node_id = node.id
        self._prompt = compile_value(node.prompt)
        self._schema = node.schema_
        self._validator = compile_schema(node.schema_)

    async def __call__(self, call: Invocation) -> NodeResult:
        request = {
            "node_id": self._node_id,
            "prompt": self._render_prompt(call),
            "schema": self._schema,
        }
        call.trace.input = {"prompt": request["prompt"]}
        while True:
            answer = interrupt(request)
            try:
                check_value(
                    self._validator,
                    answer,
                    root="answer",
                    subject=f"invalid answer for '{self._node_id}'",
                )
            except NodeError as error:
                request = {**request, "error": error.message}
                continue
            return NodeResult(output=answer)

    def _render_prompt(self, call: Invocation) -> str:
        """The prompt as text, with secret values masked: the interrupt payload is stored in
        checkpoints and shown to people."""
        value: Any = self._prompt(call.scope)
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return mask(text, secrets_in(call.scope))
