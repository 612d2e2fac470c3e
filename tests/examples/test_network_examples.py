"""The examples that call models and HTTP services, run against respx mocks.

The LLM examples go through the CLI's own code path (``main``: environment, services, progress,
the terminal for human nodes). The polling example retries, so it runs on the compiler API with
a virtual clock instead of the CLI's real one.
"""

from __future__ import annotations

import io
import json
import random
import re
import sys
from typing import Any

import httpx
import pytest
import respx

from tests.api.cli.conftest import CliRunner
from tests.examples.conftest import CHAT_URL, EXAMPLES, chat_reply, load, sent_json
from tests.support.clock import FakeClock
from workflow_compiler.checks import parse_spec
from workflow_compiler.context import RuntimeServices
from workflow_compiler.events import CollectingSink
from workflow_compiler.lowering import compile_workflow
from workflow_compiler.registries.builtin import default_tool_registry
from workflow_compiler.registries.models import StaticModelProviders
from workflow_compiler.secrets import MappingSecrets

pytestmark = pytest.mark.usefixtures("provider")


def _messages(request: httpx.Request) -> str:
    """Every message of a chat request, joined: what a mock answers by."""
    return "\n".join(m["content"] for m in json.loads(request.content)["messages"])


class _TtyInput(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestSupportTriage:
    TICKET = (
        "-i",
        "subject=Export crashes",
        "-i",
        "body=Clicking Export on the orders page shows a blank screen.",
        "-i",
        "customer_email=ann@example.com",
    )

    def test_an_urgent_bug_is_filed_and_pages_on_call(
        self, cli: CliRunner, mock_http: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_SECRET_TRACKER_TOKEN", "trk-secret")
        monkeypatch.setenv("PLAIT_SECRET_PAGER_TOKEN", "pgr-secret")
        chat = mock_http.post(CHAT_URL).mock(
            side_effect=[
                chat_reply({"category": "bug", "urgency": "high", "summary": "Export is blank."}),
                chat_reply(
                    {
                        "title": "Orders export renders a blank page",
                        "steps_to_reproduce": ["Open orders", "Click Export"],
                        "expected": "A CSV download",
                        "actual": "A blank screen",
                    }
                ),
            ]
        )
        tracker = mock_http.post("https://tracker.example.com/api/issues").mock(
            return_value=httpx.Response(201, json={"id": 42})
        )
        pager = mock_http.post("https://pager.example.com/v1/alerts").mock(
            return_value=httpx.Response(202, json={"ok": True})
        )
        result = cli("run", str(EXAMPLES / "support_triage.json"), *self.TICKET)
        assert result.code == 0, result.err
        assert result.json() == {
            "category": "bug",
            "urgency": "high",
            "summary": "Export is blank.",
            "routed_to": "bug tracker",
            "reply": None,
            "paged": True,
        }
        classify = sent_json(chat.calls[0])
        assert classify["response_format"]["type"] == "json_schema"
        assert classify["temperature"] == 0
        issue = tracker.calls.last.request
        assert issue.headers["Authorization"] == "Bearer trk-secret"
        assert "1. Open orders\n2. Click Export\n" in json.loads(issue.content)["body"]
        assert pager.calls.last.request.headers["Authorization"] == "Token pgr-secret"
        assert "[classify] completed in" in result.err
        assert "(30 tokens)" in result.err
        assert "trk-secret" not in result.out + result.err

    def test_other_tickets_get_a_drafted_reply(
        self, cli: CliRunner, mock_http: respx.MockRouter
    ) -> None:
        mock_http.post(CHAT_URL).mock(
            side_effect=[
                chat_reply({"category": "other", "urgency": "low", "summary": "A question."}),
                chat_reply("Hi Ann, thanks for writing in!"),
            ]
        )
        result = cli("run", str(EXAMPLES / "support_triage.json"), *self.TICKET)
        assert result.code == 0, result.err
        output = result.json()
        assert output["routed_to"] == "drafted reply"
        assert output["reply"] == "Hi Ann, thanks for writing in!"
        assert output["paged"] is False


class TestInvoiceApproval:
    INVOICE = "ACME GmbH, invoice 2026-117, total due EUR 1,840.50"
    EXTRACTED: dict[str, Any] = {
        "vendor": "ACME GmbH",
        "invoice_number": "2026-117",
        "currency": "EUR",
        "total": 1840.5,
    }

    @pytest.fixture(autouse=True)
    def _hook(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLAIT_SECRET_HOOK_TOKEN", "tok-123")

    def test_a_large_invoice_asks_on_the_terminal_until_the_answer_fits(
        self,
        cli: CliRunner,
        mock_http: respx.MockRouter,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(
            sys, "stdin", _TtyInput('{"approved": "yes"}\n{"approved": false, "comment": "dup"}\n')
        )
        mock_http.post(CHAT_URL).mock(return_value=chat_reply(self.EXTRACTED))
        hook = mock_http.post("https://hooks.example.com/invoices").mock(
            return_value=httpx.Response(204)
        )
        result = cli(
            "run", str(EXAMPLES / "invoice_approval.json"), "-i", f"invoice_text={self.INVOICE}"
        )
        assert result.code == 0, result.err
        assert result.json() == {
            "invoice": self.EXTRACTED,
            "approved": False,
            "comment": "dup",
            "notified": True,
        }
        assert "[approve] Pay 1840.5 EUR to ACME GmbH (invoice 2026-117)?" in result.err
        assert "invalid answer for 'approve': at answer.approved: " in result.err
        sent = hook.calls.last.request
        assert sent.headers["Authorization"] == "Bearer tok-123"
        assert json.loads(sent.content)["approved"] is False
        assert re.fullmatch(r"run_\w+:notify:[\w-]+:1", sent.headers["Idempotency-Key"])

    def test_a_small_invoice_is_approved_without_asking(
        self, cli: CliRunner, mock_http: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        mock_http.post(CHAT_URL).mock(return_value=chat_reply({**self.EXTRACTED, "total": 99.0}))
        mock_http.post("https://hooks.example.com/invoices").mock(
            return_value=httpx.Response(200, json={})
        )
        result = cli(
            "run", str(EXAMPLES / "invoice_approval.json"), "-i", f"invoice_text={self.INVOICE}"
        )
        assert result.code == 0, result.err
        output = result.json()
        assert output["approved"] is True
        assert output["comment"] == "approved automatically: under the threshold"


class TestFanOutResearch:
    def test_a_failed_branch_is_reported_to_the_summary(
        self, cli: CliRunner, mock_http: respx.MockRouter
    ) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            text = _messages(request)
            if "risk officer" in text:
                return httpx.Response(400, json={"error": {"message": "content policy"}})
            if "market analyst" in text:
                return chat_reply("- used by banks")
            if "staff engineer" in text:
                return chat_reply("- needs a GPU")
            return chat_reply("Adopt slowly.")

        chat = mock_http.post(CHAT_URL).mock(side_effect=answer)
        result = cli("run", str(EXAMPLES / "fan_out_research.json"), "-i", "topic=vector databases")
        assert result.code == 0, result.err
        output = result.json()
        assert output["brief"] == "Adopt slowly."
        assert output["notes"]["market"] == "- used by banks"
        assert output["notes"]["risks"]["error"]["kind"] == "provider_error"
        brief_request = _messages(chat.calls.last.request)
        assert "- used by banks" in brief_request
        assert "(the risk review failed: provider 'openai' answered 400: content policy)" in (
            brief_request
        )


class TestBatchEnrich:
    def test_one_failed_profile_does_not_sink_the_batch(
        self, cli: CliRunner, mock_http: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PLAIT_SECRET_CRM_TOKEN", "crm-secret")

        def answer(request: httpx.Request) -> httpx.Response:
            if "Globex" in _messages(request):
                return httpx.Response(400, json={"error": {"message": "bad request"}})
            return chat_reply({"industry": "retail", "employees": "11-50", "offering": "Shoes."})

        mock_http.post(CHAT_URL).mock(side_effect=answer)
        crm = mock_http.post("https://crm.example.com/api/companies/bulk").mock(
            return_value=httpx.Response(201, json={"created": 1})
        )
        companies = [
            {"name": "Initech", "domain": "initech.test"},
            {"name": "Globex", "domain": "globex.test"},
        ]
        result = cli(
            "run", str(EXAMPLES / "batch_enrich.json"), "-i", f"companies={json.dumps(companies)}"
        )
        assert result.code == 0, result.err
        output = result.json()
        assert [r["name"] for r in output["records"]] == ["Initech", "Globex"]
        assert output["records"][0] == {
            "row": 1,
            "name": "Initech",
            "domain": "initech.test",
            "industry": "retail",
            "employees": "11-50",
            "offering": "Shoes.",
            "error": None,
        }
        assert output["records"][1]["industry"] == "unknown"
        assert output["records"][1]["error"]["kind"] == "provider_error"
        assert (output["profiled"], output["failed"], output["crm_status"]) == (1, 1, 201)
        assert sent_json(crm.calls.last) == {"records": output["records"]}


class TestPollUntilReady:
    async def test_polls_through_a_flaky_status_call_then_downloads(
        self, mock_http: respx.MockRouter
    ) -> None:
        spec = parse_spec(load("poll_until_ready.json"), tools=default_tool_registry())
        api = "https://api.example.com/v1"
        mock_http.post(f"{api}/exports").mock(
            return_value=httpx.Response(202, json={"id": "exp_1", "status": "queued"})
        )
        status = mock_http.get(f"{api}/exports/exp_1").mock(
            side_effect=[
                httpx.Response(503),
                httpx.Response(200, json={"status": "running"}),
                httpx.Response(200, json={"status": "succeeded"}),
                httpx.Response(
                    200,
                    json={
                        "status": "succeeded",
                        "download_url": "https://files.example.com/e.json",
                    },
                ),
            ]
        )
        mock_http.get("https://files.example.com/e.json").mock(
            return_value=httpx.Response(200, json=[{"order": 1}])
        )
        clock, events = FakeClock(), CollectingSink()
        async with httpx.AsyncClient() as http:
            services = RuntimeServices(
                tools=default_tool_registry(load_plugins=False),
                models=StaticModelProviders.from_env({}),
                secrets=MappingSecrets({"EXPORT_API_TOKEN": "exp-secret"}),
                http=http,
                events=events,
                clock=clock,
                rng=random.Random(1),
            )
            outcome = await compile_workflow(spec).start(
                {}, run_id="run_poll", services=services, checkpointer=None
            )
        assert outcome.status == "completed", outcome.error
        assert outcome.output == {
            "export_id": "exp_1",
            "polls": 2,
            "status": "succeeded",
            "rows": [{"order": 1}],
        }
        assert len(clock.sleeps) == 1
        assert 0 <= clock.sleeps[0] <= 2
        assert events.kinds("check").count("node_retrying") == 1
        assert status.calls[0].request.url.params["wait"] == "20"
