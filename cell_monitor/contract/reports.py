"""Read models of the instructor dashboard's views (heatmap, hotspots, student detail)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import Field

from cell_monitor.contract.events import ReadModel


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
    kind: str = Field(description="help, help_stop (by the student) or dismiss_help/handle_stuck.")
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
