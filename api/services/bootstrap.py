"""The first start of an embedded deployment: a tenant, its admin key, and example workflows.

``plait serve`` on a fresh data directory must be usable at once, without a separate step to
make the first API key (there is no key yet to call the API with). ``bootstrap`` therefore
creates the ``default`` tenant, an admin key for it, and a published workflow for each example
spec it is given, and returns the key's plaintext to be shown once.

Contracts:

- It happens once per database. The default tenant has a fixed id (``DEFAULT_TENANT_ID``), and
  inserting that row is the first statement of the one transaction that creates everything:
  of two processes starting together, the second's insert waits for the first to commit,
  then fails on the primary key, and it creates nothing. A process that dies half-way
  leaves nothing behind, so the next start does all of it.
- A database that already has tenants (other than the command line's ``local`` tenant, made
  by ``plait run --db``) was set up by other means, e.g. ``plait keys create``: it is left
  alone, and no admin key appears in it by surprise.
- The key's plaintext is only returned, never logged or stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.services.keys import Principal, create_api_key
from api.services.run_records import LOCAL_TENANT_ID
from api.services.workflows import create_version, create_workflow, publish_version
from shared.database.models import Role, Tenant, Workflow
from shared.ids import ID_BODY_LENGTH, IdPrefix
from workflow_compiler.checks import parse_spec
from workflow_compiler.errors import SpecInvalidError
from workflow_compiler.registries.tools import ToolRegistry

__all__ = [
    "DEFAULT_TENANT_ID",
    "DEFAULT_TENANT_NAME",
    "Bootstrap",
    "ExampleSpec",
    "SkippedExample",
    "bootstrap",
    "read_examples",
]

DEFAULT_TENANT_ID = f"{IdPrefix.TENANT}_{'0' * (ID_BODY_LENGTH - 1)}1"
"""The tenant ``plait serve`` creates: a fixed, valid id (time 0, random part 1, next to the
command line's ``LOCAL_TENANT_ID``), so that its row is the claim of the first start."""

DEFAULT_TENANT_NAME = "default"

BOOTSTRAP_KEY_NAME = "created by the first plait serve"

EXAMPLE_TAG = "example"
"""Tag of the workflows loaded from the examples, so that they are easy to find and remove."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExampleSpec:
    """An example spec read from a file, which passes the static checks."""

    name: str
    """The workflow's name: the file's stem."""
    spec: dict[str, Any]
    """The spec as written in the file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedExample:
    """An example file that is not loaded, and why."""

    name: str
    """The file's stem."""
    reason: str
    """One line: an unreadable file, invalid JSON, or the errors of the static checks."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bootstrap:
    """What ``bootstrap`` found or did."""

    tenant: Tenant | None
    """The default tenant; None when the database was set up without it."""
    api_key: str | None
    """The plaintext of the admin key created now; None when nothing was created. Show it
    once: only its hash is stored."""
    workflows: list[Workflow]
    """The example workflows created now, each with version 1 published."""

    @property
    def created(self) -> bool:
        """Whether this call set the database up."""
        return self.api_key is not None


def read_examples(
    directory: Path, *, tools: ToolRegistry
) -> tuple[list[ExampleSpec], list[SkippedExample]]:
    """The example specs of ``directory`` (``*.json``, by name) that pass the static checks.

    Reading and checking happen here, before ``bootstrap``'s transaction, so that it holds
    the database's write lock only for the inserts.

    Returns:
        The usable examples, and the files left out with the reason.
    """
    examples: list[ExampleSpec] = []
    skipped: list[SkippedExample] = []
    for path in sorted(directory.glob("*.json")):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            parse_spec(spec, tools=tools)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            skipped.append(SkippedExample(name=path.stem, reason=f"unreadable: {exc}"))
        except SpecInvalidError as exc:
            skipped.append(SkippedExample(name=path.stem, reason=exc.message))
        else:
            examples.append(ExampleSpec(name=path.stem, spec=spec))
    return examples, skipped


async def bootstrap(
    *, examples: Sequence[ExampleSpec], tools: ToolRegistry, at: datetime
) -> Bootstrap:
    """Set a fresh database up: the default tenant, an admin key, the example workflows.

    Args:
        examples: The specs to load as published workflows of the default tenant.
        tools: The tools the specs may call (versions are checked against them).
        at: Now.

    Returns:
        What was created; on a database already set up (by an earlier call, a concurrent one,
        or other means) nothing, and the default tenant if it exists.
    """
    if await Tenant.exclude(id=LOCAL_TENANT_ID).exists():
        return await _existing()
    try:
        async with in_transaction():
            tenant = await Tenant.create(id=DEFAULT_TENANT_ID, name=DEFAULT_TENANT_NAME)
            key, plaintext = await create_api_key(
                tenant, Role.ADMIN, name=BOOTSTRAP_KEY_NAME, at=at
            )
            principal = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=key.id)
            workflows = [
                await _load_example(principal, example, tools=tools, at=at) for example in examples
            ]
    except IntegrityError:
        return await _existing()  # a concurrent start created the default tenant first
    return Bootstrap(tenant=tenant, api_key=plaintext, workflows=workflows)


async def _existing() -> Bootstrap:
    tenant = await Tenant.get_or_none(id=DEFAULT_TENANT_ID)
    return Bootstrap(tenant=tenant, api_key=None, workflows=[])


async def _load_example(
    principal: Principal, example: ExampleSpec, *, tools: ToolRegistry, at: datetime
) -> Workflow:
    """A workflow holding ``example`` as its draft and as published version 1."""
    description = example.spec.get("description")
    workflow = await create_workflow(
        principal,
        name=example.name,
        description=description if isinstance(description, str) else "",
        tags=[EXAMPLE_TAG],
        spec=example.spec,
        at=at,
    )
    version, _ = await create_version(principal, workflow.id, tools=tools, at=at)
    await publish_version(principal, workflow.id, version.version_number, at=at)
    await workflow.refresh_from_db()
    return workflow
