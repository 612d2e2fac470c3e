"""Model providers: how an ``llm`` node's ``provider`` name becomes an OpenAI-compatible client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx
from openai import AsyncOpenAI

from workflow_compiler.errors import ErrorKind, NodeError


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderHandle:
    """A ready client and the model to use when a node names none."""

    name: str
    client: AsyncOpenAI
    default_model: str | None


class ModelProviders(Protocol):
    """Resolves provider names. The CLI resolves from the environment; the API from the
    database (issue: providers)."""

    def get(self, name: str | None) -> ProviderHandle:
        """The provider called ``name`` (``None``: the default provider).

        Raises:
            NodeError: kind ``config_error`` when it is unknown or has no key.
        """
        ...

    def names(self) -> list[str]:
        """Names of the configured providers."""
        ...


class StaticModelProviders:
    """Providers fixed at start-up; ``from_env`` is the zero-configuration default."""

    def __init__(self, providers: dict[str, ProviderHandle], default: str | None) -> None:
        self._providers = providers
        self._default = default

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, http_client: httpx.AsyncClient | None = None
    ) -> StaticModelProviders:
        """An ``openai`` provider from ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``.

        Without a key the provider is still listed, and using it fails with a message that
        says which variable to set.

        Args:
            environ: The environment to read.
            http_client: The client to send requests with; None gives the provider a
                connection pool of its own, which suits one built once per process.
        """
        key = environ.get("OPENAI_API_KEY")
        if not key:
            return cls({}, "openai")
        client = AsyncOpenAI(
            api_key=key,
            base_url=environ.get("OPENAI_BASE_URL") or None,
            http_client=http_client,
            max_retries=0,
        )
        handle = ProviderHandle(
            name="openai", client=client, default_model=environ.get("OPENAI_MODEL")
        )
        return cls({"openai": handle}, "openai")

    def get(self, name: str | None) -> ProviderHandle:
        wanted = name or self._default
        handle = self._providers.get(wanted) if wanted else None
        if handle is not None:
            return handle
        if wanted == "openai":
            message = "provider 'openai' has no API key: set OPENAI_API_KEY"
        else:
            message = f"unknown model provider '{wanted}'"
        raise NodeError(ErrorKind.CONFIG_ERROR, message)

    def names(self) -> list[str]:
        return sorted({*self._providers, *([self._default] if self._default else [])})
