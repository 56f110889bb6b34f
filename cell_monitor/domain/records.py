"""The record the pipeline hands the store: one validated, normalized event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from cell_monitor.domain.signals import CellActivity, TestResult

# Cell types whose "execution" only renders them.
RENDERED_CELL_TYPES = frozenset({"markdown", "raw"})


@dataclass(slots=True)
class NewEvent:
    event_id: str
    event_type: str
    event_time: datetime
    received_at: datetime
    student_key: str
    email_address: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    team_name: str | None = None
    session_key: str | None = None
    notebook_path: str | None = None
    cell_id: str | None = None
    cell_index: int | None = None
    cell_type: str | None = None
    code: str | None = None
    execution_count: int | None = None
    has_error: bool = False
    error_name: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    result: str | None = None
    duration_ms: float | None = None
    truncated: bool = False
    # The client's eventTime was later than the receipt (plus skew): event_time is the receipt.
    clock_adjusted: bool = False
    extra: dict[str, Any] | None = None
    # helpRequestId of a help event: names the ask, so a resend is told from a new one.
    help_ask_id: str | None = None
    # A student's answer to an instructor's message: which message, and a reply's text.
    message_id: str | None = None
    reply_text: str | None = None
    # Test outcomes of a test cell's run; engagement (domain/signals.py).
    tests: tuple[TestResult, ...] = ()
    visible: bool | None = None
    idle: bool | None = None
    activity: tuple[CellActivity, ...] = ()
    # On engagement: how long before the event the oldest reported edit was.
    editing_ms: float | None = None
    # On engagement, hidden: how long before the event the notebook was hidden.
    hidden_ms: float | None = None
    # Set by the store once the event is committed.
    pk: int | None = field(default=None, compare=False)
    # Whether the event is a run of code: derived from event_type and cell_type when
    # the event is made (the write path, the live state and the pipeline read it
    # several times per event; nothing changes those two fields).
    is_execution: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The reference extension reports "running" a markdown cell (a render) as
        # cell_executed too: it is no run of code, counts as none and ends no error streak.
        self.is_execution = self.event_type == "cell_executed" and (
            self.cell_type is None or self.cell_type.lower() not in RENDERED_CELL_TYPES
        )

    def carries(self, activity: CellActivity) -> bool:
        """Whether `activity` is this run's own cell's: kept with the run (latest_runs)."""
        return (
            self.is_execution
            and self.cell_index is not None
            and activity.cell_index == self.cell_index
        )

    @property
    def run_activity(self) -> tuple[int, float]:
        """The edits and active ms this run carries for its own cell."""
        if not self.activity:  # nearly every run: nothing to add up
            return 0, 0
        own = [a for a in self.activity if self.carries(a)]
        return sum(a.edits for a in own), sum(a.active_ms for a in own)

    @property
    def edit_count(self) -> int:
        return sum(a.edits for a in self.activity)

    @property
    def live_time(self) -> datetime:
        """When the event happened as far as live state goes: never after its receipt."""
        return min(self.event_time, self.received_at)


class WriteOutcome(str, Enum):
    """What happened to one event of a group commit."""

    inserted = "inserted"
    duplicate = "duplicate"
