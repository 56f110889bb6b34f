"""The normalized schema of the primary store (SQLite or PostgreSQL).

students, notebooks and sessions are dimensions; `events` is the raw event log
(one row per stored eventId, unique: storage is exactly-once) and
`cell_executions` holds what a `cell_executed` event says about the cell.
Per-student counters are kept on `students` so the dashboard's class list stays
one small scan however long the log grows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    and_,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # emailAddress (lower-cased) when given, else userId.
    student_key: Mapped[str] = mapped_column(String(512), unique=True)
    email_address: Mapped[str | None] = mapped_column(String(512))
    user_id: Mapped[str | None] = mapped_column(String(512))
    user_name: Mapped[str | None] = mapped_column(String(512))
    team_name: Mapped[str | None] = mapped_column(String(512), index=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    event_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    execution_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    error_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Live state (see cell_monitor/live/state.py), updated with every commit.
    last_notebook: Mapped[str | None] = mapped_column(String(1024))
    last_cell_index: Mapped[int | None] = mapped_column(Integer)
    last_cell_id: Mapped[str | None] = mapped_column(String(512))
    last_execution_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_execution_failed: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error_name: Mapped[str | None] = mapped_column(String(512))
    last_error_message: Mapped[str | None] = mapped_column(String(1024))
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error_cell_index: Mapped[int | None] = mapped_column(Integer)
    help_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    help_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    help_dismissed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    help_ask_id: Mapped[str | None] = mapped_column(String(128))
    help_claimed_by: Mapped[str | None] = mapped_column(String(256))
    help_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Engagement (revision 0012): visibility, idle, editing without a passing run.
    visible: Mapped[bool | None] = mapped_column(Boolean)
    hidden_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    input_idle: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    engagement_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    editing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    editing_cell_index: Mapped[int | None] = mapped_column(Integer)
    # 0 until the first event is applied; dashboards drop messages older than they hold.
    state_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class InstructorAction(Base):
    """Who did what to a student's live state, and when."""

    __tablename__ = "instructor_actions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class HelpRequest(Base):
    """One help request from its ask to its end: what the student sees and the wait figures.

    Kept in step with the help part of the student's live state, in the same
    transaction (storage/help_rows.py). `state`: open, claimed, resolved (the
    student ended it after someone came), withdrawn (ended before), dismissed.
    """

    __tablename__ = "help_requests"
    __table_args__ = (Index("ix_help_requests_open", "closed_at", "opened_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    notebook_path: Mapped[str | None] = mapped_column(String(1024))
    ask_id: Mapped[str | None] = mapped_column(String(128))
    claimed_by: Mapped[str | None] = mapped_column(String(256))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The first answer of an instructor (claim or dismissal): the end of the wait.
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(256))


class Notebook(Base):
    __tablename__ = "notebooks"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)


