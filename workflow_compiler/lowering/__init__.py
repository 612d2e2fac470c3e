"""Lowering of a checked spec to a LangGraph ``StateGraph``, and the run API.

Key contracts:

- One LangGraph node per spec node, named by its id; synthetic helpers are ``<id>.<role>``
  (``.repeat``, ``.item``, ``.collect``, ``.branch<i>``), which no spec id can be.
- Each node output lives in its own channel (``out:<id>``), so a checkpoint stores only the
  outputs a superstep produced.
- ``compile_workflow`` caches by spec hash; a compiled workflow is shared by all runs of the
  spec and binds each call's checkpointer cheaply.
- A loop checks its condition before each pass and stops after ``max_iterations`` passes even
  if the condition still holds; its output ``{"iterations": n}`` counts the passes run.
"""

from workflow_compiler.lowering.compiled import (
    CheckpointNotFoundError,
    CompiledWorkflow,
    PendingInput,
    ResumeError,
    RunOutcome,
    clear_cache,
    compile_workflow,
)

__all__ = [
    "CheckpointNotFoundError",
    "CompiledWorkflow",
    "PendingInput",
    "ResumeError",
    "RunOutcome",
    "clear_cache",
    "compile_workflow",
]
