"""LangGraph's public checkpointer conformance suite against TortoiseSaver.

Runs every capability of `langgraph-checkpoint-conformance` (the five base ones and the three
extended ones TortoiseSaver implements) on each database backend of the `database` fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.conformance.initializer import RegisteredCheckpointer

from shared.database.checkpointer import TortoiseSaver
from shared.database.models.checkpoints import CheckpointBlob, CheckpointRecord, CheckpointWrite


async def _clear_checkpoint_tables() -> None:
    for model in (CheckpointRecord, CheckpointBlob, CheckpointWrite):
        await model.all().delete()


@checkpointer_test(name="TortoiseSaver")
async def _tortoise_saver() -> AsyncIterator[TortoiseSaver]:
    """A saver on the already initialized test database, with empty tables for each suite."""
    await _clear_checkpoint_tables()
    yield TortoiseSaver()


class TestConformance:
    async def test_every_capability_is_implemented_and_passes(self, database: str) -> None:
        registered: RegisteredCheckpointer = _tortoise_saver

        report = await validate(registered)

        assert {name for name, result in report.results.items() if result.detected} == {
            capability.value for capability in ALL_CAPABILITIES
        }
        failures = {
            name: result.failures for name, result in report.results.items() if result.failures
        }
        assert failures == {}
        assert all(
            result.passed and result.tests_passed > 0 and result.tests_failed == 0
            for result in report.results.values()
        )
        assert report.conformance_level() == "FULL"
