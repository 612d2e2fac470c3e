"""Real LangGraph graphs running on TortoiseSaver: pausing, failing, resuming, storage size."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.types import ERROR
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from shared.database.checkpointer import TortoiseSaver
from shared.database.models.checkpoints import CheckpointBlob, CheckpointRecord, CheckpointWrite


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _linear(
    channels: list[str], node: Callable[[str], Callable[[dict[str, Any]], dict[str, Any]]]
) -> StateGraph:
    """START → one node per channel, in order → END; node `n_<channel>` writes `channel`."""
    state = TypedDict("State", dict.fromkeys(channels, str))  # type: ignore[misc]
    builder = StateGraph(state)
    previous = START
    for channel in channels:
        builder.add_node(f"n_{channel}", node(channel))
        builder.add_edge(previous, f"n_{channel}")
        previous = f"n_{channel}"
    builder.add_edge(previous, END)
    return builder


async def _stored_bytes(thread_id: str) -> int:
    """Payload bytes a thread occupies: checkpoints with metadata, blobs and writes."""
    records = await CheckpointRecord.filter(thread_id=thread_id).values_list(
        "checkpoint", "metadata"
    )
    blobs = await CheckpointBlob.filter(thread_id=thread_id).values_list("blob", flat=True)
    writes = await CheckpointWrite.filter(thread_id=thread_id).values_list("blob", flat=True)
    return (
        sum(len(checkpoint) + len(json.dumps(metadata)) for checkpoint, metadata in records)
        + sum(len(blob or b"") for blob in blobs)
        + sum(len(blob) for blob in writes)
    )


class _ReviewState(TypedDict, total=False):
    topic: str
    draft: str
    answer: str
    final: str


class _FanOutState(TypedDict, total=False):
    a: str
    x: str
    y: str
    z: str


class TestInterruptAndResume:
    async def test_a_paused_run_resumes_from_the_database(self, database: str) -> None:
        calls: Counter[str] = Counter()

        def write(state: _ReviewState) -> _ReviewState:
            calls["write"] += 1
            return {"draft": f"draft on {state['topic']}"}

        def ask(state: _ReviewState) -> _ReviewState:
            calls["ask"] += 1
            return {"answer": interrupt({"question": "publish?", "draft": state["draft"]})}

        def publish(state: _ReviewState) -> _ReviewState:
            calls["publish"] += 1
            return {"final": f"{state['draft']} ({state['answer']})"}

        builder = StateGraph(_ReviewState)
        builder.add_node("write", write)
        builder.add_node("ask", ask)
        builder.add_node("publish", publish)
        builder.add_edge(START, "write")
        builder.add_edge("write", "ask")
        builder.add_edge("ask", "publish")
        builder.add_edge("publish", END)

        paused = await builder.compile(checkpointer=TortoiseSaver()).ainvoke(
            {"topic": "tides"}, _config("run_1")
        )
        # A new graph and saver: everything the resume needs comes from the database.
        graph = builder.compile(checkpointer=TortoiseSaver())
        waiting = await graph.aget_state(_config("run_1"))
        done = await graph.ainvoke(Command(resume="yes"), _config("run_1"))

        assert [i.value for i in paused["__interrupt__"]] == [
            {"question": "publish?", "draft": "draft on tides"}
        ]
        assert waiting.next == ("ask",)
        assert done["final"] == "draft on tides (yes)"
        assert calls == {"write": 1, "ask": 2, "publish": 1}
        history = [s.metadata["step"] async for s in graph.aget_state_history(_config("run_1"))]
        assert history == [3, 2, 1, 0, -1]


class TestFailureAndRetry:
    async def test_only_the_failed_node_runs_again(self, database: str) -> None:
        calls: Counter[str] = Counter()

        def node(name: str) -> Callable[[_FanOutState], _FanOutState]:
            def run(state: _FanOutState) -> _FanOutState:
                calls[name] += 1
                if name == "y" and calls[name] == 1:
                    raise RuntimeError("flaky upstream")
                return {name: name}

            return run

        builder = StateGraph(_FanOutState)
        for name in "axyz":
            builder.add_node(name, node(name))
        builder.add_edge(START, "a")
        builder.add_edge("a", "x")
        builder.add_edge("a", "y")
        builder.add_edge(["x", "y"], "z")
        builder.add_edge("z", END)
        saver = TortoiseSaver()
        graph = builder.compile(checkpointer=saver)

        with pytest.raises(RuntimeError, match="flaky upstream"):
            await graph.ainvoke({}, _config("run_1"))
        failed = await saver.aget_tuple(_config("run_1"))
        result = await builder.compile(checkpointer=TortoiseSaver()).ainvoke(None, _config("run_1"))

        assert failed is not None
        # x finished and its writes were kept; y's task left its error.
        assert sorted((channel, value) for _, channel, value in failed.pending_writes or []) == [
            (ERROR, "RuntimeError('flaky upstream')"),
            ("join:x+y:z", "x"),
            ("x", "x"),
        ]
        assert result == {"a": "a", "x": "x", "y": "y", "z": "z"}
        assert calls == {"a": 1, "x": 1, "y": 2, "z": 1}


class TestStorage:
    async def test_an_unchanged_channel_is_stored_once_per_run(self, database: str) -> None:
        document = secrets.token_hex(2048)

        def node(channel: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
            return lambda state: {channel: document if channel == "doc" else channel}

        channels = ["doc", *(f"s{i}" for i in range(8))]
        graph = _linear(channels, node).compile(checkpointer=TortoiseSaver())

        result = await graph.ainvoke({}, _config("run_1"))

        assert result["doc"] == document
        assert await CheckpointRecord.filter(thread_id="run_1").count() == len(channels) + 2
        assert await CheckpointBlob.filter(thread_id="run_1", channel="doc").count() == 1

    async def test_storage_grows_linearly_with_the_number_of_nodes(self, database: str) -> None:
        def node(channel: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
            return lambda state: {channel: secrets.token_hex(5 * 1024)}

        per_node = {}
        for size in (10, 50):
            channels = [f"out{i}" for i in range(size)]
            graph = _linear(channels, node).compile(checkpointer=TortoiseSaver())
            await graph.ainvoke({}, _config(f"run_{size}"))
            per_node[size] = await _stored_bytes(f"run_{size}") / size

        # Each output is kept twice (as the task's write and as the channel's blob), so a
        # node costs about 20 KB; storing the whole state at every step would make the
        # 50-node run cost 5x more per node than the 10-node one.
        assert 20 * 1024 < per_node[10] < per_node[50] < 1.5 * per_node[10]
