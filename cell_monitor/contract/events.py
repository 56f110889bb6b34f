"""The ingest contract (see DESIGN.md): the events students send and what ingest answers.

Field names are camelCase and compatible with the public reference extension's
`IStudentProgressData`, so its students' JupyterLabs can report here unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from cell_monitor.contract.signals import CellActivity, TestOutcome

# Questions one test cell may report (otter's check_all covers a notebook).
MAX_TESTS = 200
# Cells one engagement event may report.
MAX_ACTIVITY_CELLS = 200


class EventType(str, Enum):
    """The event types the system knows; others are stored as they come."""

    cell_executed = "cell_executed"
    notebook_opened = "notebook_opened"
    notebook_saved = "notebook_saved"
    notebook_closed = "notebook_closed"
    help = "help"
    help_stop = "help_stop"
    # A student's answer to an instructor's message (its `messageId`; a reply's `replyText`).
    message_seen = "message_seen"
    message_inserted = "message_inserted"
    message_acknowledged = "message_acknowledged"
    message_reply = "message_reply"
    # Visibility, idle and per-cell edit counts (contract/signals.py).
    engagement = "engagement"


KNOWN_EVENT_TYPES = frozenset(t.value for t in EventType)

_EVENT_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")

# No event of this system can be older: an earlier eventTime is a wrong clock.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
# The store's INTEGER columns (cell_executions.execution_count) are 32-bit.
INT32_MAX = 2**31 - 1


def to_utc(value: datetime) -> datetime:
    """`value` in UTC (no offset means UTC); ValueError when UTC cannot hold it."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError as exc:
        # 0001-01-01T00:00:00+14:00 is a year-0 time in UTC, which datetime cannot hold.
        raise ValueError("is out of range once converted to UTC") from exc


# A datetime parameter of the API, converted to UTC (422 when it cannot be).
UtcTime = Annotated[datetime, AfterValidator(to_utc)]


# The reference extension sends "" for unset settings (userName, teamName).
_BLANK_MEANS_UNSET = (
    "event_id",
    "email_address",
    "user_id",
    "user_name",
    "team_name",
    "session_id",
    "notebook_path",
    "cell_id",
    "cell_type",
    "error_name",
    "help_request_id",
    "message_id",
    "reply_text",
)
_WIRE_NAMES = {"event_id": "eventId", "message_id": "messageId"}


class EventIn(BaseModel):
    """One event as a student's JupyterLab sends it."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        extra="allow",
        str_strip_whitespace=True,
    )

    event_id: str | None = Field(None, max_length=128, description="Client UUID; idempotency key.")
    event_type: str = Field(..., min_length=1, max_length=64)
    event_time: datetime | None = Field(None, description="ISO 8601; no offset means UTC.")
    email_address: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    team_name: str | None = None
    session_id: str | None = None
    notebook_path: str | None = None
    cell_id: str | None = None
    cell_index: int | None = Field(None, ge=0, le=1_000_000)
    cell_type: str | None = Field(None, max_length=32)
    code: str | None = None
    execution_count: int | None = Field(None, ge=0, le=INT32_MAX)
    has_error: bool | None = None
    error_name: str | None = None
    error_message: str | None = None
    traceback: str | list[str] | None = None
    result: str | None = None
    execution_duration_ms: float | None = Field(None, ge=0, le=7 * 24 * 3600 * 1000)
    help_request_id: str | None = Field(
        None,
        max_length=128,
        description="On help/help_stop: the client's id of this ask. A help event with a new "
        "id asks again (also right after an instructor closed the last request); the same id "
        "is a resend. Without it, help events less than 60 s apart are one request.",
    )
    message_id: str | None = Field(
        None,
        max_length=64,
        description="On message_seen/_inserted/_acknowledged/_reply: the instructor's message.",
    )
    reply_text: str | None = Field(
        None, description="On message_reply: the student's short reply (cut to 500 characters)."
    )
    # Test results and engagement (contract/signals.py); unknown to older clients.
    tests: list[TestOutcome] | None = Field(
        None, max_length=MAX_TESTS, description="On cell_executed of a test cell."
    )
    visible: bool | None = Field(None, description="On engagement: the notebook is visible.")
    idle: bool | None = Field(None, description="On engagement: no input for a while.")
    cells: list[CellActivity] | None = Field(
        None, max_length=MAX_ACTIVITY_CELLS, description="On engagement: activity per cell."
    )
    editing_ms: float | None = Field(
        None,
        ge=0,
        le=24 * 3_600_000,
        description="On engagement: the oldest reported edit was this long before the event.",
    )
    hidden_ms: float | None = Field(
        None,
        ge=0,
        le=24 * 3_600_000,
        description="On engagement, hidden: the notebook was hidden this long before the event.",
    )
    edits: int | None = Field(None, ge=0, le=100_000, description="On cell_executed: its edits.")
    active_ms: float | None = Field(
        None, ge=0, le=3_600_000, description="On cell_executed: its active time."
    )

    @field_validator("event_type", mode="after")
    @classmethod
    def _event_type(cls, value: str) -> str:
        if value in KNOWN_EVENT_TYPES:  # nearly every event: already lower case and valid
            return value
        value = value.lower()
        if not set(value) <= _EVENT_TYPE_CHARS:
            raise ValueError("must contain only letters, digits, '_', '.' or '-'")
        return value

    @field_validator("event_time", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = to_utc(value)
        if value < EARLIEST_EVENT_TIME:
            raise ValueError(
                f"is before {EARLIEST_EVENT_TIME:%Y-%m-%d}: the sending computer's clock is wrong"
            )
        # Later than the receipt is bounded when the event is normalized (ingest.py).
        return value

    @model_validator(mode="after")
    def _identity(self) -> EventIn:
        # One pass over the text fields instead of a validator call per field (the
        # hottest code of ingest): blank (already stripped) text means unset.
        values = self.__dict__
        for name in _BLANK_MEANS_UNSET:
            value = values[name]
            if value is not None and not value.strip():
                values[name] = None
        for name in ("event_id", "message_id"):
            value = values[name]
            if value is not None and "\x00" in value:
                raise ValueError(f"{_WIRE_NAMES[name]}: must not contain NUL characters")
        if not values["email_address"] and not values["user_id"]:
            raise ValueError("an event needs emailAddress or userId to identify the student")
        return self


# Answers always hold every field: the generated TypeScript types make none optional.
_ANSWER = ConfigDict(json_schema_serialization_defaults_required=True)


class RejectedEvent(BaseModel):
    model_config = _ANSWER

    index: int = Field(description="Position of the event in the posted array.")
    event_id: str | None = Field(None, serialization_alias="eventId")
    errors: list[str]


class IngestResponse(BaseModel):
    """What POST /api/v1/events answers (202)."""

    model_config = _ANSWER

    accepted: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Events whose eventId was already stored.")
    truncated: int = Field(0, description="Accepted events whose long text was shortened.")
    clock_adjusted: int = Field(
        0,
        serialization_alias="clockAdjusted",
        description="Accepted events dated later than their receipt (plus the allowed clock "
        "skew): stored at the receipt time, the client's eventTime kept as metadata.",
    )
    rejected: list[RejectedEvent] = Field(default_factory=list)
