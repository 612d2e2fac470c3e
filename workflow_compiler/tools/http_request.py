"""The built-in ``http_request`` tool: one HTTP request on the shared httpx client."""

from __future__ import annotations

import json
from typing import Any

import httpx

from workflow_compiler.error_mapping import from_http_response, from_httpx
from workflow_compiler.registries.tools import ToolContext

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

_SCALAR = {"type": ["string", "number", "boolean"]}

ARGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "method": {"type": "string", "enum": list(METHODS), "default": "GET"},
        "url": {"type": "string", "pattern": "^https?://[^/?#]+"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "params": {
            "type": "object",
            "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]},
        },
        "json": {},
        "timeout_s": {"type": "number", "exclusiveMinimum": 0},
    },
    "required": ["url"],
    "additionalProperties": False,
}
"""Arguments: ``url`` (http or https) is required, ``method`` defaults to GET."""

RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "json": {},
        "text": {"type": "string"},
    },
    "required": ["status", "headers"],
}
"""``json`` when the response declares a JSON media type and parses, else ``text``."""

IDEMPOTENCY_HEADER = "Idempotency-Key"


class HttpRequestTool:
    """Sends one request and returns ``{status, headers, json | text}``.

    Every request carries the attempt's idempotency key (``Invocation.idempotency_key``:
    ``run_id:node_id:execution:attempt``) as ``Idempotency-Key`` (unless the spec set
    the header), so a server that honours the header applies an attempt at most once even
    when the network makes us unsure whether it arrived.

    Answers of 400 and above raise ``NodeError`` (see ``workflow_compiler.error_mapping``);
    anything below, a redirect included (redirects are not followed), is a result the
    workflow can branch on.
    """

    name = "http_request"
    description = (
        "Send an HTTP request. Arguments: method (GET, POST, PUT, PATCH, DELETE, HEAD; "
        "default GET), url, headers, params (query string), json (request body), timeout_s. "
        "Returns the status, the response headers, and the body as json or text."
    )
    args_schema = ARGS_SCHEMA
    result_schema = RESULT_SCHEMA
    side_effecting = True

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Send the request described by ``args`` (already validated against the schema).

        Raises:
            NodeError: transport failure, timeout, or a 4xx/5xx answer.
        """
        headers = httpx.Headers(args.get("headers") or {})
        headers.setdefault(IDEMPOTENCY_HEADER, ctx.idempotency_key)
        request = ctx.http.build_request(
            args.get("method", "GET"),
            args["url"],
            headers=headers,
            params=args.get("params"),
            json=args.get("json"),
            timeout=_timeout(args.get("timeout_s"), ctx.timeout_s),
        )
        try:
            response = await ctx.http.send(request)
        except httpx.HTTPError as exc:
            raise from_httpx(exc, request) from exc
        if response.status_code >= 400:
            raise from_http_response(response)
        return _result(response)


def _timeout(requested: float | None, node_bound: float | None) -> Any:
    """The tighter of the spec's ``timeout_s`` and the node's bound; else the client's."""
    bounds = [t for t in (requested, node_bound) if t is not None]
    return min(bounds) if bounds else httpx.USE_CLIENT_DEFAULT


def _result(response: httpx.Response) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": response.status_code,
        "headers": {key.lower(): value for key, value in response.headers.items()},
    }
    if response.content and _is_json(response.headers.get("content-type", "")):
        try:
            result["json"] = json.loads(response.content)
        except ValueError:
            pass
        else:
            return result
    result["text"] = response.text
    return result


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")