class LearningSession(Base):
    """A student's JupyterLab session (the client's sessionId)."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("student_id", "session_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    session_key: Mapped[str] = mapped_column(String(512))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)


class Event(Base):
    """The raw event log: every stored event once.

    These models describe the SQLite schema. On PostgreSQL (revision 0005) events
    and cell_executions are partitioned by month with keys (id, event_time), and
    the unique eventId lives in the table event_ids: see storage/partitions.py.
    """

    __tablename__ = "events"
    # SQLite: never reuse the id of a deleted event (revision 0009), as
    # PostgreSQL's sequence: readers follow the log by id (sinks/log_cursor.py).
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    event_time: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    notebook_id: Mapped[int | None] = mapped_column(ForeignKey("notebooks.id", ondelete="SET NULL"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Fields outside the contract, kept as the client sent them.
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CellExecution(Base):
    """What a `cell_executed` event tells about the cell run."""

    __tablename__ = "cell_executions"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    notebook_id: Mapped[int | None] = mapped_column(ForeignKey("notebooks.id", ondelete="SET NULL"))
    event_time: Mapped[datetime] = mapped_column(UtcDateTime)
    cell_id: Mapped[str | None] = mapped_column(String(512))
    cell_index: Mapped[int | None] = mapped_column(Integer)
    cell_type: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(Text)
    execution_count: Mapped[int | None] = mapped_column(Integer)
    has_error: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    error_name: Mapped[str | None] = mapped_column(String(512))
    error_message: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class LatestRun(Base):
    """The latest run of each (student, notebook, cell), kept by the writer.

    What the progress heatmap shows, so it reads one row per cell of a student
    instead of the notebook's whole history. Newest means the greatest
    (event_time, event pk): a late event does not replace a newer run. `runs`,
    `first_at`, `edits` and `active_ms` count every run stored (a prune removes a row only when its
    latest run is pruned, see storage/retention.py).
    """

    __tablename__ = "latest_runs"
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    notebook_id: Mapped[int] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), primary_key=True
    )
    cell_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_event_pk: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[bool] = mapped_column(Boolean)
    error_name: Mapped[str | None] = mapped_column(String(512))
    error_message: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The edits and active time the runs themselves carried for this cell (the
    # rest of its time on task is in cell_activity): kept in the row each run
    # already updates, so a run costs no second statement.
    edits: Mapped[int] = mapped_column(BigInteger, server_default="0")
    active_ms: Mapped[float] = mapped_column(Float, server_default="0")


class NotebookStudent(Base):
    """When each student last ran a cell of each notebook, kept by the writer.

    The notebook list's students of a window: the newest `last_at` of the
    student's latest_runs rows of the notebook, kept apart so that no index of
    latest_runs holds a column every run changes and its updates stay in place
    (revision 0020). One row per student and notebook, read whole.
    """

    __tablename__ = "notebook_students"
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    notebook_id: Mapped[int] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), primary_key=True
    )
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TestResultRow(Base):
    """A student's latest outcome of one question of a notebook, kept by the writer.

    Newest by (last_at, last_event_pk), like latest_runs; `attempts` counts every
    stored run and `first_passed_at` is the earliest passing one (revision 0012).
    """

    __tablename__ = "test_results"
    __test__ = False  # not a pytest class
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    notebook_id: Mapped[int] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[str] = mapped_column(String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    cell_index: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    points: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[float | None] = mapped_column(Float)
    error_name: Mapped[str | None] = mapped_column(String(512))
    attempts: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_passed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_event_pk: Mapped[int] = mapped_column(BigInteger)


class CellActivityRow(Base):
    """A student's edits and active time on one cell, summed from engagement reports."""

    __tablename__ = "cell_activity"
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    notebook_id: Mapped[int] = mapped_column(
        ForeignKey("notebooks.id", ondelete="CASCADE"), primary_key=True
    )
    cell_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    active_ms: Mapped[float] = mapped_column(Float)
    edits: Mapped[int] = mapped_column(BigInteger)
    reports: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EventTypeCount(Base):
    """Stored events per type (`/api/v1/stats`), in a few rows per type.

    Several commits run at once; each adds to the row of its own `shard` (its
    connection's), so they do not queue on one hot row. Readers sum the shards.
    Like the students' counters: lowered by an erasure, not by a prune.
    """

    __tablename__ = "event_type_counts"
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)


class ExecutionMinute(Base):
    """Cell executions and errors per minute and notebook (activity chart, notebook list).

    `minute` is whole minutes since 1970 UTC of the execution's event_time;
    `notebook_id` is 0 for executions outside a notebook. Sharded like
    EventTypeCount. A prune removes the minutes before the cutoff's minute.
    """

    __tablename__ = "execution_minutes"
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notebook_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    executions: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)


class ErrorGroup(Base):
    """A hotspot: one (notebook, cell, error name, message), as the dashboard groups errors.

    `group_key` is a hash of the four (a message can be longer than an index
    key may be); storage/report_tables.py computes it.
    """

    __tablename__ = "error_groups"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(64), unique=True)
    notebook_id: Mapped[int | None] = mapped_column(BigInteger)
    cell_index: Mapped[int | None] = mapped_column(Integer)
    error_name: Mapped[str | None] = mapped_column(String(512))
    error_message: Mapped[str | None] = mapped_column(Text)


class ErrorGroupCount(Base):
    """How many students hit a group and how often; sharded like EventTypeCount.

    When the group was last hit is the newest of its error_students rows.
    """

    __tablename__ = "error_group_counts"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    students: Mapped[int] = mapped_column(BigInteger)
    occurrences: Mapped[int] = mapped_column(BigInteger)


