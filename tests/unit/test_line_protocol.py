"""Line protocol encoding and the point schema of the user's guide."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cell_monitor.sinks.influx.line_protocol import (
    encode_line,
    escape_tag,
    format_field,
    quote_string,
)
from cell_monitor.sinks.influx.points import CELL_EXECUTION, STUDENT_EVENT, time_ns, to_line
from cell_monitor.storage.event_log import LogRow

WHEN = datetime(2025, 1, 18, 10, 15, 0, 123456, tzinfo=timezone.utc)
WHEN_NS = 1737195300_123456_000


def row(**overrides: object) -> LogRow:
    fields: dict[str, object] = {
        "pk": 2042,
        "event_id": "e-1",
        "event_type": "cell_executed",
        "event_time": WHEN,
        "student_key": "ada@example.org",
        "notebook": "lesson1.ipynb",
        "duration_ms": 12.5,
        "has_error": False,
        "cell_index": 3,
        "execution_count": 7,
        "error_name": None,
    }
    fields.update(overrides)
    return LogRow(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("with space,comma=equals", r"with\ space\,comma\=equals"),
        ("two\nlines\r\tand tab", r"two\ lines\ \ and\ tab"),
        ("back\\slash", "back\\slash"),  # kept: the parser reads it literally
        ("ends with\\", "ends\\ with\uff3c"),  # would escape the next separator
        ("before\\,comma", "before\uff3c\\,comma"),
        ("ユーザー", "ユーザー"),
    ],
)
def test_tag_escaping(raw: str, escaped: str) -> None:
    assert escape_tag(raw) == escaped


def test_string_fields_are_quoted() -> None:
    assert quote_string('say "hi"\\') == r'"say \"hi\"\\"'
    assert quote_string("a\nb") == '"a b"'


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (3, "3i"), (12.5, "12.5"), (12.0, "12.0"), ("x", '"x"')],
)
def test_field_values_keep_their_type(value: object, text: str) -> None:
    assert format_field(value) == text  # type: ignore[arg-type]


def test_unstorable_values_are_left_out() -> None:
    assert format_field(float("nan")) is None
    tags = {"b": "2", "a": "1", "empty": "", "none": None}
    line = encode_line("m", tags, {"x": 1.5, "y": None}, 5)
    assert line == "m,a=1,b=2 x=1.5 5"
    with pytest.raises(ValueError, match="at least one field"):
        encode_line("m", {}, {"x": float("inf")}, 5)
    with pytest.raises(ValueError, match="outside"):
        encode_line("m", {}, {"x": 1}, 2**63)


def test_cell_execution_point() -> None:
    line = to_line(row(has_error=True, error_name="ZeroDivisionError"))
    assert line == (
        f"{CELL_EXECUTION},notebook=lesson1.ipynb,user_id=ada@example.org "
        "duration_ms=12.5,has_error=true,has_error_int=1i,cell_index=3i,execution_count=7i,"
        f'error_name="ZeroDivisionError",event_id="e-1" {WHEN_NS + 42}'
    )


def test_durations_are_always_floats_and_unknowns_are_left_out() -> None:
    # An integer would conflict with the float type the field has in InfluxDB.
    assert "duration_ms=4.0," in to_line(row(duration_ms=4))
    line = to_line(row(duration_ms=None, cell_index=None, execution_count=None, notebook=None))
    assert line.startswith(f"{CELL_EXECUTION},user_id=ada@example.org has_error=false,")
    assert "duration_ms" not in line and "cell_index" not in line


def test_other_events_keep_the_tag_set_small() -> None:
    assert to_line(row(event_type="help")).startswith(
        f"{STUDENT_EVENT},event_type=help,notebook=lesson1.ipynb,user_id=ada@example.org "
        'event_id="e-1" '
    )
    odd = to_line(row(event_type="kernel_restarted_by_someone"))
    assert ",event_type=other," in odd and 'raw_type="kernel_restarted_by_someone"' in odd


def test_times_are_the_events_own_and_distinct_per_event() -> None:
    assert time_ns(row(pk=1)) == WHEN_NS + 1
    assert time_ns(row(pk=1001)) == WHEN_NS + 1
    same_time = {time_ns(row(pk=pk)) for pk in range(5000, 6000)}
    assert len(same_time) == 1000
    assert all(t // 1000 == WHEN_NS // 1000 for t in same_time)


def test_coarse_times_get_room_to_stay_apart_within_their_own_precision() -> None:
    second = WHEN.replace(microsecond=0)
    milli = WHEN.replace(microsecond=123000)
    base = WHEN_NS - 123456_000
    # Whole seconds (clients that send no fraction): a million ids apart, still distinct.
    times = {time_ns(row(pk=pk, event_time=second)) for pk in range(0, 3_000_000, 1000)}
    assert len(times) == 3000
    assert all(base <= t < base + 1_000_000_000 for t in times)
    at_ms = {time_ns(row(pk=pk, event_time=milli)) for pk in range(0, 3_000_000, 1000)}
    assert len(at_ms) == 1000
    assert all(base + 123_000_000 <= t < base + 124_000_000 for t in at_ms)


def test_a_cell_executed_without_an_execution_row_is_no_run() -> None:
    # A markdown cell "run" (a render) stores no cell_executions row: has_error is NULL.
    render = row(has_error=None, duration_ms=None, cell_index=None, execution_count=None)
    assert to_line(render).startswith(
        f"{STUDENT_EVENT},event_type=cell_executed,notebook=lesson1.ipynb,user_id=ada@example.org "
    )
