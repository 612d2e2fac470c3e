"""Plait's settings, read from ``PLAIT_*`` environment variables and a ``.env`` file.

There is no module-level ``settings`` object: each entry point (the CLI, the API app, the
worker) builds ``Settings()`` once and passes what its parts need down to them, so tests can
build their own ``Settings(...)`` without touching the environment of the whole process.
Values given to the constructor win over the environment, which wins over ``.env`` in the
working directory, which wins over the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["CommaList", "Settings"]


def _default_database_url(values: dict[str, Any]) -> str:
    return f"sqlite://{values['data_dir']}/plait.db"


def _split_commas(value: Any) -> Any:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; a list given to the constructor stays as it is."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_commas)]
"""A setting written as a comma-separated list in the environment (not as JSON)."""


class Settings(BaseSettings):
    """Where Plait keeps its data and which services it talks to."""

    model_config = SettingsConfigDict(
        env_prefix="PLAIT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path(".plait"),
        description="Directory for local state: the embedded SQLite database, key files. "
        "Created when missing.",
    )
    """Everything the embedded setup stores on disk lives here."""

    database_url: str = Field(
        default_factory=_default_database_url,
        repr=False,
        description="Database to use: 'sqlite://<path>' (embedded default, "
        "'sqlite://<data_dir>/plait.db') or 'postgres://user:password@host:port/database'.",
    )
    """Left out of ``repr`` because a PostgreSQL URL may carry a password."""

    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL for the task broker, e.g. 'redis://localhost:6379/0'. "
        "Unset: runs are queued in-process.",
    )
    """A secret because a Redis URL may carry a password."""

    redis_prefix: str = Field(
        default="plait",
        min_length=1,
        description="Prefix of every Redis key and channel Plait uses (the run stream, its "
        "consumer group, the run-event channel), so that several Plait deployments can share "
        "one Redis.",
    )
    """Every process of one deployment must use the same prefix."""

    db_pool_min: int = Field(
        default=1,
        ge=1,
        description="Connections a PostgreSQL pool keeps open while idle (ignored for SQLite).",
    )
    """Lower bound of the asyncpg pool; SQLite uses one connection per process."""

    db_pool_max: int = Field(
        default=10,
        ge=1,
        description="Most connections a PostgreSQL pool opens (ignored for SQLite).",
    )
    """Upper bound of the asyncpg pool; it bounds this process's share of the server."""

    migrate_on_start: bool = Field(
        default=True,
        description="Apply pending database migrations when a process starts. Turn off when "
        "migrations are applied separately with 'plait migrate'.",
    )
    """On by default so that the embedded setup needs no separate step."""

    max_request_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest request body the API accepts, in bytes; larger ones get a 413.",
    )
    """Specs and run inputs are read whole, so this bounds what one request makes the server
    hold in memory."""

    redact_keys: CommaList = Field(
        default=(),
        description="Extra key names whose values are hidden in run events, step input and "
        "output, run outputs and logs, e.g. 'ssn,card_number'; added to the built-in names "
        "(password, token, api_key, authorization, …). Compared lowercase, '-' read as '_'.",
    )
    """Added to ``shared.redaction.DEFAULT_KEY_NAMES``, never replacing them: a setting cannot
    turn the built-in redaction off."""

    secret_keys: SecretStr | None = Field(
        default=None,
        description="Keys that encrypt stored secrets: a comma-separated list of Fernet keys "
        "(make one with 'plait secrets new-key'). The first encrypts, every one decrypts, so a "
        "new key goes first and the old one stays until 'plait secrets rotate' has run. Unset: "
        "the key in <data_dir>/secret.key, created on first start.",
    )
    """Parsed and checked by ``shared.crypto.load_secret_box``; a secret so that neither the
    settings' ``repr`` nor an error shows the keys."""

    env_secrets: CommaList = Field(
        default=(),
        description="Names of the secrets tenants may read from this server's environment "
        "('env' secrets): 'HOOK_TOKEN' opens PLAIT_SECRET_HOOK_TOKEN, e.g. 'HOOK_TOKEN,SLACK'. "
        "Unset: no tenant may create or read an 'env' secret.",
    )
    """Opt-in, because every tenant's admin may create an ``env`` secret of any name: without
    the list, any of them could read whatever ``PLAIT_SECRET_*`` the operator set, the CLI's
    included. Checked by ``api.services.secrets`` when an ``env`` secret is written and read."""

    lease_ttl_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a worker's lease on a run lasts without a heartbeat; after it, "
        "the scheduler's reaper hands the run to another worker.",
    )
    """How long a dead worker's runs wait before they continue elsewhere; heartbeats come at a
    third of it, so it must exceed a few database round trips under load."""

    lease_check_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between a process's reads of the runs it executes, for cancel "
        "requests from other processes and lost leases.",
    )
    """The delay of a cancel that reaches a run executing in another process."""

    scheduler_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between the scheduler's passes (reaper and sweeper).",
    )
    """Bounds, with ``lease_ttl_s``, how long a dead worker's run waits."""

    sweep_after_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a run may stay queued before the sweeper enqueues it again (its "
        "message never reached Redis, or Redis lost it).",
    )
    """Longer than a normal backlog lasts: a message sent twice is harmless, but wasted."""

    @model_validator(mode="after")
    def _check_pool_bounds(self) -> Self:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError(
                f"db_pool_min ({self.db_pool_min}) is larger than db_pool_max ({self.db_pool_max})"
            )
        return self
