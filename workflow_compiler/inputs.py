"""Run inputs against the spec's ``inputs`` schema, with the defaults it declares applied.

JSON Schema treats ``default`` as an annotation only; Plait applies it (DESIGN §3: "defaults
declared in it are applied"), so a spec can make an input optional and still read it as
``inputs.name`` without a ``| default(...)`` guard in every template.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from workflow_compiler.checks.paths import json_path, json_type
from workflow_compiler.checks.schemas import schema_issues
from workflow_compiler.errors import CheckIssue, InputsInvalidError, SpecInvalidError
from workflow_compiler.spec import WorkflowSpec

_ROOT = "inputs"


class InputValidator:
    """Validates run inputs against one input schema, checked and compiled once.

    A compiled workflow keeps one, so starting a run does not re-check the schema or rebuild
    the validator each time.

    Raises:
        SpecInvalidError: on construction, when the schema itself is unusable (a spec that
            went through the checks never has one).
    """

    __slots__ = ("_schema", "_validator")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        problems = schema_issues(schema, _ROOT)
        if problems:
            raise SpecInvalidError(problems)
        self._schema = schema
        self._validator = Draft202012Validator(schema)

    def __call__(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The run inputs with defaults applied, once they satisfy the schema.

        Args:
            inputs: The inputs as given; left untouched.

        Returns:
            A new dict: ``inputs`` plus every ``default`` declared under ``properties``
            (nested objects and array items included) for the keys that were absent.

        Raises:
            InputsInvalidError: every violation at once, at paths like ``inputs.text`` or
                ``inputs.items[2].name``.
        """
        if not isinstance(inputs, Mapping):
            raise InputsInvalidError(
                [
                    CheckIssue(
                        path=_ROOT, message=f"inputs must be an object, not {json_type(inputs)}"
                    )
                ]
            )
        values = _with_defaults(self._schema, copy.deepcopy(dict(inputs)))
        issues: list[CheckIssue] = []
        for error in self._validator.iter_errors(values):
            for issue in _issues(error):
                if issue not in issues:
                    issues.append(issue)
        if issues:
            raise InputsInvalidError(issues)
        return values


def validate_inputs(spec: WorkflowSpec, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``InputValidator(spec.inputs)(inputs)``, for one-off callers."""
    return InputValidator(spec.inputs)(inputs)


def _with_defaults(schema: Any, value: Any) -> Any:
    """Fill absent properties from their ``default``, in place, descending into what is there."""
    if not isinstance(schema, Mapping):
        return value
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            for name, sub in properties.items():
                if name not in value and isinstance(sub, Mapping) and "default" in sub:
                    value[name] = copy.deepcopy(sub["default"])
                if name in value:
                    value[name] = _with_defaults(sub, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            value[i] = _with_defaults(schema["items"], item)
    return value


def _issues(error: ValidationError) -> list[CheckIssue]:
    """One issue per violation; a missing required property is reported at its own path."""
    path = json_path(error.absolute_path, _ROOT)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        return [
            CheckIssue(path=json_path([name], path), message="required property is missing")
            for name in required
            if isinstance(name, str) and name not in error.instance
        ]
    return [CheckIssue(path=path, message=error.message)]
