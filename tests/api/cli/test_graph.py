"""``plait graph``: Mermaid on stdout for a valid spec, the check errors otherwise."""

from __future__ import annotations

from tests.api.cli.conftest import EXAMPLES, CliRunner, SpecWriter


class TestGraph:
    def test_prints_a_mermaid_flowchart_with_every_node(self, cli: CliRunner) -> None:
        result = cli("graph", str(EXAMPLES / "order_totals.json"))
        assert result.code == 0
        assert "graph TD;" in result.out
        boxes = {line.strip() for line in result.out.splitlines()}
        for node_id in ("priced", "subtotal", "shipping", "shipping_fee", "instalments", "paid"):
            assert f"{node_id}({node_id})" in boxes
        assert "shipping -.-> shipping_fee;" in boxes
        assert "priced\\2eitem\\3aline_amount(line_amount)" in boxes
        assert result.out.endswith("fill:#bfb6fc\n")
        assert result.err == ""

    def test_an_invalid_spec_is_not_drawn(self, cli: CliRunner, write_spec: SpecWriter) -> None:
        spec = {"version": "1", "nodes": [{"id": "a", "type": "tool", "tool": "nope"}]}
        result = cli("graph", str(write_spec(spec)))
        assert (result.code, result.out) == (1, "")
        assert result.err == "nodes[0].tool: unknown tool 'nope' (known: http_request)\n"
