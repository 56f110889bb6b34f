"""What /ws/dashboard sends: snapshot, student, event, alert, student_removed, heartbeat.

The models of cell_monitor.contract.live, built once per commit; `to_wire`
serialises them once, whatever the number of workers and dashboards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from cell_monitor.contract.live import (
    Alert,
    AlertChanged,
    EventAdded,
    Heartbeat,
    LastError,
    LiveEvent,
    LiveMessage,
    LiveThresholds,
    Snapshot,
    StudentChanged,
    StudentView,
    WireMessage,
)
from cell_monitor.domain.live_status import ERROR_MESSAGE_CHARS, LiveState, Thresholds
from cell_monitor.domain.records import NewEvent


def student_view(state: LiveState, now: datetime, thresholds: Thresholds) -> StudentView:
    """A student as dashboards show them; `version` orders updates of one student."""
    return StudentView(
        student=state.student,
        user_name=state.user_name,
        team_name=state.team_name,
        status=state.status(now, thresholds),
        last_activity=state.last_seen,
        last_notebook=state.last_notebook,
        last_cell_index=state.last_cell_index,
        last_cell_id=state.last_cell_id,
        events=state.event_count,
        executions=state.execution_count,
        errors=state.error_count,
        consecutive_errors=state.consecutive_errors,
        last_error=(
            LastError(
                name=state.last_error_name,
                message=state.last_error_message,
                at=state.last_error_at,
                cell_index=state.last_error_cell_index,
            )
            if state.last_error_at is not None
            else None
        ),
        help_since=state.help_since,
        help_claimed_by=state.help_claimed_by,
        help_claimed_at=state.help_claimed_at,
        visible=state.visible,
        hidden_since=state.hidden_since,
        editing_since=state.editing_since,
        editing_cell_index=state.editing_cell_index,
        version=state.version,
    )


def event_view(event: NewEvent) -> LiveEvent:
    """An event trimmed to what a live dashboard needs (no code, no output)."""
    message = event.error_message
    return LiveEvent.model_construct(
        event_id=event.event_id,
        event_type=event.event_type,
        event_time=event.event_time,
        student=event.student_key,
        user_name=event.user_name,
        team_name=event.team_name,
        notebook_path=event.notebook_path,
        cell_index=event.cell_index,
        cell_id=event.cell_id,
        execution_count=event.execution_count,
        has_error=event.has_error if event.is_execution else None,
        error_name=event.error_name,
        error_message=message[:ERROR_MESSAGE_CHARS] if message else None,
        execution_duration_ms=event.duration_ms,
        tests_passed=sum(t.passed for t in event.tests) if event.tests else None,
        tests_failed=sum(not t.passed for t in event.tests) if event.tests else None,
    )


def snapshot(states: Iterable[LiveState], now: datetime, thresholds: Thresholds) -> Snapshot:
    return Snapshot(
        server_time=now,
        thresholds=LiveThresholds(
            stuck_after_errors=thresholds.stuck_after_errors,
            active_window_seconds=thresholds.active_window.total_seconds(),
            quiet_after_seconds=thresholds.quiet_after.total_seconds(),
            away_after_seconds=thresholds.away_after.total_seconds(),
        ),
        students=[student_view(s, now, thresholds) for s in states],
    )


def heartbeat(now: datetime) -> Heartbeat:
    return Heartbeat(server_time=now)


def event_messages(events: Sequence[NewEvent]) -> list[LiveMessage]:
    # Built without validation (every commit, every event): the values come
    # from events that passed validation (ingest/parse.py).
    return [EventAdded.model_construct(event=event_view(e)) for e in events]


def change_messages(
    before: LiveState | None,
    after: LiveState,
    now: datetime,
    thresholds: Thresholds,
    by: Literal["student", "instructor"] = "student",
) -> list[LiveMessage]:
    """The student's new state, plus the alerts its change raised or cleared."""
    messages: list[LiveMessage] = [StudentChanged(student=student_view(after, now, thresholds))]
    was_help = before is not None and before.help_since is not None
    is_help = after.help_since is not None
    if was_help != is_help:
        messages.append(_alert("help", is_help, after, now, by))
    was_stuck = before is not None and before.is_stuck(thresholds)
    is_stuck = after.is_stuck(thresholds)
    if was_stuck != is_stuck:
        messages.append(_alert("stuck", is_stuck, after, now, by))
    was_quiet = before is not None and before.is_quiet(now, thresholds)
    is_quiet = after.is_quiet(now, thresholds)
    if was_quiet != is_quiet:
        messages.append(_alert("quiet", is_quiet, after, now, by))
    return messages


def idle_message(state: LiveState, now: datetime, thresholds: Thresholds) -> StudentChanged:
    return StudentChanged(student=student_view(state, now, thresholds))


def aged_messages(
    state: LiveState, was_quiet: bool, now: datetime, thresholds: Thresholds
) -> list[LiveMessage]:
    """A student whose status changed with time alone (idle, quiet, away), and the
    quiet alert if that changed (`was_quiet`: quiet at the previous sweep)."""
    out: list[LiveMessage] = [idle_message(state, now, thresholds)]
    is_quiet = state.is_quiet(now, thresholds)
    if is_quiet != was_quiet:
        out.append(_alert("quiet", is_quiet, state, now, "student"))
    return out


def _alert(
    kind: Literal["help", "stuck", "quiet"],
    raised: bool,
    state: LiveState,
    now: datetime,
    by: Literal["student", "instructor"],
) -> AlertChanged:
    stuck = kind == "stuck"
    since = {"stuck": state.last_error_at, "help": state.help_since, "quiet": state.editing_since}
    return AlertChanged(
        alert=Alert(
            kind=kind,
            action="raised" if raised else "cleared",
            student=state.student,
            user_name=state.user_name,
            team_name=state.team_name,
            notebook=state.last_notebook,
            since=since[kind],
            error_name=state.last_error_name if stuck else None,
            error_message=state.last_error_message if stuck else None,
            consecutive_errors=state.consecutive_errors,
            at=now,
            by=by,
        )
    )


def matches(message: WireMessage, team: str | None, notebook: str | None) -> bool:
    """Whether a dashboard filtered on team/notebook wants this message (as the broker has it)."""
    if team is None and notebook is None:
        return True
    kind = message.get("type")
    if kind == "student":
        body = message["student"]
        team_of, notebook_of = body.get("teamName"), body.get("lastNotebook")
    elif kind == "event":
        body = message["event"]
        team_of, notebook_of = body.get("teamName"), body.get("notebookPath")
    elif kind == "alert":
        body = message["alert"]
        team_of, notebook_of = body.get("teamName"), body.get("notebook")
    else:
        return True
    return (team is None or team_of == team) and (notebook is None or notebook_of == notebook)
