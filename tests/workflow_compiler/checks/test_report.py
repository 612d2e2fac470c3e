"""CheckReport and the issue log."""

from __future__ import annotations

from workflow_compiler.checks import CheckReport
from workflow_compiler.checks.report import IssueLog
from workflow_compiler.errors import CheckIssue
from workflow_compiler.spec import WorkflowSpec

_SPEC = WorkflowSpec.model_validate({"version": "1", "nodes": [{"id": "a", "type": "set"}]})
_ERROR = CheckIssue(path="nodes[0]", message="bad")
_WARNING = CheckIssue(path="output", message="hm", severity="warning")


class TestCheckReport:
    def test_splits_errors_and_warnings(self) -> None:
        report = CheckReport(_SPEC, [_WARNING, _ERROR])

        assert report.errors == [_ERROR]
        assert report.warnings == [_WARNING]
        assert not report.ok

    def test_warnings_do_not_block(self) -> None:
        assert CheckReport(_SPEC, [_WARNING]).ok

    def test_no_spec_is_never_ok(self) -> None:
        assert not CheckReport(None, []).ok


class TestIssueLog:
    def test_drops_exact_repeats_in_order(self) -> None:
        log = IssueLog()

        log.error("nodes[0]", "bad")
        log.warning("output", "hm")
        log.extend([_ERROR, CheckIssue(path="nodes[0]", message="bad", severity="warning")])

        assert log.issues == [
            _ERROR,
            _WARNING,
            CheckIssue(path="nodes[0]", message="bad", severity="warning"),
        ]
