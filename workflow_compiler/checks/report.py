"""What the static checks found: the parsed spec (when it parsed) and every issue."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflow_compiler.errors import CheckIssue
from workflow_compiler.spec import WorkflowSpec


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The outcome of ``check_spec``: errors block compiling, warnings are advice."""

    spec: WorkflowSpec | None
    """The parsed spec; None when the document does not even have the shape of a spec."""
    issues: list[CheckIssue]
    """Errors and warnings in document order."""

    @property
    def errors(self) -> list[CheckIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[CheckIssue]:
        return [issue for issue in self.issues if issue.severity == "warning"]

    @property
    def ok(self) -> bool:
        """Whether the spec may be compiled and run (warnings do not count)."""
        return self.spec is not None and not self.errors


@dataclass(slots=True)
class IssueLog:
    """Collects issues while the checks walk a spec, dropping exact repeats.

    A template that reads the same bad reference twice, or a switch whose cases share a
    mistake, would otherwise report the same line several times.
    """

    issues: list[CheckIssue] = field(default_factory=list)
    _seen: set[CheckIssue] = field(default_factory=set)

    def add(self, issue: CheckIssue) -> None:
        if issue not in self._seen:
            self._seen.add(issue)
            self.issues.append(issue)

    def extend(self, issues: list[CheckIssue]) -> None:
        for issue in issues:
            self.add(issue)

    def error(self, path: str, message: str) -> None:
        self.add(CheckIssue(path=path, message=message, severity="error"))

    def warning(self, path: str, message: str) -> None:
        self.add(CheckIssue(path=path, message=message, severity="warning"))
