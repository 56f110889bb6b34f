"""What /ws/dashboard sends: snapshot, student, event, alert, student_removed, heartbeat.

Plain dicts with camelCase keys, built once per commit and serialized once per
worker, whatever the number of dashboards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from cell_monitor.domain.live_status import ERROR_MESSAGE_CHARS, LiveState, Status, Thresholds
from cell_monitor.domain.records import NewEvent

Message = dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def student_view(state: LiveState, now: datetime, thresholds: Thresholds) -> dict[str, Any]:
    """A student as dashboards show them; `version` orders updates of one student."""
    return {
        "student": state.student,
        "userName": state.user_name,
        "teamName": state.team_name,
        "status": state.status(now, thresholds).value,
        "lastActivity": _iso(state.last_seen),
        "lastNotebook": state.last_notebook,
        "lastCellIndex": state.last_cell_index,
        "lastCellId": state.last_cell_id,
        "events": state.event_count,
        "executions": state.execution_count,
        "errors": state.error_count,
        "consecutiveErrors": state.consecutive_errors,
        "lastError": (
            {
                "name": state.last_error_name,
                "message": state.last_error_message,
                "at": _iso(state.last_error_at),
                "cellIndex": state.last_error_cell_index,
            }
            if state.last_error_at is not None
            else None
        ),
        "helpSince": _iso(state.help_since),
        "version": state.version,
    }


def event_view(event: NewEvent) -> dict[str, Any]:
    """An event trimmed to what a live dashboard needs (no code, no output)."""
    message = event.error_message
    return {
        "eventId": event.event_id,
        "eventType": event.event_type,
        "eventTime": _iso(event.event_time),
        "student": event.student_key,
        "userName": event.user_name,
        "teamName": event.team_name,
        "notebookPath": event.notebook_path,
        "cellIndex": event.cell_index,
        "cellId": event.cell_id,
        "executionCount": event.execution_count,
        "hasError": event.has_error if event.is_execution else None,
        "errorName": event.error_name,
        "errorMessage": message[:ERROR_MESSAGE_CHARS] if message else None,
        "executionDurationMs": event.duration_ms,
    }


def snapshot(states: Iterable[LiveState], now: datetime, thresholds: Thresholds) -> Message:
    return {
        "type": "snapshot",
        "serverTime": now.isoformat(),
        "thresholds": {
            "stuckAfterErrors": thresholds.stuck_after_errors,
            "activeWindowSeconds": thresholds.active_window.total_seconds(),
        },
        "students": [student_view(s, now, thresholds) for s in states],
    }


def heartbeat(now: datetime) -> Message:
    return {"type": "heartbeat", "serverTime": now.isoformat()}


def event_messages(events: Sequence[NewEvent]) -> list[Message]:
    return [{"type": "event", "event": event_view(e)} for e in events]


def change_messages(
    before: LiveState | None,
    after: LiveState,
    now: datetime,
    thresholds: Thresholds,
    by: str = "student",
) -> list[Message]:
    """The student's new state, plus the alerts its change raised or cleared."""
    messages: list[Message] = [{"type": "student", "student": student_view(after, now, thresholds)}]
    was_help = before is not None and before.help_since is not None
    is_help = after.help_since is not None
    if was_help != is_help:
        messages.append(_alert("help", is_help, after, now, by))
    was_stuck = before is not None and before.is_stuck(thresholds)
    is_stuck = after.is_stuck(thresholds)
    if was_stuck != is_stuck:
        messages.append(_alert("stuck", is_stuck, after, now, by))
    return messages


def idle_message(state: LiveState, now: datetime, thresholds: Thresholds) -> Message:
    return {"type": "student", "student": student_view(state, now, thresholds)}


def _alert(kind: str, raised: bool, state: LiveState, now: datetime, by: str) -> Message:
    return {
        "type": "alert",
        "alert": {
            "kind": kind,
            "action": "raised" if raised else "cleared",
            "student": state.student,
            "userName": state.user_name,
            "teamName": state.team_name,
            "notebook": state.last_notebook,
            "since": _iso(state.help_since) if kind == "help" else _iso(state.last_error_at),
            "errorName": state.last_error_name if kind == "stuck" else None,
            "errorMessage": state.last_error_message if kind == "stuck" else None,
            "consecutiveErrors": state.consecutive_errors,
            "at": now.isoformat(),
            "by": by,
        },
    }


def matches(message: Message, team: str | None, notebook: str | None) -> bool:
    """Whether a dashboard filtered on team/notebook wants this message."""
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


__all__ = ["Status"]
