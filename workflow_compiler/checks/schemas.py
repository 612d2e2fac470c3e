"""The JSON Schemas a spec embeds (``inputs``, ``llm.output_schema``, ``human.schema``) are valid.

A schema that is malformed, or whose ``$ref`` points nowhere, would make ``jsonschema`` raise in
the middle of a run (when inputs, a model's answer or a person's answer are validated), so the
checks reject it up front, at the path of the offending keyword.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from workflow_compiler.checks.paths import json_path
from workflow_compiler.errors import CheckIssue
from workflow_compiler.spec import HumanNode, LlmNode, WorkflowSpec, walk

_META = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)
"""Validates schemas against the 2020-12 meta-schema, including that patterns are regexes."""
_BASE_URI = "urn:plait:schema"
"""Base URI of a schema without ``$id``; nothing else can be fetched from it."""
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})
"""Keywords whose values are instance data, so a ``$ref`` key inside them is not a reference."""


def check_embedded_schemas(spec: WorkflowSpec) -> list[CheckIssue]:
    """Issues of every JSON Schema written in the spec, each at its own path."""
    issues = schema_issues(spec.inputs, "inputs")
    declared = spec.inputs.get("type")
    if declared is not None and declared != "object":
        issues.append(
            CheckIssue(
                path="inputs.type",
                message="the inputs schema should describe an object: inputs are named values",
                severity="warning",
            )
        )
    for path, node in walk(spec.nodes):
        if isinstance(node, LlmNode) and node.output_schema is not None:
            issues += schema_issues(node.output_schema, f"{path}.output_schema")
        elif isinstance(node, HumanNode):
            issues += schema_issues(node.schema_, f"{path}.schema")
    return issues


def schema_issues(schema: Any, path: str) -> list[CheckIssue]:
    """Why ``schema`` is not a usable JSON Schema (2020-12), one issue per problem.

    Args:
        schema: The schema as written in the spec.
        path: Its JSON path in the spec; issues point below it.
    """
    seen: set[tuple[str, str]] = set()
    issues: list[CheckIssue] = []
    for error in _META.iter_errors(schema):
        key = (json_path(error.absolute_path, path), f"invalid JSON Schema: {error.message}")
        if key not in seen:
            seen.add(key)
            issues.append(CheckIssue(path=key[0], message=key[1]))
    if issues or not isinstance(schema, Mapping):
        return issues
    return [
        CheckIssue(path=json_path(ref_path, path), message=f"$ref '{ref}' cannot be resolved")
        for ref_path, ref in _unresolvable_refs(schema)
    ]


def _unresolvable_refs(schema: Mapping[str, Any]) -> Iterator[tuple[list[str | int], str]]:
    """Each ``$ref`` of the schema that resolves to nothing, with its path in the schema.

    Remote references are unresolvable on purpose: nothing is fetched. References below a
    nested ``$id`` (which changes the base URI) are left to the validator.
    """
    base = schema.get("$id") if isinstance(schema.get("$id"), str) else _BASE_URI
    registry = Registry().with_resource(base, DRAFT202012.create_resource(schema)).crawl()
    resolver = registry.resolver(base_uri=base)
    for ref_path, ref in _refs(schema, []):
        try:
            resolver.lookup(ref)
        except (Unresolvable, LookupError, TypeError, ValueError):
            yield ref_path, ref


def _refs(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(value, Mapping):
        if path and "$id" in value:
            return
        ref = value.get("$ref")
        if isinstance(ref, str):
            yield [*path, "$ref"], ref
        for key, item in value.items():
            if key not in _DATA_KEYWORDS:
                yield from _refs(item, [*path, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _refs(item, [*path, i])
