"""Messages of the live feed: WS /ws/dashboard, GET /api/v1/live and the broker between workers.

Each message is a model with a `type` discriminator. It is serialised once, by
`to_wire`, into the JSON object the broker carries and the dashboards read.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from cell_monitor.contract.base import ReadModel, Timestamp


class Status(str, Enum):
    """Ordered by priority: the first that applies is the student's status
    (the rules: domain/live_status.py; docs/dashboard.md, "Statuses")."""

    help = "help"
    stuck = "stuck"
    # Visible and editing, no (passing) run for a while: silent struggle.
    quiet = "quiet"
    error = "error"
    # The notebook hidden (another tab or window) for a while.
    away = "away"
    active = "active"
    idle = "idle"


class LastError(ReadModel):
    name: str | None
    message: str | None
    at: Timestamp | None
    cell_index: int | None


class StudentView(ReadModel):
    """A student as dashboards show them; `version` orders updates of one student."""

    student: str
    user_name: str | None
    team_name: str | None
    status: Status
    last_activity: Timestamp | None
    last_notebook: str | None
    last_cell_index: int | None
    last_cell_id: str | None
    events: int
    executions: int
    errors: int
    consecutive_errors: int
    last_error: LastError | None
    help_since: Timestamp | None
    help_claimed_by: str | None = Field(description='Who is on the way, e.g. "Ada (TA)".')
    help_claimed_at: Timestamp | None
    visible: bool | None = Field(description="The notebook is visible (null: not reported).")
    hidden_since: Timestamp | None
    editing_since: Timestamp | None = Field(description="Editing without a passing run since.")
    editing_cell_index: int | None
    version: int


class LiveEvent(ReadModel):
    """An event trimmed to what a live dashboard needs (no code, no output)."""

    event_id: str
    event_type: str
    event_time: Timestamp | None
    student: str
    user_name: str | None
    team_name: str | None
    notebook_path: str | None
    cell_index: int | None
    cell_id: str | None
    execution_count: int | None
    has_error: bool | None = Field(description="null for events that are not executions")
    error_name: str | None
    error_message: str | None = Field(description="Its start only.")
    execution_duration_ms: float | None
    tests_passed: int | None = Field(None, description="Questions a test cell's run passed.")
    tests_failed: int | None = Field(None, description="Null for runs of ordinary cells.")


class Alert(ReadModel):
    kind: Literal["help", "stuck", "quiet"]
    action: Literal["raised", "cleared"]
    student: str
    user_name: str | None
    team_name: str | None
    notebook: str | None
    since: Timestamp | None = Field(
        description="Help asked, the latest error of the streak, or editing since (quiet)."
    )
    error_name: str | None
    error_message: str | None
    consecutive_errors: int
    at: Timestamp
    by: Literal["student", "instructor"]


class LiveThresholds(ReadModel):
    stuck_after_errors: int
    active_window_seconds: float
    quiet_after_seconds: float
    away_after_seconds: float


class Snapshot(ReadModel):
    """The class's live state: the first message, and what GET /api/v1/live answers."""

    type: Literal["snapshot"] = "snapshot"
    server_time: Timestamp
    thresholds: LiveThresholds
    students: list[StudentView]


class StudentChanged(ReadModel):
    type: Literal["student"] = "student"
    student: StudentView


class EventAdded(ReadModel):
    type: Literal["event"] = "event"
    event: LiveEvent


class AlertChanged(ReadModel):
    type: Literal["alert"] = "alert"
    alert: Alert


class StudentRemoved(ReadModel):
    """The student was erased: dashboards drop their tile and alerts."""

    type: Literal["student_removed"] = "student_removed"
    student_id: str


class MessagesChanged(ReadModel):
    """Receipts or replies of these sent messages changed: dashboards read them again."""

    type: Literal["messages_changed"] = "messages_changed"
    message_ids: list[str]


class Heartbeat(ReadModel):
    """Every 30 s; dashboards answer with a HeartbeatResponse."""

    type: Literal["heartbeat"] = "heartbeat"
    server_time: Timestamp


LiveMessage = Annotated[
    Snapshot
    | StudentChanged
    | EventAdded
    | AlertChanged
    | StudentRemoved
    | MessagesChanged
    | Heartbeat,
    Field(discriminator="type"),
]


class Batch(ReadModel):
    """One WebSocket frame carrying the messages that queued up meanwhile."""

    type: Literal["batch"] = "batch"
    messages: list[LiveMessage]


# What one WebSocket frame from the server holds.
LiveFrame = Annotated[LiveMessage | Batch, Field(discriminator="type")]


class HeartbeatResponse(ReadModel):
    type: Literal["heartbeat_response"] = "heartbeat_response"


class Resync(ReadModel):
    """Ask for a fresh snapshot on the open connection."""

    type: Literal["resync"] = "resync"


# What a dashboard sends on /ws/dashboard.
DashboardMessage = Annotated[HeartbeatResponse | Resync, Field(discriminator="type")]

# A live message as the broker carries it: the JSON object of one LiveMessage.
WireMessage = dict[str, Any]

_MESSAGES: TypeAdapter[list[LiveMessage]] = TypeAdapter(list[LiveMessage])
_MESSAGE: TypeAdapter[LiveMessage] = TypeAdapter(LiveMessage)


def to_wire(messages: Sequence[LiveMessage]) -> list[WireMessage]:
    """The messages as JSON objects (camelCase), serialised once for every worker."""
    wire: list[WireMessage] = _MESSAGES.dump_python(list(messages), mode="json", by_alias=True)
    return wire


def encode(message: LiveMessage) -> bytes:
    """One message as a WebSocket frame's text."""
    return _MESSAGE.dump_json(message, by_alias=True)
