"""Live state rules: priorities, stuck streaks, help, late events, instructor actions."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from cell_monitor.contract.live import (
    AlertChanged,
    StudentChanged,
    StudentRemoved,
    encode,
    to_wire,
)
from cell_monitor.domain.live_status import (
    LiveState,
    Status,
    Thresholds,
    apply_event,
    apply_events,
    dismiss_help,
    handle_stuck,
)
from cell_monitor.domain.records import NewEvent
from cell_monitor.live.messages import change_messages, event_messages, heartbeat, matches

T0 = datetime(2025, 1, 18, 9, 0, tzinfo=timezone.utc)
RULES = Thresholds(stuck_after_errors=3, active_window=timedelta(minutes=2))


def ev(minute: float, kind: str = "cell_executed", error: bool = False, **extra) -> NewEvent:  # type: ignore[no-untyped-def]
    t = T0 + timedelta(minutes=minute)
    return NewEvent(
        event_id=f"e{minute}{kind}",
        event_type=kind,
        event_time=t,
        received_at=t,
        student_key="ada",
        has_error=error,
        error_name="NameError" if error else None,
        error_message="name 'df' is not defined" if error else None,
        **extra,
    )


def run(*events: NewEvent, state: LiveState | None = None) -> LiveState:
    return apply_events(state or LiveState(student="ada"), events)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_active_then_idle() -> None:
    state = run(ev(0))
    assert state.status(at(1), RULES) == Status.active
    assert state.status(at(2.5), RULES) == Status.idle
    assert (state.event_count, state.execution_count, state.version) == (1, 1, 1)


def test_error_then_stuck_after_three_then_cleared_by_success() -> None:
    state = run(ev(0, error=True))
    assert state.status(at(0), RULES) == Status.error
    state = run(ev(1, error=True), ev(2, error=True), state=state)
    assert state.status(at(2), RULES) == Status.stuck
    assert state.status(at(60), RULES) == Status.stuck  # stuck does not time out
    assert state.last_error_name == "NameError" and state.consecutive_errors == 3
    state = run(ev(3), state=state)
    assert state.status(at(3), RULES) == Status.active
    assert state.error_count == 3 and state.consecutive_errors == 0


def test_help_has_priority_and_ends_with_help_stop_or_dismissal() -> None:
    state = run(ev(0, error=True), ev(1, error=True), ev(2, error=True), ev(3, "help"))
    assert state.status(at(3), RULES) == Status.help and state.help_since == at(3)
    assert run(ev(4, "help"), state=state).help_since == at(3)  # still the first request
    stopped = run(ev(5, "help_stop"), state=state)
    assert stopped.status(at(5), RULES) == Status.stuck
    dismissed = dismiss_help(state, at(6))
    assert dismissed.help_since is None and dismissed.version == state.version + 1
    # A help event older than the last one, delivered late, does not reopen it;
    # nor does one of the same request (within HELP_RESEND_GAP of the last).
    assert run(ev(2.5, "help"), state=dismissed).help_since is None
    assert run(ev(3.5, "help"), state=dismissed).help_since is None
    # A clearly new request does.
    assert run(ev(7, "help"), state=dismissed).help_since == at(7)


def test_resends_of_a_dismissed_request_stay_dismissed_until_help_stop() -> None:
    # The reference extension resends `help` every ~10 s while its button is on.
    state = run(*(ev(m / 6, "help") for m in range(6)))
    dismissed = dismiss_help(state, at(1))
    resent = run(*(ev(1 + m / 6, "help") for m in range(1, 30)), state=dismissed)
    assert resent.help_since is None and resent.status(at(6), RULES) != Status.help
    stopped = run(ev(6, "help_stop"), state=resent)
    again = run(ev(6.1, "help"), state=stopped)
    assert again.help_since == at(6.1) and again.status(at(6.1), RULES) == Status.help
    # A dismissal with no open request suppresses nothing.
    assert run(ev(7, "help"), state=dismiss_help(stopped, at(6.05))).help_since == at(7)


def test_a_client_clock_in_the_future_freezes_nothing() -> None:
    # Times in the store from before eventTime was bounded (e.g. year 9999).
    far = datetime(9999, 12, 31, tzinfo=timezone.utc)
    frozen = LiveState(
        student="ada",
        help_changed_at=far,
        last_execution_at=far,
        consecutive_errors=3,
        last_execution_failed=True,
        last_seen=far,
        version=4,
    )
    later = run(ev(1, "help"), ev(2), state=frozen)
    assert later.help_since == at(1) and later.consecutive_errors == 0
    assert later.last_seen == at(2)
    # An event dated after its receipt counts at its receipt.
    ahead = NewEvent(
        event_id="x",
        event_type="help_stop",
        event_time=far,
        received_at=at(3),
        student_key="ada",
    )
    assert run(ahead, ev(4, "help"), state=later).help_since == at(4)


def test_a_markdown_render_is_no_run() -> None:
    stuck = run(ev(0, error=True), ev(1, error=True), ev(2, error=True))
    rendered = run(ev(3, cell_type="markdown"), state=stuck)
    assert rendered.status(at(3), RULES) == Status.stuck
    assert rendered.execution_count == 3 and rendered.consecutive_errors == 3


def test_late_events_are_counted_but_do_not_rewrite_the_present() -> None:
    state = run(ev(10), ev(11, notebook_path="b.ipynb", cell_index=4))
    late = run(ev(5, error=True, notebook_path="a.ipynb", cell_index=1), state=state)
    assert late.status(at(11), RULES) == Status.active
    assert (late.last_notebook, late.last_cell_index) == ("b.ipynb", 4)
    assert (late.execution_count, late.error_count, late.consecutive_errors) == (3, 1, 0)
    assert late.first_seen == at(5) and late.last_seen == at(11)


def test_order_of_arrival_does_not_matter_within_a_group() -> None:
    events = [ev(2, error=True), ev(0), ev(1, error=True), ev(3, error=True)]
    assert run(*events) == run(*sorted(events, key=lambda e: e.event_time))
    assert run(*events).consecutive_errors == 3


def test_a_group_applied_at_once_is_the_state_its_events_give_one_by_one() -> None:
    # apply_events builds its result without LiveState's __init__: it must be the
    # very state (equal, frozen, hashable) that applying each event gives.
    events = [ev(0), ev(1, error=True), ev(2, "help"), ev(3, error=True), ev(4, "notebook_saved")]
    start = LiveState(student="ada", user_name="Ada", version=4)
    one_by_one = start
    for event in events:
        one_by_one = apply_event(one_by_one, event)
    grouped = apply_events(start, events)
    assert grouped == dataclasses.replace(one_by_one, version=5)
    assert type(grouped) is LiveState and hash(grouped) == hash(grouped)
    assert vars(grouped).keys() == {f.name for f in dataclasses.fields(LiveState)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        grouped.event_count = 0  # type: ignore[misc]


def test_handle_stuck_restarts_the_streak() -> None:
    state = run(ev(0, error=True), ev(1, error=True), ev(2, error=True))
    handled = handle_stuck(state)
    assert handled.status(at(2), RULES) == Status.error
    assert run(ev(3, error=True), state=handled).status(at(3), RULES) == Status.error


def test_change_messages_raise_and_clear_alerts() -> None:
    before = run(ev(0, error=True), ev(1, error=True))
    after = run(ev(2, error=True), ev(2.5, "help"), state=before)
    kinds = [
        (m["alert"]["kind"], m["alert"]["action"])
        for m in to_wire(change_messages(before, after, at(3), RULES))
        if m["type"] == "alert"
    ]
    assert kinds == [("help", "raised"), ("stuck", "raised")]
    cleared = change_messages(after, dismiss_help(after, at(4)), at(4), RULES, by="instructor")
    student, alert = cleared
    assert isinstance(student, StudentChanged) and isinstance(alert, AlertChanged)
    assert (alert.alert.kind, alert.alert.action) == ("help", "cleared")
    assert alert.alert.by == "instructor"
    assert student.student.status == Status.stuck


def test_filters_on_team_and_notebook() -> None:
    student = {"type": "student", "student": {"teamName": "A", "lastNotebook": "n1"}}
    assert matches(student, None, None)
    assert matches(student, "A", "n1")
    assert not matches(student, "B", None)
    assert not matches(student, None, "n2")
    assert matches({"type": "heartbeat"}, "B", "n2")


def test_messages_keep_their_wire_form() -> None:
    # What dashboards read: camelCase keys in this order, timestamps as isoformat.
    state = run(ev(0, error=True, user_name="Ada", notebook_path="n1.ipynb", cell_index=2))
    (student,) = to_wire(change_messages(state, state, at(0.5), RULES))
    expected = {
        "type": "student",
        "student": {
            "student": "ada",
            "userName": "Ada",
            "teamName": None,
            "status": "error",
            "lastActivity": "2025-01-18T09:00:00+00:00",
            "lastNotebook": "n1.ipynb",
            "lastCellIndex": 2,
            "lastCellId": None,
            "events": 1,
            "executions": 1,
            "errors": 1,
            "consecutiveErrors": 1,
            "lastError": {
                "name": "NameError",
                "message": "name 'df' is not defined",
                "at": "2025-01-18T09:00:00+00:00",
                "cellIndex": 2,
            },
            "helpSince": None,
            "helpClaimedBy": None,
            "helpClaimedAt": None,
            "visible": None,
            "hiddenSince": None,
            "editingSince": None,
            "editingCellIndex": None,
            "version": 1,
        },
    }
    assert student == expected
    assert list(student["student"]) == list(expected["student"])  # the order too
    (event,) = to_wire(event_messages([ev(1, user_name="Ada")]))
    assert event["event"]["eventTime"] == "2025-01-18T09:01:00+00:00"
    assert event["event"]["hasError"] is False
    frame = encode(heartbeat(at(0) + timedelta(microseconds=5)))
    assert frame == b'{"type":"heartbeat","serverTime":"2025-01-18T09:00:00.000005+00:00"}'
    removed = to_wire([StudentRemoved(student_id="ada")])
    assert removed == [{"type": "student_removed", "studentId": "ada"}]
