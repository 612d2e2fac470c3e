"""Foreign failures translated into ``NodeError`` at the boundary where they happen.

Executors and tools call into the openai client, httpx and jsonschema. Each failure of those
becomes a ``NodeError`` whose kind (and ``retryable``) drives the node's retry policy::

    openai                                      kind
    ├── RateLimitError (429)                    rate_limited
    ├── APITimeoutError                         timeout
    ├── APIConnectionError                      network_error
    ├── AuthenticationError / PermissionDenied  auth_error (not retried)
    ├── status >= 500                           provider_error (retried)
    └── any other status (4xx)                  provider_error (not retried)

    httpx (the ``http_request`` tool)
    ├── TimeoutException                        timeout
    ├── other TransportError                    network_error
    ├── response 429                            rate_limited
    ├── response 5xx                            http_error (retried)
    └── response 4xx                            http_error (not retried)

    jsonschema violation                        validation_error (not retried)

Callers raise the result ``from`` the original so the traceback keeps the cause. Messages say
what the other side answered, and never a credential: a provider's API key is masked wherever
it appears (providers echo short keys back in 401 bodies), and URLs are shown without their
query string or user info, which is where tokens tend to travel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import openai
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from shared.redaction import mask
from workflow_compiler.errors import ErrorKind, NodeError

EXCERPT_CHARS = 200
"""How much of a foreign error body a message quotes."""


def from_openai(exc: openai.OpenAIError, *, provider: str, api_key: str | None) -> NodeError:
    """The ``NodeError`` for a failed call through the openai client.

    Args:
        exc: What the client raised.
        provider: Provider name, for the message.
        api_key: The key the client used; masked out of the message.
    """
    retryable: bool | None = None
    if isinstance(exc, openai.APITimeoutError):
        kind, text = ErrorKind.TIMEOUT, f"request to provider '{provider}' timed out"
    elif isinstance(exc, openai.APIConnectionError):
        kind, text = ErrorKind.NETWORK_ERROR, f"could not reach provider '{provider}'"
        if exc.__cause__ is not None:
            text += f": {_describe(exc.__cause__)}"
    elif isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        text = f"provider '{provider}' answered {status}: {_provider_detail(exc)}"
        if status == 429:
            kind = ErrorKind.RATE_LIMITED
        elif status in (401, 403):
            kind = ErrorKind.AUTH_ERROR
        else:
            kind, retryable = ErrorKind.PROVIDER_ERROR, status >= 500
    else:
        kind, text = ErrorKind.PROVIDER_ERROR, f"provider '{provider}' failed: {_describe(exc)}"
    return NodeError(kind, mask(text, [api_key] if api_key else []), retryable=retryable)


def from_httpx(exc: httpx.HTTPError, request: httpx.Request) -> NodeError:
    """The ``NodeError`` for an HTTP request that got no usable response."""
    target = f"{request.method} {display_url(request.url)}"
    if isinstance(exc, httpx.TimeoutException):
        return NodeError(ErrorKind.TIMEOUT, f"{target} timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError):
        return NodeError(ErrorKind.NETWORK_ERROR, f"{target} failed: {_describe(exc)}")
    return NodeError(ErrorKind.HTTP_ERROR, f"{target} failed: {_describe(exc)}", retryable=False)


def from_http_response(response: httpx.Response) -> NodeError:
    """The ``NodeError`` for a 4xx/5xx answer.

    Only 429 and 5xx may get better by asking again; any other 4xx is the request's fault.
    """
    request = response.request
    status = response.status_code
    text = (
        f"{request.method} {display_url(request.url)} answered {status}: {excerpt(response.text)}"
    )
    if status == 429:
        return NodeError(ErrorKind.RATE_LIMITED, text)
    return NodeError(ErrorKind.HTTP_ERROR, text, retryable=status >= 500)


def compile_schema(schema: Mapping[str, Any]) -> Validator:
    """A validator for ``schema``, of the draft the schema declares (2020-12 by default)."""
    return validator_for(schema)(schema)


def check_value(validator: Validator, value: Any, *, root: str, subject: str) -> None:
    """Raise ``validation_error`` when ``value`` fails ``validator``.

    The message names the JSON path of the most relevant violation (jsonschema's
    ``best_match``), rooted at ``root``, e.g. ``args.headers.Authorization``.

    Args:
        validator: From ``compile_schema``.
        value: The value to check.
        root: Name of the value in messages (``args``, ``output``).
        subject: What failed, leading the message (``invalid args for tool 'x'``).
    """
    error = best_match(validator.iter_errors(value))
    if error is None:
        return
    path = root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    raise NodeError(ErrorKind.VALIDATION_ERROR, f"{subject}: at {path}: {excerpt(error.message)}")


def mask_error(error: NodeError, secrets: Iterable[str]) -> NodeError:
    """Mask secret values in ``error``'s message, in place.

    In place rather than as a new error, so the unmasked text does not survive as a
    ``__cause__`` that a traceback would print.
    """
    text = mask(error.message, secrets)
    if text != error.message:
        error.message = text
        error.args = (text,)
    return error


def secrets_in(scope: Mapping[str, Any]) -> list[str]:
    """The secret values resolved into a node's scope (``scope["secrets"]``), for ``mask``."""
    secrets = scope.get("secrets")
    if not isinstance(secrets, Mapping):
        return []
    return [value for value in secrets.values() if isinstance(value, str)]


def display_url(url: httpx.URL) -> str:
    """``scheme://host[:port]/path``: the URL without query, fragment or user info."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def excerpt(text: str) -> str:
    """The first ``EXCERPT_CHARS`` characters of ``text``, stripped, marked when cut."""
    text = text.strip()
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _provider_detail(exc: openai.APIStatusError) -> str:
    """The provider's own error message: ``{"error": {"message": ...}}`` in OpenAI's API."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return excerpt(body["message"])
    if isinstance(body, str) and body.strip():
        return excerpt(body)
    return excerpt(exc.message)


def _describe(exc: BaseException) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {excerpt(detail)}" if detail else type(exc).__name__
