"""TortoiseSaver's storage and semantics beyond the conformance suite.

How values are shared between checkpoints (and freed by deletes and prunes), the write
rules for retried and special writes, listing over many pages, and the async-only API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, CheckpointTuple
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.serde.types import ERROR, INTERRUPT
from tortoise.exceptions import ConfigurationError

from shared.database.checkpointer import TortoiseSaver, open_saver
from shared.database.models.checkpoints import CheckpointBlob, CheckpointRecord, CheckpointWrite
from tests.support.database import sqlite_url


@pytest.fixture
def saver(database: str) -> TortoiseSaver:
    return TortoiseSaver()


async def _put(
    saver: TortoiseSaver,
    thread_id: str,
    values: dict[str, Any],
    versions: ChannelVersions,
    new_versions: ChannelVersions,
    *,
    parent: RunnableConfig | None = None,
    checkpoint_ns: str = "",
    **metadata: Any,
) -> RunnableConfig:
    """Put a checkpoint of `values` at `versions` whose parent is `parent`."""
    config = generate_config(thread_id, checkpoint_ns=checkpoint_ns)
    if parent is not None:
        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    checkpoint = generate_checkpoint(channel_values=values, channel_versions=versions)
    return await saver.aput(config, checkpoint, generate_metadata(**metadata), new_versions)


async def _chain(
    saver: TortoiseSaver, thread_id: str, steps: int, **metadata: Any
) -> list[RunnableConfig]:
    """`steps` checkpoints where "big" is set once and "step" changes every time."""
    configs: list[RunnableConfig] = []
    for step in range(steps):
        versions = {"big": 1, "step": step + 1}
        new_versions = dict(versions) if step == 0 else {"step": step + 1}
        parent = configs[-1] if configs else None
        configs.append(
            await _put(
                saver,
                thread_id,
                {"big": "B" * 1000, "step": step},
                versions,
                new_versions,
                parent=parent,
                **metadata,
            )
        )
    return configs


async def _blob_count(thread_id: str, channel: str | None = None) -> int:
    query = CheckpointBlob.filter(thread_id=thread_id)
    if channel is not None:
        query = query.filter(channel=channel)
    return await query.count()


async def _load(saver: TortoiseSaver, config: RunnableConfig) -> CheckpointTuple:
    loaded = await saver.aget_tuple(config)
    assert loaded is not None
    return loaded


class TestPut:
    async def test_an_unchanged_channel_is_stored_once(self, saver: TortoiseSaver) -> None:
        configs = await _chain(saver, "t1", steps=6)

        assert await _blob_count("t1", "big") == 1
        assert await _blob_count("t1", "step") == 6
        for step, config in enumerate(configs):
            values = (await _load(saver, config)).checkpoint["channel_values"]
            assert values == {"big": "B" * 1000, "step": step}

    async def test_a_cleared_channel_is_left_out_only_from_then_on(
        self, saver: TortoiseSaver
    ) -> None:
        first = await _put(saver, "t1", {"a": 1, "b": 2}, {"a": 1, "b": 1}, {"a": 1, "b": 1})
        second = await _put(saver, "t1", {"a": 1}, {"a": 1, "b": 2}, {"b": 2}, parent=first)

        assert (await _load(saver, second)).checkpoint["channel_values"] == {"a": 1}
        assert (await _load(saver, first)).checkpoint["channel_values"] == {"a": 1, "b": 2}

    async def test_putting_a_checkpoint_again_replaces_its_metadata(
        self, saver: TortoiseSaver
    ) -> None:
        config = generate_config("t1")
        checkpoint = generate_checkpoint()
        await saver.aput(config, checkpoint, generate_metadata(step=1), {})
        stored = await saver.aput(config, checkpoint, generate_metadata(step=2), {})

        assert (await _load(saver, stored)).metadata["step"] == 2
        assert await CheckpointRecord.filter(thread_id="t1").count() == 1

    async def test_metadata_is_readable_json_and_the_run_id_a_column(
        self, saver: TortoiseSaver
    ) -> None:
        config = generate_config("t1")
        config["metadata"] = {"tenant": "ten_1", "__hidden": "x"}
        await saver.aput(config, generate_checkpoint(), generate_metadata(run_id="r-1"), {})

        record = await CheckpointRecord.get(thread_id="t1")
        assert record.run_id == "r-1"
        assert record.metadata == {
            "source": "loop",
            "step": 0,
            "parents": {},
            "run_id": "r-1",
            "tenant": "ten_1",
        }

    async def test_a_thread_id_that_is_no_string_is_stored_as_one(
        self, saver: TortoiseSaver
    ) -> None:
        config = {"configurable": {"thread_id": 42, "checkpoint_ns": ""}}
        stored = await saver.aput(config, generate_checkpoint(), generate_metadata(), {})
        await saver.aput_writes(stored, [("x", 1)], "task-1")

        loaded = await _load(saver, {"configurable": {"thread_id": 42}})
        assert loaded.config["configurable"]["thread_id"] == "42"
        assert loaded.pending_writes == [("task-1", "x", 1)]
        assert len([t async for t in saver.alist({"configurable": {"thread_id": 42}})]) == 1

    async def test_more_channels_than_one_statement_holds(self, saver: TortoiseSaver) -> None:
        values = {f"c{i}": i for i in range(450)}
        versions = dict.fromkeys(values, 1)

        stored = await _put(saver, "t1", values, versions, versions)

        assert (await _load(saver, stored)).checkpoint["channel_values"] == values
        assert await _blob_count("t1") == 450


class TestPutWrites:
    async def test_saving_a_task_write_again_keeps_the_first(self, saver: TortoiseSaver) -> None:
        stored = await _put(saver, "t1", {}, {}, {})

        await saver.aput_writes(stored, [("out", "first"), ("log", 1)], "task-1")
        await saver.aput_writes(stored, [("out", "retried"), ("log", 2)], "task-1")

        assert (await _load(saver, stored)).pending_writes == [
            ("task-1", "out", "first"),
            ("task-1", "log", 1),
        ]

    async def test_special_writes_replace_the_stored_ones(self, saver: TortoiseSaver) -> None:
        stored = await _put(saver, "t1", {}, {}, {})

        await saver.aput_writes(stored, [(ERROR, "timeout")], "task-1")
        await saver.aput_writes(stored, [(ERROR, "refused")], "task-1")
        await saver.aput_writes(stored, [(INTERRUPT, "ask")], "task-2")

        writes = (await _load(saver, stored)).pending_writes
        assert sorted(writes or []) == [("task-1", ERROR, "refused"), ("task-2", INTERRUPT, "ask")]

    async def test_writes_come_in_task_path_then_task_then_index_order(
        self, saver: TortoiseSaver
    ) -> None:
        stored = await _put(saver, "t1", {}, {}, {})

        await saver.aput_writes(stored, [("x", "b0"), ("x", "b1")], "task-a", task_path="~b")
        await saver.aput_writes(stored, [("x", "a0")], "task-z", task_path="~a")

        writes = (await _load(saver, stored)).pending_writes
        assert [value for _, _, value in writes or []] == ["a0", "b0", "b1"]

    async def test_more_writes_than_one_statement_holds(self, saver: TortoiseSaver) -> None:
        stored = await _put(saver, "t1", {}, {}, {})
        writes = [(f"c{i}", i) for i in range(450)]

        await saver.aput_writes(stored, writes, "task-1")

        assert (await _load(saver, stored)).pending_writes == [("task-1", c, v) for c, v in writes]

    async def test_no_writes_stores_nothing(self, saver: TortoiseSaver) -> None:
        stored = await _put(saver, "t1", {}, {}, {})

        await saver.aput_writes(stored, [], "task-1")

        assert await CheckpointWrite.all().count() == 0


class TestList:
    async def test_filter_and_limit_hold_across_pages(self, saver: TortoiseSaver) -> None:
        configs = [
            await _put(saver, "t1", {}, {}, {}, source="input" if i % 3 == 0 else "loop", step=i)
            for i in range(230)
        ]

        listed = [t async for t in saver.alist(generate_config("t1"), filter={"source": "input"})]
        limited = [t async for t in saver.alist(generate_config("t1"), limit=150)]

        assert [t.metadata["step"] for t in listed] == list(range(228, -1, -3))
        assert [t.config for t in limited] == list(reversed(configs))[:150]

    async def test_without_a_config_every_thread_is_listed(self, saver: TortoiseSaver) -> None:
        await _put(saver, "t1", {"a": 1}, {"a": 1}, {"a": 1})
        await _put(saver, "t2", {"a": 2}, {"a": 1}, {"a": 1}, checkpoint_ns="child:1")

        listed = [t async for t in saver.alist(None)]

        assert [
            (t.config["configurable"]["thread_id"], t.checkpoint["channel_values"]) for t in listed
        ] == [
            ("t2", {"a": 2}),
            ("t1", {"a": 1}),
        ]

    async def test_filter_on_run_id(self, saver: TortoiseSaver) -> None:
        await _chain(saver, "t1", steps=2, run_id="r-1")
        await _chain(saver, "t1", steps=3, run_id="r-2")

        listed = [t async for t in saver.alist(None, filter={"run_id": "r-2", "step": 0})]

        assert len(listed) == 3
        assert {t.metadata["run_id"] for t in listed} == {"r-2"}

    async def test_a_limit_below_one_lists_nothing(self, saver: TortoiseSaver) -> None:
        await _put(saver, "t1", {}, {}, {})

        assert [t async for t in saver.alist(None, limit=0)] == []


class TestDeleteThread:
    async def test_blobs_and_writes_go_with_the_thread(self, saver: TortoiseSaver) -> None:
        configs = await _chain(saver, "t1", steps=3)
        await _chain(saver, "t2", steps=1)
        await saver.aput_writes(configs[-1], [("x", 1)], "task-1")

        await saver.adelete_thread("t1")

        assert await _blob_count("t1") == 0
        assert await CheckpointWrite.filter(thread_id="t1").count() == 0
        assert await _blob_count("t2") == 2


class TestDeleteForRuns:
    async def test_blobs_a_remaining_checkpoint_reads_are_kept(self, saver: TortoiseSaver) -> None:
        first = await _put(
            saver, "t1", {"big": "B", "n": 1}, {"big": 1, "n": 1}, {"big": 1, "n": 1}, run_id="r-1"
        )
        second = await _put(
            saver,
            "t1",
            {"big": "B", "n": 2},
            {"big": 1, "n": 2},
            {"n": 2},
            parent=first,
            run_id="r-2",
        )
        await saver.aput_writes(first, [("n", 2)], "task-1")

        await saver.adelete_for_runs(["r-1"])

        assert await saver.aget_tuple(first) is None
        remaining = await _load(saver, second)
        assert remaining.checkpoint["channel_values"] == {"big": "B", "n": 2}
        assert remaining.parent_config is None
        assert sorted(
            await CheckpointBlob.filter(thread_id="t1").values_list("channel", "version")
        ) == [("big", "1"), ("n", "2")]
        assert await CheckpointWrite.filter(thread_id="t1").count() == 0


class TestPrune:
    async def test_keep_latest_frees_what_only_older_checkpoints_read(
        self, saver: TortoiseSaver
    ) -> None:
        configs = await _chain(saver, "t1", steps=4)
        await saver.aput_writes(configs[0], [("x", 0)], "task-0")
        await saver.aput_writes(configs[-1], [("x", 3)], "task-3")

        await saver.aprune(["t1"], strategy="keep_latest")

        latest = await _load(saver, generate_config("t1"))
        assert latest.config == configs[-1]
        assert latest.parent_config is None
        assert latest.checkpoint["channel_values"] == {"big": "B" * 1000, "step": 3}
        assert latest.pending_writes == [("task-3", "x", 3)]
        assert await _blob_count("t1") == 2
        assert await CheckpointWrite.filter(thread_id="t1").count() == 1

    async def test_keep_latest_deletes_the_subgraph_calls_of_pruned_roots(
        self, saver: TortoiseSaver
    ) -> None:
        root_first = await _put(saver, "t1", {}, {}, {})
        await _put(saver, "t1", {}, {}, {}, parent=root_first)
        call_ns = "inner:task-1"
        await _put(
            saver,
            "t1",
            {"a": 1},
            {"a": 1},
            {"a": 1},
            checkpoint_ns=call_ns,
            parents={"": root_first["configurable"]["checkpoint_id"]},
        )
        await _put(saver, "t1", {}, {}, {}, checkpoint_ns="persistent", step=5)

        await saver.aprune(["t1"])

        assert await saver.aget_tuple(generate_config("t1", checkpoint_ns=call_ns)) is None
        assert await _blob_count("t1") == 0
        assert await saver.aget_tuple(generate_config("t1", checkpoint_ns="persistent")) is not None

    async def test_keep_latest_refuses_threads_with_delta_channels(
        self, saver: TortoiseSaver
    ) -> None:
        await _put(saver, "t1", {}, {}, {}, counters_since_delta_snapshot={"messages": [1, 1]})

        with pytest.raises(NotImplementedError, match="DeltaChannel"):
            await saver.aprune(["t1"])

        assert await CheckpointRecord.filter(thread_id="t1").count() == 1

    async def test_delete_removes_the_threads(self, saver: TortoiseSaver) -> None:
        await _chain(saver, "t1", steps=2)
        await _chain(saver, "t2", steps=2)

        await saver.aprune(["t1"], strategy="delete")

        assert await _blob_count("t1") == 0
        assert await _blob_count("t2") == 3

    async def test_a_single_thread_id_string_is_refused(self, saver: TortoiseSaver) -> None:
        with pytest.raises(TypeError, match="sequence"):
            await saver.aprune("t1")

    async def test_an_unknown_strategy_is_refused(self, saver: TortoiseSaver) -> None:
        with pytest.raises(ValueError, match="keep_none"):
            await saver.aprune(["t1"], strategy="keep_none")


class TestCopyThread:
    async def test_the_copy_outlives_its_source_and_copying_again_adds_nothing(
        self, saver: TortoiseSaver
    ) -> None:
        configs = await _chain(saver, "t1", steps=3)
        await saver.aput_writes(configs[-1], [("x", 1)], "task-1")

        await saver.acopy_thread("t1", "t2")
        await saver.acopy_thread("t1", "t2")
        await saver.adelete_thread("t1")

        copied = await _load(saver, generate_config("t2"))
        assert copied.checkpoint["channel_values"] == {"big": "B" * 1000, "step": 2}
        assert copied.pending_writes == [("task-1", "x", 1)]
        assert await CheckpointRecord.filter(thread_id="t2").count() == 3
        assert await _blob_count("t2") == 4


class TestSynchronousApi:
    @pytest.mark.parametrize(
        ("method", "args"),
        [
            ("get_tuple", (generate_config("t1"),)),
            ("list", (None,)),
            ("put", (generate_config("t1"), generate_checkpoint(), generate_metadata(), {})),
            ("put_writes", (generate_config("t1"), [], "task-1")),
            ("delete_thread", ("t1",)),
            ("delete_for_runs", (["r-1"],)),
            ("copy_thread", ("t1", "t2")),
            ("prune", (["t1"],)),
        ],
    )
    def test_every_synchronous_method_points_to_its_async_twin(
        self, method: str, args: tuple[Any, ...]
    ) -> None:
        with pytest.raises(NotImplementedError, match=f"async-only: use `await saver.a{method}"):
            getattr(TortoiseSaver(), method)(*args)


class TestGetNextVersion:
    def test_versions_increase_and_sort_as_strings(self) -> None:
        saver = TortoiseSaver()
        versions = [saver.get_next_version(None, None)]
        for _ in range(11):
            versions.append(saver.get_next_version(versions[-1], None))

        assert versions == sorted(versions)
        assert [int(v.split(".")[0]) for v in versions] == list(range(1, 13))
        assert saver.get_next_version(41, None).startswith(f"{42:032}.")


class TestOpenSaver:
    async def test_migrates_a_new_database_and_closes_it_on_exit(self, database_url: str) -> None:
        async with open_saver(database_url) as saver:
            stored = await _put(saver, "t1", {"a": 1}, {"a": 1}, {"a": 1})
            assert (await _load(saver, stored)).checkpoint["channel_values"] == {"a": 1}

        with pytest.raises(ConfigurationError):
            await CheckpointRecord.all().count()

    async def test_reopening_finds_what_was_saved(self, tmp_path: Path) -> None:
        url = sqlite_url(tmp_path)
        async with open_saver(url) as saver:
            stored = await _put(saver, "t1", {"a": 1}, {"a": 1}, {"a": 1})

        async with open_saver(url) as saver:
            assert (await _load(saver, stored)).checkpoint["channel_values"] == {"a": 1}


class TestExports:
    def test_the_package_exports_the_saver_and_its_opener(self) -> None:
        import shared.database.checkpointer as package

        assert package.__all__ == ["TortoiseSaver", "open_saver"]
