"""Every example passes the checks; the no-network example runs end to end with its output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.cli.conftest import CliRunner
from tests.examples.conftest import EXAMPLES, load
from workflow_compiler.checks import check_spec
from workflow_compiler.registries.builtin import default_tool_registry

ALL = sorted(EXAMPLES.glob("*.json"))


class TestExamples:
    def test_there_are_at_least_six(self) -> None:
        assert len(ALL) >= 6

    @pytest.mark.parametrize("path", ALL, ids=lambda path: path.stem)
    def test_passes_the_checks_without_an_issue(self, path: Path) -> None:
        report = check_spec(load(path.name), tools=default_tool_registry(load_plugins=False))
        assert [str(issue) for issue in report.issues] == []
        assert report.ok

    @pytest.mark.parametrize("path", ALL, ids=lambda path: path.stem)
    def test_says_what_it_does(self, path: Path) -> None:
        spec = load(path.name)
        assert spec["name"]
        assert len(spec["description"]) > 40


class TestOrderTotals:
    """The quick-start example: set, for_each, if, switch and loop, with no network."""

    def test_default_inputs(self, cli: CliRunner) -> None:
        result = cli("run", str(EXAMPLES / "order_totals.json"))
        assert result.code == 0, result.err
        assert result.json() == {
            "lines": [
                {"sku": "PEN-BLUE", "bulk": True, "amount": 16.2},
                {"sku": "NOTEBOOK-A5", "bulk": False, "amount": 12.75},
                {"sku": "DESK-LAMP", "bulk": False, "amount": 39.9},
            ],
            "subtotal": 68.85,
            "shipping": 4.95,
            "total": 73.8,
            "loyalty": {"tier": "silver", "points": 147},
            "instalments": 3,
        }

    def test_free_shipping_gold_tier_and_more_instalments(self, cli: CliRunner) -> None:
        result = cli(
            "run",
            str(EXAMPLES / "order_totals.json"),
            "--input",
            'lines=[{"sku": "CHAIR", "qty": 2, "unit_price": 89}]',
            "--input",
            "monthly_budget=50",
        )
        assert result.code == 0, result.err
        output = result.json()
        assert output["shipping"] == 0
        assert output["total"] == 178
        assert output["loyalty"] == {"tier": "gold", "points": 534}
        assert output["instalments"] == 4

    def test_a_small_order_pays_shipping_in_one_instalment(self, cli: CliRunner) -> None:
        result = cli(
            "run",
            str(EXAMPLES / "order_totals.json"),
            "--input",
            'lines=[{"sku": "PEN", "qty": 2, "unit_price": 0}]',
        )
        assert result.code == 0, result.err
        output = result.json()
        assert output["subtotal"] == 0
        assert output["total"] == 4.95
        assert output["loyalty"] == {"tier": "standard", "points": 4}
        assert output["instalments"] == 1