class ErrorStudent(Base):
    """A student's errors of one group: how many, the latest when (the hotspot's "who")."""

    __tablename__ = "error_students"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True
    )
    occurrences: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ErrorMinute(Base):
    """Errors per minute and hotspot group (sharded like EventTypeCount), no student.

    Hotspots over a window (1 h, 24 h) sum these for their occurrences; who hit a
    group in the window comes from error_students.last_at (revision 0013).
    """

    __tablename__ = "error_minutes"
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("error_groups.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurrences: Mapped[int] = mapped_column(BigInteger)


class SinkPosition(Base):
    """How far a sink (e.g. InfluxDB) has read the event log, so it resumes there."""

    __tablename__ = "sink_positions"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Every events.id at or below this one has been handled by the sink.
    last_event_pk: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    """An instructor (or admin) account of the dashboard."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    # argon2id, in the PHC string format (algorithm and parameters included).
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The teams a TA looks after ("Only mine" on the dashboard), set by an admin;
    # merged with the account's hub groups in hub mode.
    teams: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its hash."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class IngestToken(Base):
    """A course's ingest token: only its SHA-256 is kept (it is shown once, at creation)."""

    __tablename__ = "ingest_tokens"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    course: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StudentCredential(Base):
    """One student's ingest credential: events sent with it are stored under `student_key`.

    Only the SHA-256 of the credential is kept (it is shown once, at creation).
    """

    __tablename__ = "student_credentials"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The identity the credential names: an email address (lower case) or a user id.
    student_key: Mapped[str] = mapped_column(String(512), index=True)
    # The name and team of the roster, shown instead of what the browser says.
    display_name: Mapped[str | None] = mapped_column(String(512))
    team: Mapped[str | None] = mapped_column(String(512))
    course: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Message(Base):
    """A message or hint an instructor sent (to the students of message_recipients).

    `audience` says whom it was for without naming a student (a team, a hotspot,
    "3 students"): the students themselves are only in message_recipients.
    """

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # The public id (the student's JupyterLab dedups by it).
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    # The dashboard's idempotency key: a resent request is stored once.
    request_id: Mapped[str] = mapped_column(String(128), unique=True)
    sender: Mapped[str] = mapped_column(String(256))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    body: Mapped[str] = mapped_column(Text)
    snippet: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(String(1024))


class MessageRecipient(Base):
    """One student of a message and what became of it there (the read receipts)."""

    __tablename__ = "message_recipients"
    __table_args__ = (UniqueConstraint("message_id", "student_id"),)
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    inserted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MessageReply(Base):
    """A student's short reply to a message (one row per stored message_reply event)."""

    __tablename__ = "message_replies"
    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)


# The user's guide's indexes: a student's and a notebook's history, newest first.
Index("ix_events_student_time", Event.student_id, Event.event_time.desc())
Index("ix_events_notebook_time", Event.notebook_id, Event.event_time.desc())
# Events of a type by time (`/api/v1/events?eventType=`, a student's help requests), but
# for cell executions: the log's bulk, read by ix_events_time with a filter instead (a
# page of them is among the newest events), costs this index nothing (revision 0017).
DENSE_EVENT_TYPE = "cell_executed"
NOT_DENSE_EVENT_TYPE = Event.event_type != DENSE_EVENT_TYPE
Index(
    "ix_events_type_time",
    Event.event_type,
    Event.event_time.desc(),
    sqlite_where=NOT_DENSE_EVENT_TYPE,
    postgresql_where=NOT_DENSE_EVENT_TYPE,
)
# Time windows (replay, analysis export, the unfiltered events list) and retention.
Index("ix_events_time", Event.event_time.desc())
# SQLite only (PostgreSQL has no foreign key from events to sessions): deleting
# old sessions looks their events up through it (storage/retention.py).
Index("ix_events_session_id", Event.session_id)
Index("ix_cell_executions_student_time", CellExecution.student_id, CellExecution.event_time.desc())
# A notebook's runs: a cell's (clusters, run history) and all of them (notebook exports,
# which sort what they export, and erasure's orphan check): the executions keep no
# (notebook, time) index (revision 0017 dropped it).
Index("ix_cell_executions_notebook_cell", CellExecution.notebook_id, CellExecution.cell_index)
# The report tables' lookups (revisions 0008, 0013): a notebook's heatmap (covering:
# read from the index alone), a hotspot's students (of the term, of a window), a
# student's rows on erasure. latest_runs has no index on last_at, which every run
# changes, so a run that keeps its outcome leaves the indexes alone (revision 0020:
# the notebook list's students of a window come from notebook_students).
Index(
    "ix_latest_runs_cells",
    LatestRun.notebook_id,
    LatestRun.student_id,
    LatestRun.cell_index,
    LatestRun.failed,
)
Index("ix_error_students_group_last", ErrorStudent.group_id, ErrorStudent.last_at.desc())
Index("ix_error_students_last_at", ErrorStudent.last_at, ErrorStudent.group_id)
Index("ix_error_students_student", ErrorStudent.student_id)
# A student's inbox and history: their receipts, newest first; the sender's rate limit.
Index("ix_message_recipients_student_sent", MessageRecipient.student_id, MessageRecipient.sent_at)
Index("ix_messages_sender_sent", Message.sender, Message.sent_at)
Index("ix_test_results_notebook", TestResultRow.notebook_id, TestResultRow.student_id)
Index("ix_test_results_last_at", TestResultRow.last_at)
Index("ix_cell_activity_notebook", CellActivityRow.notebook_id, CellActivityRow.student_id)
Index("ix_cell_activity_last_at", CellActivityRow.last_at)

# How an event finds its execution. event_time is part of it (the same value on
# both rows) so that PostgreSQL, where both tables are partitioned by it, looks
# only in the matching month instead of every partition of cell_executions.
EXECUTION_OF_EVENT = and_(
    CellExecution.event_pk == Event.id, CellExecution.event_time == Event.event_time
)
