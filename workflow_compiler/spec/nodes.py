"""Pydantic models of spec v1 nodes. Field names are part of the public contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from workflow_compiler.spec.policies import OnError, RetryPolicy

NODE_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
VARIABLE_PATTERN = r"^[a-z_][a-z0-9_]*$"
RESERVED_NAMES = frozenset({"inputs", "nodes", "run", "secrets"})
"""Names every expression sees; loop variables may not shadow them."""
WORKFLOW_ID_PATTERN = r"^wf_[0-9A-HJKMNP-TV-Z]{26}$"
"""A workflow's public id (``shared.ids``): ``wf_`` and 26 Crockford base32 characters."""

NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN, max_length=64)]
Template = Annotated[str, Field(max_length=100_000)]
"""A string that may hold ``{{ expr }}`` placeholders."""
Condition = Annotated[str, Field(min_length=1, max_length=10_000)]
"""A bare Jinja2 expression (no braces) evaluated for its truth."""


class NodeBase(BaseModel):
    """Fields every node has."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)

    id: NodeId
    """Unique in the spec; other nodes read this node's output as ``nodes.<id>.output``."""
    name: str | None = Field(default=None, max_length=200)
    """Human-readable label for UIs and logs."""
    retry: RetryPolicy = RetryPolicy()
    """How a failure of this node is retried."""
    timeout_s: float | None = Field(default=None, gt=0, le=86_400)
    """Bound on one attempt of this node, from its start to its end."""
    on_error: OnError = "fail"
    """What a failure (after retries) does to the run."""


class SetNode(NodeBase):
    """Produces a value; templates inside it are rendered."""

    type: Literal["set"]
    value: Any = None


class ChatMessage(BaseModel):
    """One message of an ``llm`` node's ``messages``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    role: Literal["system", "user", "assistant"]
    content: Template


class LlmNode(NodeBase):
    """Calls a chat model; JSON output when ``output_schema`` is set; tool calls via ``tools``."""

    type: Literal["llm"]
    model: str | None = Field(default=None, max_length=200)
    """Model name; unset means the provider's default model."""
    provider: str | None = Field(default=None, max_length=100)
    """Configured provider name; unset means the default provider."""
    system: Template | None = None
    prompt: Template | None = None
    messages: list[ChatMessage] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    output_schema: dict[str, Any] | None = None
    """JSON Schema of the answer; the node's output is then the parsed, validated object."""
    tools: list[str] = Field(default_factory=list)
    """Registry tool names the model may call."""
    max_tool_steps: int = Field(default=8, ge=1, le=100)
    """Bound on model calls in the tool-calling loop."""

    @model_validator(mode="after")
    def _one_prompt(self) -> LlmNode:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("exactly one of 'prompt' or 'messages' is required")
        return self


class ToolNode(NodeBase):
    """Calls a registry tool with rendered ``args``."""

    type: Literal["tool"]
    tool: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)


class IfNode(NodeBase):
    """Runs ``then`` when ``condition`` holds, else ``else``. Output: ``{"branch": ...}``."""

    type: Literal["if"]
    condition: Condition
    then: list[Node] = Field(default_factory=list)
    else_: list[Node] = Field(default_factory=list, alias="else")


class SwitchCase(BaseModel):
    """One case of a ``switch``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    when: Condition
    nodes: list[Node] = Field(default_factory=list)


class SwitchNode(NodeBase):
    """Runs the first case whose ``when`` holds, else ``default``. Output: ``{"case": ...}``."""

    type: Literal["switch"]
    cases: list[SwitchCase] = Field(min_length=1)
    default: list[Node] = Field(default_factory=list)


class ParallelNode(NodeBase):
    """Runs every branch concurrently and continues when all have ended. Output: ``{}``."""

    type: Literal["parallel"]
    branches: list[list[Node]] = Field(min_length=1)


class ForEachNode(NodeBase):
    """Runs ``body`` once per item, ``concurrency`` at a time. Output: results in item order."""

    type: Literal["for_each"]
    items: Any
    """A template yielding a list (``"{{ inputs.xs }}"``), or a literal list."""
    as_: str = Field(default="item", alias="as", pattern=VARIABLE_PATTERN)
    index_as: str = Field(default="index", pattern=VARIABLE_PATTERN)
    body: list[Node] = Field(min_length=1)
    result: Template | None = None
    """Template in the body's scope; unset means the output of the body's last node."""
    concurrency: int = Field(default=4, ge=1, le=256)

    @model_validator(mode="after")
    def _variables(self) -> ForEachNode:
        for name in (self.as_, self.index_as):
            if name in RESERVED_NAMES:
                raise ValueError(f"loop variable '{name}' shadows a reserved name")
        if self.as_ == self.index_as:
            raise ValueError("'as' and 'index_as' must differ")
        return self


class LoopNode(NodeBase):
    """Runs ``body`` while ``condition`` holds, at most ``max_iterations`` times."""

    type: Literal["loop"]
    condition: Condition
    body: list[Node] = Field(min_length=1)
    max_iterations: int = Field(ge=1, le=10_000)


class HumanNode(NodeBase):
    """Pauses the run until a person answers; the answer is validated against ``schema``."""

    type: Literal["human"]
    prompt: Template
    schema_: dict[str, Any] = Field(default_factory=lambda: {"type": "string"}, alias="schema")


class WorkflowNode(NodeBase):
    """Runs a saved workflow as a child run of this one; its outputs are this node's output.

    The child is a run of its own (its own row, checkpoints and events, ``parent_run_id``
    naming this run), started once per execution of the node: executing the node again (after
    a crash, or when this run is retried) takes the same child up again instead of starting
    another. Only the Plait server can start child runs.
    """

    type: Literal["workflow"]
    workflow_id: str = Field(pattern=WORKFLOW_ID_PATTERN)
    """Id of a workflow of the same tenant (``wf_...``)."""
    version: Literal["published"] | Annotated[int, Field(ge=1, strict=True)] = "published"
    """The version to run: ``"published"`` (whichever is published when the node executes), or
    a version number, pinned."""
    inputs: dict[str, Any] = Field(default_factory=dict)
    """The child run's inputs; its strings are templates, rendered in this node's scope, and
    the result is validated against the child's input schema. Stored with the child run, so
    it may not read ``secrets``."""

    @field_validator("version", mode="wrap")
    @classmethod
    def _version(
        cls, value: Any, handler: ValidatorFunctionWrapHandler
    ) -> int | Literal["published"]:
        """One message instead of one per member of the union."""
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(
                'version must be "published" or a version number (1 or more)'
            ) from None


Node = Annotated[
    SetNode
    | LlmNode
    | ToolNode
    | IfNode
    | SwitchNode
    | ParallelNode
    | ForEachNode
    | LoopNode
    | HumanNode
    | WorkflowNode,
    Field(discriminator="type"),
]
"""Any spec node, told apart by ``type``."""

CONTROL_TYPES = frozenset({"if", "switch", "parallel", "for_each", "loop"})
"""Node types that hold nested node lists."""

for _model in (IfNode, SwitchCase, SwitchNode, ParallelNode, ForEachNode, LoopNode):
    _model.model_rebuild()
