"""Metric names from the user's guide; label values stay a small fixed set."""

from __future__ import annotations

from prometheus_client import REGISTRY

from cell_monitor import metrics
from cell_monitor.reports.queries import decode_cursor, encode_cursor


def test_guide_metric_names_are_registered() -> None:
    names = {metric.name for metric in REGISTRY.collect()}
    for name in (
        "events",
        "errors",
        "request_duration_seconds",
        "db_query_duration_seconds",
        "active_connections",
    ):
        assert name in names


def test_label_values_are_bounded() -> None:
    assert metrics.event_type_label("help") == "help"
    assert metrics.event_type_label("student-made-up-type-123") == "other"
    assert metrics.sql_operation("  INSERT INTO events ...") == "insert"
    assert metrics.sql_operation("PRAGMA foo") == "other"
    assert metrics.sql_operation("") == "other"


def test_cursor_round_trip_and_garbage() -> None:
    from datetime import datetime, timezone

    import pytest

    position = (datetime(2025, 1, 18, 10, 0, tzinfo=timezone.utc), 42)
    assert decode_cursor(encode_cursor(position)) == position
    for garbage in ("", "abc", "!!!", encode_cursor(position)[:-3]):
        with pytest.raises(ValueError):
            decode_cursor(garbage)
