"""The ``tool`` node: a registry tool called with rendered ``args``."""

from __future__ import annotations

from workflow_compiler.error_mapping import check_value, compile_schema, mask_error, secrets_in
from workflow_compiler.errors import ErrorKind, NodeError
from workflow_compiler.executors.base import Invocation, NodeResult
from workflow_compiler.expressions import compile_value
from workflow_compiler.registries.tools import Tool, ToolContext, ToolRegistry
from workflow_compiler.spec import ToolNode


class ToolExecutor:
    """Renders ``args``, checks them against the tool's ``args_schema``, calls the tool.

    The tool is looked up per call, in the run's registry, rather than when the executor is
    built: compiled specs are cached across runs, and each run brings its own services.
    """

    def __init__(self, node: ToolNode) -> None:
        self._node_id = node.id
        self._tool_name = node.tool
        self._args = compile_value(node.args)

    async def __call__(self, call: Invocation) -> NodeResult:
        """Run the tool once.

        Raises:
            NodeError: ``config_error`` for an unknown tool, ``validation_error`` for args that
                fail the schema, or whatever the tool raised. Secret values the node read are
                masked in the message, since it may end up in events and outputs.
        """
        try:
            tool = self._tool(call.run.services.tools)
            args = self._args(call.scope)
            call.trace.input = args
            check_value(
                compile_schema(tool.args_schema),
                args,
                root="args",
                subject=f"invalid args for tool '{tool.name}'",
            )
            output = await tool(
                args,
                ToolContext(
                    run_id=call.run.run_id,
                    node_id=call.node_id,
                    idempotency_key=call.idempotency_key,
                    http=call.run.services.http,
                    timeout_s=call.timeout_s,
                ),
            )
        except NodeError as error:
            mask_error(error, secrets_in(call.scope))
            raise
        return NodeResult(output=output)

    def _tool(self, tools: ToolRegistry) -> Tool:
        tool = tools.get(self._tool_name)
        if tool is None:
            known = ", ".join(tools.names()) or "none"
            raise NodeError(
                ErrorKind.CONFIG_ERROR,
                f"tool node '{self._node_id}' uses unknown tool '{self._tool_name}' "
                f"(registered: {known})",
            )
        return tool
