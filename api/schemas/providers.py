"""Bodies of ``/v1/providers``: a provider's settings, as written and as shown (never a key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from api.services.providers import CheckFailureKind
from api.services.secrets import SECRET_NAME_PATTERN
from shared.database.models import ProviderKind

__all__ = [
    "PROVIDER_NAME_PATTERN",
    "BaseUrl",
    "CheckFailurePublic",
    "ProviderCheckPublic",
    "ProviderList",
    "ProviderPublic",
    "ProviderPut",
]

PROVIDER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""A provider's name: what an ``llm`` node's ``provider`` says. Letters, digits, ``_``, ``.``
and ``-``, starting with a letter or digit, at most 64 characters: it travels in URL paths, and
fits every name a spec allows (at most 100 characters)."""


def _no_credentials(url: HttpUrl) -> str:
    """The URL as text, refused when it carries user info, a query or a fragment: a key
    belongs in the provider's secret, where it is encrypted and never shown."""
    if url.username is not None or url.password is not None:
        raise ValueError("the URL must not hold credentials: put the API key in a secret")
    if url.query is not None or url.fragment is not None:
        raise ValueError("the URL must not have a query or a fragment")
    return str(url).rstrip("/")


BaseUrl = Annotated[HttpUrl, AfterValidator(_no_credentials)]
"""An ``http`` or ``https`` URL without credentials, such as ``https://host/v1``."""


class ProviderPut(BaseModel):
    """Every setting of a provider; a PUT replaces them all (absent ones become null)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    kind: ProviderKind = ProviderKind.OPENAI
    """The API the provider speaks; ``openai`` covers every OpenAI-compatible endpoint."""
    base_url: BaseUrl | None = None
    """The API's base URL, e.g. ``http://localhost:11434/v1``; null for api.openai.com."""
    secret_name: Annotated[str, StringConstraints(pattern=SECRET_NAME_PATTERN)]
    """The secret holding the API key (``PUT /v1/secrets/{name}``); it may be created later."""
    default_model: str | None = Field(default=None, min_length=1, max_length=200)
    """The model of ``llm`` nodes that name none."""


class ProviderPublic(BaseModel):
    """A provider as the API shows it: its settings, never its key."""

    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)

    name: str
    kind: ProviderKind
    base_url: str | None
    """Null: api.openai.com."""
    secret_name: str
    """The secret holding the API key."""
    default_model: str | None
    created_at: datetime
    updated_at: datetime


class ProviderList(BaseModel):
    """The tenant's providers, by name."""

    items: list[ProviderPublic]


class CheckFailurePublic(BaseModel):
    """Why a provider did not connect."""

    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)

    kind: CheckFailureKind
    """``auth``, ``network``, ``timeout``, ``rate_limited``, ``provider_error`` or
    ``secret_missing``."""
    message: str
    """What went wrong, as the endpoint answered it (the key masked)."""


class ProviderCheckPublic(BaseModel):
    """The outcome of a check: ``{"connected": true, "models": [...]}``, or
    ``{"connected": false, "error": {...}}``."""

    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)

    connected: bool
    models: list[str] | None = None
    """The model ids the provider lists, sorted; present when connected."""
    error: CheckFailurePublic | None = None
    """Present when not connected."""
