"""Built-in tools, registered by ``workflow_compiler.registries.builtin``."""

from workflow_compiler.tools.http_request import HttpRequestTool

__all__ = ["HttpRequestTool"]
