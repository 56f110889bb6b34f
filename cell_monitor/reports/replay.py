"""Class replay: the status grid, needs-attention panel and heatmap as they were, from events.

The stored events (and instructor actions) of a window are replayed through the same
live-status rules as the live dashboard (domain/live_status.py). The answer is every
change in time order, so scrubbing and playing happen in the browser without a request
per step; a frame says until when an `active` student stays active.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.contract.insight import ReplayCell, ReplayFrame, ReplayOut, ReplayStudent
from cell_monitor.domain.live_status import (
    LiveState,
    Status,
    Thresholds,
    apply_event,
    dismiss_help,
    handle_stuck,
)
from cell_monitor.domain.records import NewEvent
from cell_monitor.storage.models import CellExecution, Event, InstructorAction, Notebook, Student

# State at the start comes from the events just before it (open help, error streaks).
LOOKBACK = timedelta(hours=3)
# A replay is one response: beyond this many events the window is cut (and says so).
MAX_EVENTS = 250_000


@dataclass(frozen=True, slots=True)
class _Action:
    at: datetime
    student_id: int
    action: str


async def replay(
    engine: AsyncEngine,
    start: datetime,
    end: datetime,
    thresholds: Thresholds,
    notebook: str | None = None,
) -> ReplayOut:
    """Every status and cell change between `start` and `end`, in time order."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_events(start - LOOKBACK, end))).all()
        actions = [
            _Action(r.at, r.student_id, r.action)
            for r in await conn.execute(_actions(start - LOOKBACK, end))
        ]
        ids = {r.student_id for r in rows}
        who = select(Student.id, Student.student_key, Student.user_name, Student.team_name)
        students = (await conn.execute(who.where(Student.id.in_(ids)))).all() if ids else []
    keys = {s.id: s.student_key for s in students}
    out = _Replay(start, thresholds, notebook)
    for item in _merge(rows[:MAX_EVENTS], actions):
        student = keys.get(item.student_id)
        if student is None:
            continue  # an action on a student without events in the window
        if isinstance(item, _Action):
            out.act(student, item)
        else:
            out.apply(student, _event(student, item))
    out.reach_start()
    return ReplayOut(
        start=start,
        end=end,
        notebook=notebook,
        students=[
            ReplayStudent(student=s.student_key, user_name=s.user_name, team_name=s.team_name)
            for s in sorted(students, key=lambda s: s.student_key)
        ],
        frames=out.frames,
        cells=out.cells,
        truncated=len(rows) > MAX_EVENTS,
    )


class _Replay:
    """Applies events in time order; records changes from `start` on."""

    def __init__(self, start: datetime, thresholds: Thresholds, notebook: str | None) -> None:
        self.start = start
        self.thresholds = thresholds
        self.notebook = notebook
        self.states: dict[str, LiveState] = {}
        self.cell_states: dict[tuple[str, str, int], Literal["ok", "failed"]] = {}
        self.frames: list[ReplayFrame] = []
        self.cells: list[ReplayCell] = []
        self.started = False

    def reach_start(self) -> None:
        """Record where everyone stood at `start` (once, before the first change after it)."""
        if self.started:
            return
        self.started = True
        self.frames.extend(self._frame(s, self.start) for s in self.states.values())
        self.cells.extend(
            ReplayCell(at=self.start, student=k[0], notebook=k[1], cell_index=k[2], state=v)
            for k, v in self.cell_states.items()
        )

    def _at(self, when: datetime) -> bool:
        if when >= self.start:
            self.reach_start()
        return self.started

    def apply(self, key: str, event: NewEvent) -> None:
        recording = self._at(event.event_time)
        state = apply_event(self.states.get(key) or LiveState(student=key), event)
        self.states[key] = state
        if self._in_heatmap(event):
            assert event.notebook_path is not None and event.cell_index is not None
            cell = (key, event.notebook_path, event.cell_index)
            self.cell_states[cell] = "failed" if event.has_error else "ok"
            if recording:
                self.cells.append(
                    ReplayCell(
                        at=event.event_time,
                        student=key,
                        notebook=event.notebook_path,
                        cell_index=event.cell_index,
                        state=self.cell_states[cell],
                    )
                )
        if recording:
            self.frames.append(self._frame(state, event.event_time))

    def _in_heatmap(self, event: NewEvent) -> bool:
        if not event.is_execution or event.cell_index is None or not event.notebook_path:
            return False
        return self.notebook is None or event.notebook_path == self.notebook

    def act(self, key: str, action: _Action) -> None:
        state = self.states.get(key)
        if state is None:
            return
        recording = self._at(action.at)
        if action.action == "dismiss_help":
            state = dismiss_help(state, action.at)
        elif action.action == "handle_stuck":
            state = handle_stuck(state)
        self.states[key] = state
        if recording:
            self.frames.append(self._frame(state, action.at))

    def _frame(self, state: LiveState, at: datetime) -> ReplayFrame:
        status = state.status(at, self.thresholds)
        idle_at = None
        if status is Status.active and state.last_seen is not None:
            idle_at = state.last_seen + self.thresholds.active_window
        return ReplayFrame(
            at=at,
            student=state.student,
            status=status.value,
            idle_at=idle_at,
            notebook=state.last_notebook,
            cell_index=state.last_cell_index,
            error_name=state.last_error_name if state.last_execution_failed else None,
            help_since=state.help_since,
            consecutive_errors=state.consecutive_errors,
        )


def _merge(rows: Sequence[Any], actions: list[_Action]) -> list[Any]:
    """Events and instructor actions in one time order (an action after an event of its time)."""
    items: list[tuple[datetime, int, Any]] = [(r.event_time, 0, r) for r in rows]
    items.extend((a.at, 1, a) for a in actions)
    items.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in items]


def _events(since: datetime, until: datetime) -> Any:
    ce = CellExecution
    return (
        select(
            Event.student_id,
            Event.event_id,
            Event.event_type,
            Event.event_time,
            Event.received_at,
            Notebook.path.label("notebook"),
            ce.cell_index,
            ce.cell_id,
            ce.has_error,
            ce.error_name,
            ce.error_message,
        )
        .outerjoin(Notebook, Notebook.id == Event.notebook_id)
        .outerjoin(ce, and_(ce.event_pk == Event.id, ce.event_time == Event.event_time))
        .where(Event.event_time >= since, Event.event_time <= until)
        .order_by(Event.event_time, Event.id)
        .limit(MAX_EVENTS + 1)
    )


def _actions(since: datetime, until: datetime) -> Any:
    return select(InstructorAction.at, InstructorAction.student_id, InstructorAction.action).where(
        InstructorAction.at >= since, InstructorAction.at <= until
    )


def _event(key: str, r: Any) -> NewEvent:
    return NewEvent(
        event_id=r.event_id,
        event_type=r.event_type,
        event_time=r.event_time,
        received_at=r.received_at,
        student_key=key,
        notebook_path=r.notebook,
        cell_index=r.cell_index,
        cell_id=r.cell_id,
        has_error=bool(r.has_error),
        error_name=r.error_name,
        error_message=r.error_message,
    )
