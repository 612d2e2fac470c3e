"""Checked, compiled specs of stored versions and runs, kept per process by their stored hash.

Checking a spec (``parse_spec``: its JSON Schema, references, expression syntax) costs about
a millisecond, and every run of a version checks the same spec again: in the API that starts
it and in the worker that takes it up; finding its compiled graph in the compile cache then
hashes it again. A version's spec and a run's snapshot never change, so the ``spec_hash``
stored beside them names their spec for good, and a cached compiled workflow is reused while
the tools it was checked against are the same (the registry's ``revision``). A spec that
fails its checks is not cached: the next call checks it again, and raises again.
"""

from __future__ import annotations

from collections import OrderedDict
from weakref import WeakKeyDictionary

from api.services.run_records import run_spec
from shared.database.models import WorkflowRun
from workflow_compiler.checks import parse_spec
from workflow_compiler.lowering import CompiledWorkflow, compile_workflow
from workflow_compiler.registries.tools import ToolRegistry
from workflow_compiler.spec import WorkflowSpec

__all__ = ["checked_run_workflow", "checked_workflow"]

CACHE_SIZE = 512
"""Compiled workflows kept per tool registry, least recently used dropped first."""

_Key = tuple[int, str]
"""(the registry's revision, the stored spec hash)."""

_cache: WeakKeyDictionary[ToolRegistry, OrderedDict[_Key, CompiledWorkflow]] = WeakKeyDictionary()


def checked_workflow(raw: object, spec_hash: str, *, tools: ToolRegistry) -> CompiledWorkflow:
    """``compile_workflow(parse_spec(raw))``, for a stored spec whose stored hash is
    ``spec_hash``.

    Raises:
        SpecInvalidError: the spec fails its checks (a tool it names is gone).
    """
    return _cached(spec_hash, tools) or _remember(spec_hash, tools, parse_spec(raw, tools=tools))


async def checked_run_workflow(run: WorkflowRun, *, tools: ToolRegistry) -> CompiledWorkflow:
    """The checked, compiled spec a stored run executes; its version is read only when it is
    not cached.

    Raises:
        SpecInvalidError: the spec fails its checks.
    """
    cached = _cached(run.spec_hash, tools)
    if cached is not None:
        return cached
    return _remember(run.spec_hash, tools, parse_spec(await run_spec(run), tools=tools))


def _cached(spec_hash: str, tools: ToolRegistry) -> CompiledWorkflow | None:
    specs = _cache.get(tools)
    if specs is None:
        return None
    key = (tools.revision, spec_hash)
    compiled = specs.get(key)
    if compiled is not None:
        specs.move_to_end(key)
    return compiled


def _remember(spec_hash: str, tools: ToolRegistry, spec: WorkflowSpec) -> CompiledWorkflow:
    compiled = compile_workflow(spec)
    specs = _cache.setdefault(tools, OrderedDict())
    specs[(tools.revision, spec_hash)] = compiled
    while len(specs) > CACHE_SIZE:
        specs.popitem(last=False)
    return compiled
