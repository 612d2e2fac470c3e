"""The first start: one default tenant, one admin key, the examples published, exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.services import authenticate, local_tenant
from api.services.bootstrap import (
    DEFAULT_TENANT_ID,
    DEFAULT_TENANT_NAME,
    ExampleSpec,
    bootstrap,
    read_examples,
)
from shared.database.models import (
    ApiKey,
    AuditEvent,
    Role,
    Tenant,
    VersionStatus,
    Workflow,
    WorkflowDraft,
    WorkflowVersion,
)
from workflow_compiler.errors import SpecInvalidError
from workflow_compiler.registries.builtin import default_tool_registry

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TOOLS = default_tool_registry(load_plugins=False)
EXAMPLES_DIR = Path(__file__).parents[3] / "examples"

SPEC: dict[str, Any] = {
    "version": "1",
    "description": "Says hello.",
    "nodes": [{"id": "greet", "type": "set", "value": "hello"}],
}


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.json"))


class TestReadExamples:
    def test_reads_every_example_of_the_repository(self) -> None:
        examples, skipped = read_examples(EXAMPLES_DIR, tools=TOOLS)

        assert [example.name for example in examples] == example_names()
        assert skipped == []
        totals = next(example for example in examples if example.name == "order_totals")
        assert totals.spec == json.loads((EXAMPLES_DIR / "order_totals.json").read_text())

    def test_leaves_out_what_cannot_be_loaded_and_says_why(self, tmp_path: Path) -> None:
        (tmp_path / "good.json").write_text(json.dumps(SPEC))
        (tmp_path / "broken.json").write_text("{not json")
        (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
        (tmp_path / "folder.json").mkdir()
        (tmp_path / "invalid.json").write_text(json.dumps({"version": "1", "nodes": [{}]}))
        (tmp_path / "notes.txt").write_text("not a spec")

        examples, skipped = read_examples(tmp_path, tools=TOOLS)

        assert examples == [ExampleSpec(name="good", spec=SPEC)]
        reasons = {example.name: example.reason for example in skipped}
        assert sorted(reasons) == ["binary", "broken", "folder", "invalid"]
        assert reasons["broken"].startswith("unreadable: Expecting property name")
        assert reasons["binary"].startswith("unreadable: ")
        assert reasons["folder"].startswith("unreadable: ")
        assert reasons["invalid"].startswith("spec has ")


class TestBootstrap:
    async def test_a_fresh_database_gets_a_tenant_an_admin_key_and_the_examples(
        self, database: str
    ) -> None:
        examples, _ = read_examples(EXAMPLES_DIR, tools=TOOLS)

        setup = await bootstrap(examples=examples, tools=TOOLS, at=AT)

        assert setup.created
        assert setup.tenant is not None
        assert (setup.tenant.id, setup.tenant.name) == (DEFAULT_TENANT_ID, DEFAULT_TENANT_NAME)
        assert setup.api_key is not None
        principal = await authenticate(setup.api_key, at=AT)
        assert (principal.tenant_id, principal.role) == (DEFAULT_TENANT_ID, Role.ADMIN)
        assert [workflow.name for workflow in setup.workflows] == example_names()
        stored = await Workflow.filter(tenant_id=DEFAULT_TENANT_ID).order_by("name")
        assert [workflow.name for workflow in stored] == example_names()
        for workflow in stored:
            spec = json.loads((EXAMPLES_DIR / f"{workflow.name}.json").read_text())
            assert workflow.description == spec["description"]
            assert workflow.tags == ["example"]
            assert workflow.published_version_number == 1
            draft = await WorkflowDraft.get(workflow_id=workflow.id)
            assert draft.spec == spec
            version = await WorkflowVersion.get(workflow_id=workflow.id)
            assert (version.version_number, version.status) == (1, VersionStatus.PUBLISHED)
        audit = await AuditEvent.all().values()
        assert audit
        assert setup.api_key not in str(audit)

    async def test_a_spec_without_a_description_gets_an_empty_one(self, database: str) -> None:
        spec = {key: value for key, value in SPEC.items() if key != "description"}

        setup = await bootstrap(examples=[ExampleSpec(name="bare", spec=spec)], tools=TOOLS, at=AT)

        assert [(w.name, w.description) for w in setup.workflows] == [("bare", "")]

    async def test_a_second_call_creates_nothing(self, database: str) -> None:
        examples = [ExampleSpec(name="hello", spec=SPEC)]
        first = await bootstrap(examples=examples, tools=TOOLS, at=AT)

        second = await bootstrap(examples=examples, tools=TOOLS, at=AT)

        assert not second.created
        assert second.api_key is None
        assert second.workflows == []
        assert second.tenant is not None
        assert second.tenant.id == DEFAULT_TENANT_ID
        assert await Tenant.all().count() == 1
        assert await ApiKey.all().count() == 1
        assert await Workflow.all().count() == 1
        assert first.api_key is not None
        await authenticate(first.api_key, at=AT)

    async def test_of_concurrent_calls_exactly_one_creates(self, database: str) -> None:
        examples = [ExampleSpec(name="hello", spec=SPEC)]

        results = await asyncio.gather(
            *(bootstrap(examples=examples, tools=TOOLS, at=AT) for _ in range(3))
        )

        assert sorted(result.created for result in results) == [False, False, True]
        assert {result.tenant.id for result in results if result.tenant} == {DEFAULT_TENANT_ID}
        assert await Tenant.all().count() == 1
        assert await ApiKey.all().count() == 1
        assert await Workflow.all().count() == 1

    async def test_the_command_lines_local_tenant_does_not_count_as_set_up(
        self, database: str
    ) -> None:
        await local_tenant()

        setup = await bootstrap(examples=[], tools=TOOLS, at=AT)

        assert setup.created
        assert await Tenant.all().count() == 2

    async def test_a_database_set_up_otherwise_is_left_alone(self, database: str) -> None:
        await Tenant.create(name="acme")

        setup = await bootstrap(examples=[ExampleSpec(name="hello", spec=SPEC)], tools=TOOLS, at=AT)

        assert (setup.tenant, setup.api_key, setup.workflows) == (None, None, [])
        assert await ApiKey.all().count() == 0
        assert await Workflow.all().count() == 0

    async def test_a_failure_half_way_leaves_nothing_and_the_next_call_does_it_all(
        self, database: str
    ) -> None:
        broken = ExampleSpec(name="broken", spec={"version": "1", "nodes": [{}]})
        good = ExampleSpec(name="hello", spec=SPEC)

        with pytest.raises(SpecInvalidError):
            await bootstrap(examples=[good, broken], tools=TOOLS, at=AT)

        assert await Tenant.all().count() == 0
        assert await ApiKey.all().count() == 0
        assert await Workflow.all().count() == 0
        setup = await bootstrap(examples=[good], tools=TOOLS, at=AT)
        assert setup.created
        assert [workflow.name for workflow in setup.workflows] == ["hello"]
