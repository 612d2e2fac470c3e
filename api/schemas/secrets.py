"""Bodies of ``/v1/secrets``: a secret as written (with its value) and as shown (never with
it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from api.services.secrets import MAX_DESCRIPTION_LENGTH, MAX_VALUE_LENGTH
from shared.database.models import SecretProvider

__all__ = ["SecretList", "SecretPublic", "SecretPut"]


class SecretPut(BaseModel):
    """A secret's value (or where the server reads it) and its description."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    value: Annotated[StrictStr, Field(min_length=1, max_length=MAX_VALUE_LENGTH)] | None = None
    """The value, stored encrypted and never shown again; required unless ``provider`` is
    ``env``."""
    provider: SecretProvider = SecretProvider.LOCAL
    """``local``: the value is stored here, encrypted. ``env``: no value is sent; the server
    reads its environment variable ``PLAIT_SECRET_<NAME>`` when the secret is used, for the
    names its operator lists in ``PLAIT_ENV_SECRETS`` only (422 ``secret_invalid`` for
    another)."""
    description: Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION_LENGTH)] | None = None
    """What the secret is for; absent keeps the current description."""

    @model_validator(mode="after")
    def _value_matches_provider(self) -> Self:
        if self.provider is SecretProvider.LOCAL and self.value is None:
            raise ValueError("'value' is required (or set 'provider' to 'env')")
        if self.provider is SecretProvider.ENV and self.value is not None:
            raise ValueError(
                "an 'env' secret takes no 'value': the server reads PLAIT_SECRET_<NAME>"
            )
        return self


class SecretPublic(BaseModel):
    """A secret as the API shows it: its name and history, never its value."""

    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)

    name: str
    provider: SecretProvider
    description: str
    created_at: datetime
    updated_at: datetime
    """When the value was last written."""
    last_used_at: datetime | None
    """When a node or a model provider last read the value; null if never."""


class SecretList(BaseModel):
    """The tenant's secrets, by name."""

    items: list[SecretPublic]
