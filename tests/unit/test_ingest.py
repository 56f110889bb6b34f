"""Parsing, per-event validation and normalization of a request body."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cell_monitor.ingest.parse import (
    TRUNCATION_MARK,
    UnusableBody,
    parse_body,
    validate_batch,
)
from tests.support import event, make_settings


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_settings(
        "sqlite:///unused.sqlite3",
        tmp_path,
        max_code_chars=20,
        max_result_chars=16,
        max_error_chars=16,
        max_field_chars=16,
    )


def test_array_and_single_object_bodies() -> None:
    assert parse_body(b'[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]
    assert parse_body(b'{"a": 1}') == [{"a": 1}]


@pytest.mark.parametrize("body", [b"", b"{", b"42", b'"text"', b"null", b'"\\ud800"'])
def test_unusable_bodies(body: bytes) -> None:
    with pytest.raises(UnusableBody):
        parse_body(body)


def test_each_event_is_judged_alone(settings) -> None:  # type: ignore[no-untyped-def]
    items = [event(), {"eventType": "help"}, "text", event(cellIndex="x"), event()]
    batch = validate_batch(items, settings)
    assert batch.indexes == [0, 4]
    assert [r.index for r in batch.rejected] == [1, 2, 3]
    assert "emailAddress or userId" in batch.rejected[0].errors[0]
    assert batch.rejected[2].errors[0].startswith("cellIndex:")
    assert batch.rejected[2].event_id == items[3]["eventId"]


def test_long_text_is_truncated_and_flagged(settings) -> None:  # type: ignore[no-untyped-def]
    long_code = "x = 1\n" * 10
    batch = validate_batch(
        [event(code=long_code, result="r" * 100, errorMessage="e" * 100, userName="N" * 40)],
        settings,
    )
    stored = batch.events[0]
    assert stored.truncated
    assert stored.code == long_code[:20] + TRUNCATION_MARK
    assert stored.result == "r" * 16 + TRUNCATION_MARK
    assert stored.error_message == "e" * 16 + TRUNCATION_MARK
    assert stored.user_name == "N" * 16
    short = validate_batch([event(code="ok")], settings).events[0]
    assert not short.truncated and short.code == "ok"


def test_normalization(settings) -> None:  # type: ignore[no-untyped-def]
    batch = validate_batch(
        [
            event(emailAddress="Ada@Example.ORG", code="a\x00b", traceback=["l1", "l2"]),
            event(emailAddress=None, userId="hub-user", eventId=None, eventTime=None),
            event(errorName="NameError", hasError=None),
        ],
        settings,
    )
    first, second, third = batch.events
    assert first.student_key == "ada@example.org" and first.email_address == "Ada@Example.ORG"
    assert first.code == "ab"  # PostgreSQL text cannot hold NUL
    assert first.traceback == "l1\nl2"
    assert second.student_key == "hub-user"
    assert len(second.event_id) == 36  # server-assigned UUID
    assert second.event_time == second.received_at
    assert third.has_error  # an error name implies an error


def test_extra_fields_are_metadata_but_bounded(settings) -> None:  # type: ignore[no-untyped-def]
    kept = validate_batch([event(kernel="python3")], settings).events[0]
    assert kept.extra == {"kernel": "python3"} and not kept.truncated
    huge = validate_batch([event(blob="z" * 20_000)], settings).events[0]
    assert huge.truncated and huge.extra is not None and "_dropped" in huge.extra
    assert len(orjson.dumps(huge.extra)) < 200
