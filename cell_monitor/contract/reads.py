"""Every REST read response: the read API, the dashboard's views, the account and health."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import Field

from cell_monitor.contract.base import ReadModel, Timestamp


class EventOut(ReadModel):
    event_id: str
    event_type: str
    event_time: datetime
    received_at: datetime
    email_address: str | None = None
    user_id: str | None = None
    student: str = Field(description="The student's key: emailAddress, else userId.")
    user_name: str | None = None
    team_name: str | None = None
    session_id: str | None = None
    notebook_path: str | None = None
    cell_id: str | None = None
    cell_index: int | None = None
    cell_type: str | None = None
    code: str | None = None
    execution_count: int | None = None
    has_error: bool | None = None
    error_name: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    result: str | None = None
    execution_duration_ms: float | None = None
    truncated: bool = False
    metadata: dict[str, Any] | None = None


class EventPage(ReadModel):
    items: list[EventOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class StudentOut(ReadModel):
    student: str
    email_address: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    team_name: str | None = None
    first_seen: datetime
    last_activity: datetime
    events: int
    executions: int
    errors: int


class StudentList(ReadModel):
    items: list[StudentOut]


class StatsOut(ReadModel):
    events: int
    students: int
    notebooks: int
    sessions: int
    executions: int
    errors: int
    events_by_type: dict[str, int]
    first_event: datetime | None = None
    last_event: datetime | None = None


class ActivityMinute(ReadModel):
    time: datetime = Field(description="Start of the minute (UTC).")
    executions: int
    errors: int


class ActivityOut(ReadModel):
    """Cell executions and errors per minute, for the dashboard's activity chart."""

    source: str = Field(description="Who answered: `influxdb`, `postgresql` or `sqlite`.")
    hours: int
    bucket_seconds: int = 60
    minutes: list[ActivityMinute]
    fallback_reason: str | None = Field(
        None, description="Why InfluxDB, though configured, did not answer."
    )


class NotebookOut(ReadModel):
    path: str
    students: int = Field(description="Students who ran at least one of its cells since `since`.")
    executions: int = Field(description="Cell executions since `since`.")
    errors: int = Field(description="Failed cell executions since `since`.")
    last_activity: datetime | None = Field(None, description="Its newest event, of any type.")


class NotebookList(ReadModel):
    since: datetime = Field(description="Start of the window the counts cover.")
    items: list[NotebookOut] = Field(description="Most recently used first.")


class CellState(str, Enum):
    """A student's cell by its latest run; a cell never run has no entry."""

    ok = "ok"
    failed = "failed"


class CellProgress(ReadModel):
    cell_index: int
    reached: int = Field(description="Students who ran this cell at least once.")
    ok: int = Field(description="Students whose latest run of it succeeded.")
    failed: int = Field(description="Students whose latest run of it failed.")


class StudentProgress(ReadModel):
    student: str
    user_name: str | None = None
    team_name: str | None = None
    cells: dict[int, CellState] = Field(description="Cell index → state of its latest run.")


class ProgressOut(ReadModel):
    """Cells x students of one notebook: not run / ran OK / last run failed."""

    notebook: str
    cell_count: int = Field(description="Highest cell index seen, plus one.")
    cells: list[CellProgress]
    students: list[StudentProgress]


class HotspotStudent(ReadModel):
    student: str
    user_name: str | None = None
    team_name: str | None = None
    last_at: datetime


class Hotspot(ReadModel):
    notebook: str | None = Field(None, description="notebookPath of the cell.")
    cell_index: int | None
    error_name: str | None
    error_message: str | None
    students: int = Field(description="Distinct students who hit this error on this cell.")
    occurrences: int
    last_at: datetime
    who: list[HotspotStudent] = Field(description="Those students, most recent first.")


class HotspotsOut(ReadModel):
    notebook: str | None
    since: datetime | None
    items: list[Hotspot] = Field(description="Most students first.")


class TimelineExecution(ReadModel):
    event_id: str
    event_time: datetime
    notebook_path: str | None = None
    cell_index: int | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    code: str | None = None
    duration_ms: float | None = None
    has_error: bool
    error_name: str | None = None
    error_message: str | None = None
    output_summary: str | None = Field(None, description="The start of the result text.")


class HelpEntry(ReadModel):
    at: datetime
    kind: str = Field(
        description="help, help_stop (by the student) or dismiss_help, handle_stuck, "
        "claim_help, release_help (by an instructor)."
    )
    by: str = Field(description="student or instructor")


class SessionOut(ReadModel):
    session_id: str
    first_seen: datetime
    last_seen: datetime


class StudentDetail(ReadModel):
    student: str
    user_name: str | None = None
    team_name: str | None = None
    email_address: str | None = None
    first_seen: datetime
    last_activity: datetime
    executions: list[TimelineExecution] = Field(description="Newest first.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for older executions.")
    help: list[HelpEntry] = Field(description="Help requests and instructor actions, newest first.")
    sessions: list[SessionOut] = Field(description="Newest first.")


class AccountOut(ReadModel):
    """The signed-in instructor."""

    username: str
    role: str


class HealthOut(ReadModel):
    """GET /health, as in the user's guide (503 when a service is unhealthy)."""

    status: Literal["healthy", "unhealthy"]
    timestamp: Timestamp
    version: str
    services: dict[str, str] = Field(description="Service → `healthy` or `unhealthy: <reason>`.")
    jupyterhub: str | None = Field(
        None, description="The hub this server is a service of (its URL), when configured."
    )


class ReadyOut(ReadModel):
    """GET /health/ready (503 when not ready)."""

    status: Literal["ready", "not ready"]
    services: dict[str, str]


class AliveOut(ReadModel):
    """GET /health/live."""

    status: Literal["alive"]
