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
    assert parse_body(b'[{"a": 1}, {"b": 2}]').items == [{"a": 1}, {"b": 2}]
    assert parse_body(b'{"a": 1}').items == [{"a": 1}]


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


def test_json_orjson_refuses_is_judged_event_by_event(settings) -> None:  # type: ignore[no-untyped-def]
    good = orjson.dumps(event()).decode()
    body = f'[{good[:-1]}, "big": {2**70}}}, {good[:-1]}, "code": "\\ud800"}}, {good}]'.encode()
    posted = parse_body(body)
    assert posted.lenient
    batch = validate_batch(posted.items, settings, lenient=posted.lenient)
    assert batch.indexes == [0, 2]
    assert "lone UTF-16 surrogate" in batch.rejected[0].errors[0]
    assert batch.events[0].extra is not None and "_dropped" in batch.events[0].extra


def test_elements_nested_too_deeply_are_cut_out_alone() -> None:
    deep = "[" * 3000 + "]" * 3000
    body = f'[{{"a": "[[{{,"}}, {{"x": {deep}}}, null, {{"y": {deep}}}]'.encode()
    posted = parse_body(body)
    assert posted.too_deep == {1, 3}
    assert posted.items[0] == {"a": "[[{,"} and posted.items[2] is None


def test_clock_ahead_is_bounded_and_kept_as_metadata(settings) -> None:  # type: ignore[no-untyped-def]
    batch = validate_batch(
        [event(eventTime="2999-01-01T00:00:00Z"), event(eventTime="1999-01-01T00:00:00Z")],
        settings,
    )
    [stored] = batch.events
    assert stored.clock_adjusted and stored.event_time == stored.received_at
    assert stored.extra == {"clientEventTime": "2999-01-01T00:00:00+00:00"}
    assert "before 2000-01-01" in batch.rejected[0].errors[0]


def test_reference_extension_dialect(settings) -> None:  # type: ignore[no-untyped-def]
    batch = validate_batch(
        [
            event(hasError=True, errorMessage="KeyError: 'df'"),
            event(cellType="markdown", code="# T"),
            event(eventType="notebook_saved", cellId="c1", cellIndex=2),
        ],
        settings,
    )
    failed, render, saved = batch.events
    assert failed.error_name == "KeyError" and failed.is_execution
    assert not render.is_execution and render.extra is not None
    assert render.extra["cellType"] == "markdown" and render.extra["code"] == "# T"
    assert saved.extra is not None and saved.extra["cellId"] == "c1"
    assert saved.extra["cellIndex"] == 2


def test_one_bad_event_costs_only_itself_when_a_body_is_validated_at_once(settings) -> None:  # type: ignore[no-untyped-def]
    from cell_monitor.contract.events import EventIn

    good = [event(), event(userName="  "), event()]
    bad = event(cellIndex=-1, eventId="a\x00b")
    items = [good[0], bad, good[1], "not an object", good[2]]
    batch = validate_batch(items, settings)
    assert batch.indexes == [0, 2, 4]
    assert [e.event_id for e in batch.events] == [g["eventId"] for g in good]
    assert batch.events[1].user_name is None  # blank text means unset
    assert [r.index for r in batch.rejected] == [1, 3]
    # The errors are those of the event judged alone (cellIndex first, its own field).
    alone = [e["loc"][0] for e in _errors(EventIn, bad)]
    assert alone == ["cellIndex"]
    assert batch.rejected[0].errors[0].startswith("cellIndex:")
    assert batch.rejected[1].errors == ["an event must be a JSON object"]
    # Every event valid: one verdict per event, in order, nothing rejected.
    every = validate_batch(good, settings)
    assert every.indexes == [0, 1, 2] and not every.rejected


def test_nul_in_an_event_id_is_refused_once_the_fields_are_valid(settings) -> None:  # type: ignore[no-untyped-def]
    batch = validate_batch([event(eventId="a\x00b"), event(messageId="m\x00")], settings)
    assert [r.errors for r in batch.rejected] == [
        ["eventId: must not contain NUL characters"],
        ["messageId: must not contain NUL characters"],
    ]


def _errors(model, item):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    try:
        model.model_validate(item)
    except ValidationError as exc:
        return exc.errors()
    return []
