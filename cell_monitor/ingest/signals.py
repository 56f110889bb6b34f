"""Test results and engagement fields of an event, as the store records them.

Engagement capture can be off for the course (CELL_MONITOR_ENGAGEMENT_CAPTURE):
then an `engagement` event is refused with a message saying so, and the
engagement fields of other events are dropped; test results are kept (they are
what the cell's run already says).
"""

from __future__ import annotations

from typing import Any

from cell_monitor.config import Settings
from cell_monitor.contract.events import EventIn
from cell_monitor.domain.records import NewEvent
from cell_monitor.domain.signals import CellActivity, TestResult


class EngagementOff(ValueError):
    """An engagement event reached a server where engagement capture is off."""


def signal_fields(model: EventIn, settings: Settings) -> dict[str, Any]:
    """NewEvent fields (tests, visible, idle, activity) of a validated event."""
    fields: dict[str, Any] = {}
    if model.tests and model.event_type == "cell_executed":
        fields["tests"] = tuple(_unique_tests(model))
    if model.event_type == "engagement":
        if not settings.engagement_capture:
            raise EngagementOff("engagement capture is off on this server (not stored)")
        fields["visible"] = model.visible
        fields["idle"] = model.idle
        fields["editing_ms"] = model.editing_ms
        fields["hidden_ms"] = model.hidden_ms
        fields["activity"] = tuple(
            CellActivity(c.cell_id, c.cell_index, c.edits, c.active_ms) for c in model.cells or ()
        )
    elif settings.engagement_capture and (model.edits or model.active_ms):
        # A run carries its own cell's activity since the previous report.
        fields["activity"] = (
            CellActivity(model.cell_id, model.cell_index, model.edits or 0, model.active_ms or 0),
        )
    return fields


def signal_metadata(event: NewEvent) -> dict[str, Any]:
    """The signals as the event log keeps them (events.extra): the log stays the
    whole record, from which test_results, cell_activity and the edits/active time
    of latest_runs could be rebuilt."""
    if not event.tests and not event.activity and event.event_type != "engagement":
        return {}  # most events: none to keep
    meta: dict[str, Any] = {}
    if event.tests:
        meta["tests"] = [
            {"question": t.question, "passed": t.passed, "kind": t.kind, "points": t.points,
             "maxPoints": t.max_points}
            for t in event.tests
        ]  # fmt: skip
    if event.event_type == "engagement":
        meta.update(
            visible=event.visible,
            idle=event.idle,
            editingMs=event.editing_ms,
            hiddenMs=event.hidden_ms,
        )
    if event.activity and event.event_type != "engagement":
        # A run's own cell: the two numbers as sent.
        meta.update(edits=event.activity[0].edits, activeMs=event.activity[0].active_ms)
    elif event.activity:
        meta["cells"] = [
            {"cellId": a.cell_id, "cellIndex": a.cell_index, "edits": a.edits,
             "activeMs": a.active_ms}
            for a in event.activity
        ]  # fmt: skip
    return {k: v for k, v in meta.items() if v is not None}


def _unique_tests(model: EventIn) -> list[TestResult]:
    # One outcome per question and run: a repeated name keeps its last outcome.
    by_question: dict[str, TestResult] = {}
    for t in model.tests or ():
        by_question[t.question] = TestResult(
            question=t.question,
            passed=t.passed,
            kind=t.kind.value,
            points=t.points,
            max_points=t.max_points,
        )
    return list(by_question.values())
