"""Public ids: their shape, their order, and the creation time they carry."""

from __future__ import annotations

import re
import time

import pytest

from shared.ids import ID_BODY_LENGTH, IdPrefix, id_timestamp_ms, new_id, new_run_id

CROCKFORD = re.compile(r"^[0-9A-HJKMNP-TV-Z]+$")


class TestNewId:
    @pytest.mark.parametrize("prefix", list(IdPrefix))
    def test_an_id_is_its_prefix_an_underscore_and_26_crockford_characters(
        self, prefix: IdPrefix
    ) -> None:
        public_id = new_id(prefix)

        head, _, body = public_id.rpartition("_")
        assert head == prefix.value
        assert len(body) == ID_BODY_LENGTH == 26
        assert CROCKFORD.match(body)

    def test_ids_of_later_milliseconds_sort_after_earlier_ones(self) -> None:
        times = [0, 1, 999, 1_000, 1_700_000_000_000, 1_700_000_000_001, (1 << 48) - 1]

        ids = [new_id(IdPrefix.RUN, now_ms=t) for t in times]

        assert sorted(ids) == ids
        assert sorted(i.encode() for i in ids) == [i.encode() for i in ids]

    def test_ids_of_one_millisecond_differ(self) -> None:
        ids = {new_id(IdPrefix.RUN, now_ms=1_700_000_000_000) for _ in range(1_000)}

        assert len(ids) == 1_000

    def test_the_current_time_is_the_default(self) -> None:
        before = time.time_ns() // 1_000_000
        public_id = new_run_id()
        after = time.time_ns() // 1_000_000

        assert public_id.startswith("run_")
        assert before <= id_timestamp_ms(public_id) <= after

    @pytest.mark.parametrize("now_ms", [-1, 1 << 48])
    def test_a_timestamp_outside_48_bits_is_refused(self, now_ms: int) -> None:
        with pytest.raises(ValueError, match="48 bits"):
            new_id(IdPrefix.RUN, now_ms=now_ms)


class TestIdTimestamp:
    @pytest.mark.parametrize("now_ms", [0, 1, 1_700_000_000_123, (1 << 48) - 1])
    def test_the_timestamp_reads_back(self, now_ms: int) -> None:
        assert id_timestamp_ms(new_id(IdPrefix.WORKFLOW, now_ms=now_ms)) == now_ms

    @pytest.mark.parametrize(
        "text",
        ["", "run", "run_", "run_01JH4X9Q2ZKV8S7E5M3T6YB0C", "run_01JH4X9Q2ZKV8S7E5M3T6YB0CU"],
    )
    def test_text_that_is_not_an_id_is_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="not a public id"):
            id_timestamp_ms(text)
