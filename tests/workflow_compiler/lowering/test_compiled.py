"""The run API: start, resume, continue_run, the compile cache, checkpoints, mermaid."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from tests.workflow_compiler.lowering.conftest import (
    Compile,
    ProbeTool,
    Run,
    probe_node,
    set_node,
    spec,
)
from workflow_compiler.context import RuntimeServices
from workflow_compiler.errors import ErrorKind, InputsInvalidError
from workflow_compiler.events import CollectingSink
from workflow_compiler.lowering import ResumeError, compile_workflow
from workflow_compiler.lowering.state import output_key
from workflow_compiler.spec import WorkflowSpec

LINEAR = spec(
    set_node("a", "{{ inputs.n }}"),
    set_node("b", "{{ nodes.a.output + 1 }}"),
    set_node("c", "{{ nodes.b.output * 2 }}"),
    inputs={"type": "object", "properties": {"n": {"type": "integer", "default": 1}}},
)


class TestStart:
    async def test_set_nodes_run_in_order_and_the_last_output_is_the_result(
        self, run_spec: Run
    ) -> None:
        outcome = await run_spec(LINEAR, {"n": 4})

        assert outcome.status == "completed"
        assert outcome.output == 10
        assert outcome.pending == []
        assert outcome.error is None

    async def test_input_defaults_are_applied(self, run_spec: Run) -> None:
        outcome = await run_spec(LINEAR)

        assert outcome.output == 4

    async def test_output_mapping_is_rendered_from_the_final_state(self, run_spec: Run) -> None:
        raw = {
            **LINEAR,
            "output": {"first": "{{ nodes.a.output }}", "text": "c={{ nodes.c.output }}"},
        }

        outcome = await run_spec(raw, {"n": 2})

        assert outcome.output == {"first": 2, "text": "c=6"}

    async def test_expressions_see_the_run_mapping(
        self, compile_spec: Compile, services: RuntimeServices, saver: InMemorySaver
    ) -> None:
        compiled = compile_spec(spec(set_node("who", "{{ run.id }}/{{ run.trigger }}")))

        outcome = await compiled.start(
            {}, run_id="r-7", services=services, checkpointer=saver, run={"trigger": "manual"}
        )

        assert outcome.output == "r-7/manual"

    async def test_a_tool_node_calls_the_tool_with_rendered_args(
        self, run_spec: Run, probe: ProbeTool
    ) -> None:
        outcome = await run_spec(spec(probe_node("fetch", {"got": "{{ inputs.x }}"})), {"x": 3})

        assert outcome.output == {"got": 3}
        assert probe.calls == ["fetch"]

    async def test_invalid_inputs_raise_before_anything_runs(
        self, compile_spec: Compile, services: RuntimeServices, events: CollectingSink
    ) -> None:
        compiled = compile_spec(LINEAR)

        with pytest.raises(InputsInvalidError):
            await compiled.start(
                {"n": "four"}, run_id="r", services=services, checkpointer=InMemorySaver()
            )
        assert events.events == []

    async def test_run_events_frame_the_node_events(
        self, run_spec: Run, events: CollectingSink
    ) -> None:
        await run_spec(LINEAR, {"n": 1})

        kinds = events.kinds()
        assert kinds[0] == "run_started"
        assert kinds[-1] == "run_completed"
        assert kinds[1:-1] == ["node_started", "node_completed"] * 3
        assert events.events[-1].data == {"output": 4}
        assert all(e.run_id == "run-1" for e in events.events)

    async def test_a_failing_node_fails_the_run_without_raising(
        self, run_spec: Run, probe: ProbeTool, events: CollectingSink
    ) -> None:
        probe.broken.add("bad")

        outcome = await run_spec(spec(probe_node("bad"), set_node("after", 1)))

        assert outcome.status == "failed"
        assert outcome.error is not None
        assert outcome.error.kind == ErrorKind.TOOL_ERROR
        assert events.kinds()[-1] == "run_failed"
        assert "after" not in {e.node_id for e in events.events}

    async def test_an_output_template_that_fails_fails_the_run(self, run_spec: Run) -> None:
        outcome = await run_spec({**LINEAR, "output": "{{ 10 // (nodes.a.output - 1) }}"}, {"n": 1})

        assert outcome.status == "failed"
        assert outcome.error is not None
        assert outcome.error.kind == ErrorKind.EXPRESSION_ERROR

    async def test_runs_without_a_checkpointer(
        self, compile_spec: Compile, services: RuntimeServices
    ) -> None:
        outcome = await compile_spec(LINEAR).start(
            {"n": 0}, run_id="r", services=services, checkpointer=None
        )

        assert outcome.output == 2


class TestResume:
    HUMAN = spec(
        set_node("amount", "{{ inputs.amount }}"),
        {
            "id": "approve",
            "type": "human",
            "prompt": "Pay {{ nodes.amount.output }}?",
            "schema": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"],
            },
        },
        set_node("done", "{{ nodes.approve.output.ok }}"),
    )

    async def test_a_human_node_waits_then_runs_on_with_the_answer(
        self, compile_spec: Compile, services: RuntimeServices, saver: InMemorySaver
    ) -> None:
        compiled = compile_spec(self.HUMAN)

        waiting = await compiled.start(
            {"amount": 12}, run_id="r", services=services, checkpointer=saver
        )

        assert waiting.status == "waiting_human"
        [question] = waiting.pending
        assert (question.node_id, question.prompt, question.error) == ("approve", "Pay 12?", None)
        assert question.schema["required"] == ["ok"]

        done = await compiled.resume(
            {question.id: {"ok": True}}, run_id="r", services=services, checkpointer=saver
        )

        assert done.status == "completed"
        assert done.output is True

    async def test_an_invalid_answer_asks_again_with_the_reason(
        self, compile_spec: Compile, services: RuntimeServices, saver: InMemorySaver
    ) -> None:
        compiled = compile_spec(self.HUMAN)
        waiting = await compiled.start(
            {"amount": 1}, run_id="r", services=services, checkpointer=saver
        )

        again = await compiled.resume(
            {waiting.pending[0].id: {"ok": "yes"}},
            run_id="r",
            services=services,
            checkpointer=saver,
        )

        assert again.status == "waiting_human"
        [question] = again.pending
        assert question.id != waiting.pending[0].id
        assert question.error is not None
        assert "answer.ok" in question.error
        done = await compiled.resume(
            {question.id: {"ok": False}}, run_id="r", services=services, checkpointer=saver
        )
        assert done.output is False

    async def test_resume_keeps_the_run_mapping(
        self, compile_spec: Compile, services: RuntimeServices, saver: InMemorySaver
    ) -> None:
        raw = spec(
            {"id": "ask", "type": "human", "prompt": "?"},
            set_node("who", "{{ run.id }}:{{ run.trigger }}"),
        )
        compiled = compile_spec(raw)
        waiting = await compiled.start(
            {}, run_id="r", services=services, checkpointer=saver, run={"trigger": "cron"}
        )

        done = await compiled.resume(
            {waiting.pending[0].id: "fine"}, run_id="r", services=services, checkpointer=saver
        )

        assert done.output == "r:cron"

    async def test_unknown_question_ids_are_refused(
        self, compile_spec: Compile, services: RuntimeServices, saver: InMemorySaver
    ) -> None:
        compiled = compile_spec(self.HUMAN)
        await compiled.start({"amount": 1}, run_id="r", services=services, checkpointer=saver)

        with pytest.raises(ResumeError, match="unknown question ids"):
            await compiled.resume(
                {"not-a-question": {"ok": True}}, run_id="r", services=services, checkpointer=saver
            )
        with pytest.raises(ResumeError, match="no answers"):
            await compiled.resume({}, run_id="r", services=services, checkpointer=saver)


class TestContinueRun:
    async def test_reexecutes_only_from_the_failed_node(
        self,
        compile_spec: Compile,
        services: RuntimeServices,
        saver: InMemorySaver,
        probe: ProbeTool,
    ) -> None:
        compiled = compile_spec(
            spec(probe_node("first", 1), probe_node("flaky", 2), probe_node("last", 3))
        )
        probe.broken.add("flaky")
        failed = await compiled.start({}, run_id="r", services=services, checkpointer=saver)
        assert failed.status == "failed"
        assert probe.calls == ["first", "flaky"]

        probe.broken.clear()
        outcome = await compiled.continue_run(run_id="r", services=services, checkpointer=saver)

        assert outcome.status == "completed"
        assert outcome.output == 3
        assert probe.calls == ["first", "flaky", "flaky", "last"]

    async def test_a_finished_run_is_not_executed_again(
        self,
        compile_spec: Compile,
        services: RuntimeServices,
        saver: InMemorySaver,
        probe: ProbeTool,
    ) -> None:
        compiled = compile_spec(spec(probe_node("only", "x")))
        await compiled.start({}, run_id="r", services=services, checkpointer=saver)

        outcome = await compiled.continue_run(run_id="r", services=services, checkpointer=saver)

        assert outcome.output == "x"
        assert probe.calls == ["only"]


class TestCompileWorkflow:
    def test_the_same_spec_hits_the_cache(self, compile_spec: Compile) -> None:
        first = compile_spec(LINEAR)
        reordered = WorkflowSpec.model_validate(dict(reversed(list(LINEAR.items()))))

        assert compile_workflow(reordered) is first
        assert first.spec_hash == reordered.spec_hash()

    def test_a_different_spec_compiles_anew(self, compile_spec: Compile) -> None:
        other = spec(set_node("a", 1))

        assert compile_spec(other) is not compile_spec(LINEAR)

    def test_the_cached_graph_has_no_checkpointer(self, compile_spec: Compile) -> None:
        assert compile_spec(LINEAR).graph.checkpointer is None


class TestCheckpoints:
    async def test_one_checkpoint_per_superstep(self, run_spec: Run, saver: InMemorySaver) -> None:
        await run_spec(LINEAR, {"n": 1})

        steps = [
            c.metadata["step"] async for c in saver.alist({"configurable": {"thread_id": "run-1"}})
        ]
        # -1: the input; 0: LangGraph's start node; then one superstep per spec node.
        assert sorted(steps) == [-1, 0, 1, 2, 3]

    async def test_an_unchanged_output_is_stored_once(
        self, run_spec: Run, saver: InMemorySaver
    ) -> None:
        await run_spec(LINEAR, {"n": 1})

        checkpoints = [c async for c in saver.alist({"configurable": {"thread_id": "run-1"}})]
        versions = {
            c.checkpoint["channel_versions"].get(output_key("a"))
            for c in checkpoints
            if c.metadata["step"] >= 1
        }
        assert len(versions) == 1
        for node_id in ("a", "b", "c"):
            blobs = [key for key in saver.blobs if key[2] == output_key(node_id)]
            assert len(blobs) == 1, node_id


class TestSecrets:
    async def test_secret_values_never_reach_outputs_events_or_checkpoints(
        self, run_spec: Run, saver: InMemorySaver, events: CollectingSink
    ) -> None:
        outcome = await run_spec(
            spec(
                set_node("echo", {"header": "Bearer {{ secrets.HOOK_TOKEN }}"}),
                set_node("later", "{{ nodes.echo.output.header }}"),
            )
        )

        assert outcome.output == "Bearer ***"
        stored = repr((saver.storage, saver.writes, saver.blobs))
        assert "***" in stored
        assert "tok-123" not in stored
        assert "tok-123" not in repr(events.events)


class TestMermaid:
    def test_every_node_id_appears(self, compile_spec: Compile) -> None:
        raw = spec(
            set_node("start", 1),
            {
                "id": "check",
                "type": "if",
                "condition": "nodes.start.output > 0",
                "then": [set_node("yes", 1)],
                "else": [set_node("no", 0)],
            },
            {
                "id": "each",
                "type": "for_each",
                "items": "{{ [1, 2] }}",
                "body": [set_node("double", "{{ item * 2 }}")],
            },
            {
                "id": "again",
                "type": "loop",
                "condition": "false",
                "max_iterations": 2,
                "body": [set_node("spin", 1)],
            },
        )

        text = compile_spec(raw).mermaid()

        assert text.startswith(("---", "graph"))
        for node_id in ("start", "check", "yes", "no", "each", "double", "again", "spin"):
            assert f"({node_id})" in text, node_id


class TestRecursionLimit:
    async def test_a_loop_of_100_iterations_fits_the_bound(self, run_spec: Run) -> None:
        raw = spec(
            {
                "id": "spin",
                "type": "loop",
                "condition": "true",
                "max_iterations": 100,
                "body": [set_node("one", 1), set_node("two", "{{ nodes.one.output + 1 }}")],
            }
        )

        outcome = await run_spec(raw)

        assert outcome.status == "completed"
        assert outcome.output == {"iterations": 100}

    def test_the_bound_follows_the_spec_not_the_default(self, compile_spec: Compile) -> None:
        loop = spec(
            {
                "id": "spin",
                "type": "loop",
                "condition": "true",
                "max_iterations": 50,
                "body": [set_node("one", 1)],
            }
        )

        assert compile_spec(loop).recursion_limit > 100
        assert compile_spec(LINEAR).recursion_limit < 25
