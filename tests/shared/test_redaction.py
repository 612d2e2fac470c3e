"""The redactor: remembered values masked everywhere in text and JSON, sensitive key names
hidden, and log records masked however they are logged and wherever they are handled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import MappingProxyType

import pytest

from shared.config import Settings
from shared.redaction import DEFAULT_KEY_NAMES, MASK, LogRedaction, Redactor, redactor_for

SECRET = "sk-live-4f9a2c"


@pytest.fixture
def redactor() -> Redactor:
    redactor = Redactor()
    redactor.remember([SECRET])
    return redactor


class TestText:
    def test_every_occurrence_of_a_remembered_value_is_masked(self, redactor: Redactor) -> None:
        assert redactor.text(f"key={SECRET}; again {SECRET}.") == "key=***; again ***."

    def test_text_without_a_secret_is_unchanged(self, redactor: Redactor) -> None:
        assert redactor.text("nothing to hide") == "nothing to hide"

    def test_nothing_is_masked_before_a_value_is_remembered(self) -> None:
        redactor = Redactor()
        assert redactor.text(SECRET) == SECRET
        redactor.remember([SECRET])
        assert redactor.text(SECRET) == MASK

    def test_the_longest_value_is_masked_first(self) -> None:
        redactor = Redactor()
        redactor.remember(["abc"])
        redactor.remember(["abcdef", ""])

        assert redactor.text("abcdef abc") == "*** ***"

    def test_remembering_is_cumulative_and_idempotent(self, redactor: Redactor) -> None:
        redactor.remember([SECRET, "pw-2"])
        redactor.remember([SECRET])

        assert redactor.text(f"{SECRET} pw-2") == "*** ***"


class TestTenants:
    def test_a_tenants_view_masks_its_values_and_the_processs_not_another_tenants(self) -> None:
        root = Redactor()
        root.remember(["process-key-123"])
        root.for_tenant("ten_a").remember(["a-secret-456"])
        root.for_tenant("ten_b").remember(["b-secret-789"])
        text = "process-key-123 a-secret-456 b-secret-789"

        assert root.for_tenant("ten_a").text(text) == "*** *** b-secret-789"
        assert root.for_tenant("ten_b").text(text) == "*** a-secret-456 ***"
        assert root.for_tenant(None).text(text) == "*** a-secret-456 b-secret-789"

    def test_the_root_masks_every_tenants_values_for_the_logs(self) -> None:
        root = Redactor()
        root.for_tenant("ten_a").remember(["a-secret-456"])
        root.for_tenant("ten_b").remember(["b-secret-789"])

        assert root.text("a-secret-456 b-secret-789") == "*** ***"
        assert set(root.values()) == {"a-secret-456", "b-secret-789"}

    def test_a_view_sees_values_remembered_after_it_was_made(self) -> None:
        root = Redactor()
        view = root.for_tenant("ten_a")
        assert view.text("late-secret-1") == "late-secret-1"

        root.for_tenant("ten_a").remember(["late-secret-1"])

        assert view.text("late-secret-1") == MASK


class TestValue:
    def test_values_are_masked_in_nested_strings_and_keys(self, redactor: Redactor) -> None:
        value = {
            "items": [f"Bearer {SECRET}", 3, None, True, {"deep": (SECRET, 1.5)}],
            f"header-{SECRET}": "x",
        }

        assert redactor.value(value) == {
            "items": ["Bearer ***", 3, None, True, {"deep": [MASK, 1.5]}],
            "header-***": "x",
        }

    def test_values_under_sensitive_key_names_are_hidden_whatever_they_are(
        self, redactor: Redactor
    ) -> None:
        value = {
            "password": "hunter2",
            "Authorization": "Basic dXNlcjpwdw==",
            "X-Api-Key": 12345,
            "github_token": {"nested": "value"},
            "Set-Cookie": ["a=1", "b=2"],
            "user": "ada",
            "max_tokens": 100,
            "tokenizer": "cl100k",
        }

        assert redactor.value(value) == {
            "password": MASK,
            "Authorization": MASK,
            "X-Api-Key": MASK,
            "github_token": MASK,
            "Set-Cookie": MASK,
            "user": "ada",
            "max_tokens": 100,
            "tokenizer": "cl100k",
        }

    def test_sensitive_keys_are_found_at_any_depth(self, redactor: Redactor) -> None:
        value = {"request": {"headers": [{"authorization": f"Bearer {SECRET}"}]}}

        assert redactor.value(value) == {"request": {"headers": [{"authorization": MASK}]}}

    def test_any_mapping_is_redacted_and_the_original_left_alone(self, redactor: Redactor) -> None:
        original = {"token": "t-1", "text": SECRET}

        assert redactor.value(MappingProxyType(original)) == {"token": MASK, "text": MASK}
        assert original == {"token": "t-1", "text": SECRET}

    def test_scalars_pass_through(self, redactor: Redactor) -> None:
        assert [redactor.value(v) for v in (None, 1, 2.5, False, SECRET)] == [
            None,
            1,
            2.5,
            False,
            MASK,
        ]

    def test_the_configured_names_replace_the_defaults(self) -> None:
        redactor = Redactor(key_names=["SSN", "card-number"])

        assert redactor.value({"ssn": 1, "Card_Number": 2, "billing-card-number": 3}) == {
            "ssn": MASK,
            "Card_Number": MASK,
            "billing-card-number": MASK,
        }
        assert redactor.value({"password": "p"}) == {"password": "p"}

    def test_the_defaults_include_the_usual_credentials(self) -> None:
        assert {"password", "api_key", "authorization", "token", "cookie"} <= DEFAULT_KEY_NAMES


class TestRedactorFor:
    def test_settings_add_key_names_to_the_defaults(self) -> None:
        redactor = redactor_for(Settings(redact_keys=("ssn",)))

        assert redactor.value({"ssn": "1", "password": "p", "name": "n"}) == {
            "ssn": MASK,
            "password": MASK,
            "name": "n",
        }

    def test_the_environment_gives_a_comma_list(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PLAIT_REDACT_KEYS", " ssn, Card-Number ,,")

        assert Settings().redact_keys == ("ssn", "Card-Number")


@pytest.fixture
def installed(redactor: Redactor) -> Iterator[LogRedaction]:
    redaction = LogRedaction(redactor)
    uninstall = redaction.install()
    yield redaction
    uninstall()


class TestLogs:
    def test_the_message_and_its_arguments_are_masked(
        self, installed: LogRedaction, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO):
            logging.getLogger("plait.test").info("called with %s (%d tries)", SECRET, 3)
            logging.getLogger("uvicorn.error").warning(f"inline {SECRET}")
            logging.getLogger("plait.test").warning(ValueError(f"bad {SECRET}"))

        assert SECRET not in caplog.text
        assert [r.getMessage() for r in caplog.records] == [
            "called with *** (3 tries)",
            "inline ***",
            "bad ***",
        ]

    def test_arguments_stay_arguments_for_formatters_that_unpack_them(
        self, installed: LogRedaction, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO):
            logging.getLogger("uvicorn.access").info(
                '%s - "%s %s HTTP/%s" %d',
                "127.0.0.1:5000",
                "GET",
                f"/v1/runs?key={SECRET}",
                "1.1",
                200,
            )

        [record] = caplog.records
        assert record.args == ("127.0.0.1:5000", "GET", "/v1/runs?key=***", "1.1", 200)

    def test_mapping_arguments_and_objects_are_masked(
        self, installed: LogRedaction, caplog: pytest.LogCaptureFixture
    ) -> None:
        error = ValueError(f"bad key {SECRET}")
        with caplog.at_level(logging.INFO):
            logging.getLogger("plait.test").info("%(what)s failed", {"what": SECRET})
            logging.getLogger("plait.test").info("failed: %s", error)

        assert [r.getMessage() for r in caplog.records] == ["*** failed", "failed: bad key ***"]

    def test_exception_text_is_masked(
        self, installed: LogRedaction, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR):
            try:
                raise RuntimeError(f"token {SECRET} refused")
            except RuntimeError:
                logging.getLogger("plait.test").exception("request failed")

        assert "RuntimeError: token *** refused" in caplog.text
        assert SECRET not in caplog.text

    def test_a_handler_added_later_gets_masked_records(
        self, installed: LogRedaction, capsys: pytest.CaptureFixture[str]
    ) -> None:
        logger = logging.getLogger("plait.test.late")
        handler = logging.StreamHandler()
        logger.addHandler(handler)
        try:
            logger.warning("value %s", SECRET, stack_info=True)
        finally:
            logger.removeHandler(handler)

        err = capsys.readouterr().err
        assert "value ***" in err
        assert "Stack (most recent call last)" in err
        assert SECRET not in err

    def test_uninstalling_stops_the_masking(
        self, redactor: Redactor, caplog: pytest.LogCaptureFixture
    ) -> None:
        uninstall = LogRedaction(redactor).install()
        uninstall()
        with caplog.at_level(logging.INFO):
            logging.getLogger("plait.test").info(SECRET)

        assert caplog.records[0].getMessage() == SECRET

    def test_uninstalling_under_a_later_factory_leaves_that_one_working(
        self, redactor: Redactor, caplog: pytest.LogCaptureFixture
    ) -> None:
        other = Redactor()
        other.remember(["other-secret"])
        before = logging.getLogRecordFactory()
        first = LogRedaction(redactor).install()
        second = LogRedaction(other).install()
        logger = logging.getLogger("plait.test")
        try:
            with caplog.at_level(logging.INFO):
                first()
                logger.info("%s %s", SECRET, "other-secret")
                second()
                logger.info("%s %s", SECRET, "other-secret")
        finally:
            logging.setLogRecordFactory(before)

        assert [r.getMessage() for r in caplog.records] == [
            f"{SECRET} ***",
            f"{SECRET} other-secret",
        ]

    def test_the_filter_never_drops_a_record(self, redactor: Redactor) -> None:
        record = logging.makeLogRecord({"msg": "plain", "args": ()})

        assert LogRedaction(redactor).filter(record) is True
        assert record.getMessage() == "plain"
