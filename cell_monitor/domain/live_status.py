"""A student's live state, derived from their events; pure functions, no I/O.

The state is stored on the student's row and updated in the same transaction
that stores the events, so every worker sees one truth and a snapshot always
equals what replaying the stored events gives.

Events may arrive late (a laptop that was offline for an hour). A late event is
counted, but it does not overwrite what newer events already said: each part of
the state remembers the time of the event that last set it.

Times come from client clocks, so they are bounded: an event counts as happening
no later than the server received it (`NewEvent.live_time`), and a stored time
far later than the newest receipt (written before times were bounded) is taken
as that receipt. A clock set to 9999 can therefore hide nothing that comes after.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from cell_monitor.config import Settings

# The statuses are part of the wire; their rules live here.
from cell_monitor.contract.live import Status as Status
from cell_monitor.domain.records import NewEvent

ERROR_MESSAGE_CHARS = 300
# The reference extension resends `help` every ~10 s while its button is on. Help
# events closer than this to the previous one belong to the same request, which
# an instructor's dismissal keeps closed (until a help_stop or a longer pause).
HELP_RESEND_GAP = timedelta(seconds=60)
# Stored times can only be this much later than a receipt by a wrong clock
# (workers' clocks differ by far less).
FUTURE_MARGIN = timedelta(hours=1)
# An engagement report says how long ago its edits (or the hiding) began; no more than this.
MAX_EDITING_LOOKBACK = timedelta(minutes=30)


@dataclass(frozen=True)
class Thresholds:
    stuck_after_errors: int = 3
    active_window: timedelta = timedelta(minutes=2)
    quiet_after: timedelta = timedelta(minutes=10)
    away_after: timedelta = timedelta(minutes=2)

    @property
    def reporting_window(self) -> timedelta:
        """A visible, non-idle JupyterLab reports at least this often (edits every 30 s,
        idle after its idle timeout): a student silent for longer closed it."""
        return max(self.quiet_after, self.active_window)


def thresholds_of(settings: Settings) -> Thresholds:
    return Thresholds(
        stuck_after_errors=settings.stuck_after_errors,
        active_window=timedelta(seconds=settings.active_window_seconds),
        quiet_after=timedelta(seconds=settings.quiet_after_seconds),
        away_after=timedelta(seconds=settings.away_after_seconds),
    )


@dataclass(frozen=True)
class LiveState:
    student: str
    user_name: str | None = None
    team_name: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    event_count: int = 0
    execution_count: int = 0
    error_count: int = 0
    last_notebook: str | None = None
    last_cell_index: int | None = None
    last_cell_id: str | None = None
    last_execution_at: datetime | None = None
    last_execution_failed: bool = False
    consecutive_errors: int = 0
    last_error_name: str | None = None
    last_error_message: str | None = None
    last_error_at: datetime | None = None
    last_error_cell_index: int | None = None
    help_since: datetime | None = None
    help_changed_at: datetime | None = None
    # Set when an instructor dismissed the open request; its resends stay closed.
    help_dismissed_at: datetime | None = None
    # The client's id of the latest ask (helpRequestId): a new id is a new request,
    # even right after a dismissal; the same id is a resend.
    help_ask_id: str | None = None
    # Who said "on my way" for the open request (an account's display label).
    help_claimed_by: str | None = None
    help_claimed_at: datetime | None = None
    # Engagement (engagement events): visibility, the client's idle flag, and
    # editing without a passing run since when; engagement_at orders their reports.
    visible: bool | None = None
    hidden_since: datetime | None = None
    input_idle: bool = False
    engagement_at: datetime | None = None
    editing_since: datetime | None = None
    editing_cell_index: int | None = None
    version: int = 0

    def status(self, now: datetime, thresholds: Thresholds) -> Status:
        """The first status that applies, in the order of Status (docs/dashboard.md)."""
        if self.help_since is not None:
            return Status.help
        if self.consecutive_errors >= thresholds.stuck_after_errors:
            return Status.stuck
        if self.is_quiet(now, thresholds):
            return Status.quiet
        if self.last_execution_failed:
            return Status.error
        if self.is_away(now, thresholds):
            return Status.away
        recent = self.last_seen is not None and now - self.last_seen <= thresholds.active_window
        if recent and not self.input_idle:
            return Status.active
        return Status.idle

    def is_stuck(self, thresholds: Thresholds) -> bool:
        return self.consecutive_errors >= thresholds.stuck_after_errors

    def is_quiet(self, now: datetime, thresholds: Thresholds) -> bool:
        """Visible, not idle, still reporting, editing without a passing run for long."""
        return (
            self.editing_since is not None
            and self.visible is True
            and not self.input_idle
            and now - self.editing_since >= thresholds.quiet_after
            and self.last_seen is not None
            and now - self.last_seen < thresholds.reporting_window
        )

    def is_away(self, now: datetime, thresholds: Thresholds) -> bool:
        return (
            self.visible is False
            and self.hidden_since is not None
            and now - self.hidden_since >= thresholds.away_after
        )


def _not_older(when: datetime, than: datetime | None) -> bool:
    return than is None or when >= than


def apply_event(state: LiveState, event: NewEvent) -> LiveState:
    """The state after `event` (events of one student, any order)."""
    view = SimpleNamespace(**vars(state))
    _apply(view, event)
    return state_of_fields(vars(view))


def _apply(view: SimpleNamespace, event: NewEvent) -> None:
    """Apply `event` to `view` (a namespace of LiveState's fields), in place.

    Every rule reads the fields as they were before the event: a field is
    written only once the rules have read it (the state of a group's commit is
    updated per event without a dict of changes)."""
    state = vars(view)
    t = event.live_time
    first_seen, last_seen = state["first_seen"], state["last_seen"]
    state["event_count"] += 1
    state["first_seen"] = t if first_seen is None else min(first_seen, t)
    state["last_seen"] = t if last_seen is None else max(last_seen, t)
    if event.user_name:
        state["user_name"] = event.user_name
    if event.team_name:
        state["team_name"] = event.team_name
    is_execution = event.is_execution
    if event.notebook_path and _not_older(t, last_seen):
        state["last_notebook"] = event.notebook_path
        # Only executions store a cell position, so only they move it.
        if is_execution:
            state["last_cell_index"] = event.cell_index
            state["last_cell_id"] = event.cell_id
    if is_execution:
        _execution(state, event, t)
    elif event.event_type == "engagement" and _not_older(t, state["engagement_at"]):
        state.update(_engagement(view, event))
    elif event.event_type in ("help", "help_stop") and _not_older(t, state["help_changed_at"]):
        state.update(_help(view, event.event_type, t, event.help_ask_id))


_UNCLAIMED = {"help_claimed_by": None, "help_claimed_at": None}


def _help(state: Any, event_type: str, t: datetime, ask_id: str | None) -> dict[str, Any]:
    if event_type == "help_stop":
        return {"help_changed_at": t, "help_since": None, "help_dismissed_at": None, **_UNCLAIMED}
    if state.help_dismissed_at is not None and _resend_of_dismissed(state, t, ask_id):
        # A resend of the request an instructor dismissed: it stays dismissed.
        return {"help_changed_at": t}
    opened = {} if state.help_since is not None else _UNCLAIMED
    return {
        "help_changed_at": t,
        "help_since": state.help_since or t,
        "help_dismissed_at": None,
        "help_ask_id": ask_id or state.help_ask_id,
        **opened,
    }


def _resend_of_dismissed(state: Any, t: datetime, ask_id: str | None) -> bool:
    """Whether a help event repeats the dismissed request rather than asking again.

    Clients that name their requests (helpRequestId) say it; the reference
    extension's resends (every ~10 s, no id) are told by the pause before them.
    """
    if ask_id is not None:
        return ask_id == state.help_ask_id
    last = state.help_changed_at
    return last is not None and t - last <= HELP_RESEND_GAP


def _engagement(state: Any, event: NewEvent) -> dict[str, Any]:
    t = event.live_time
    changes: dict[str, Any] = {"engagement_at": t}
    if event.visible is not None:
        changes["visible"] = event.visible
        if not event.visible:
            still_hidden = state.visible is False and state.hidden_since is not None
            hidden_at = _began(t, event.hidden_ms, state.last_execution_at)
            changes["hidden_since"] = state.hidden_since if still_hidden else hidden_at
        else:
            changes["hidden_since"] = None
    if event.idle is not None:
        changes["input_idle"] = event.idle
    edited = [a for a in event.activity if a.edits > 0]
    # Edits after the latest passing run (a late report of older edits starts nothing).
    passed_after = not state.last_execution_failed and not _not_older(t, state.last_execution_at)
    if edited and not passed_after:
        changes["input_idle"] = False if event.idle is None else event.idle
        if state.editing_since is None:
            changes["editing_since"] = _edits_began(event, state.last_execution_at)
        most = max(edited, key=lambda a: a.edits)
        changes["editing_cell_index"] = most.cell_index
    return changes


def _edits_began(event: NewEvent, last_run: datetime | None) -> datetime:
    """When the reported edits began (editingMs before the report)."""
    return _began(event.live_time, event.editing_ms, last_run)


def _began(t: datetime, ms_before: float | None, last_run: datetime | None) -> datetime:
    """When something a report says lasts `ms_before` began: the report's time less
    that duration (a duration, so the client's clock does not matter), not before
    the last run (the notebook was in use then)."""
    back = timedelta(milliseconds=ms_before or 0)
    began = t - min(back, MAX_EDITING_LOOKBACK)
    return max(began, last_run) if last_run is not None and last_run <= t else began


def _execution(state: dict[str, Any], event: NewEvent, t: datetime) -> None:
    """Apply a run at live time `t` to `state` (LiveState's fields), in place."""
    state["execution_count"] += 1
    state["error_count"] += event.has_error
    if not _not_older(t, state["last_execution_at"]):
        return
    state["last_execution_at"] = t
    state["last_execution_failed"] = event.has_error
    if event.has_error:
        message = event.error_message
        state["consecutive_errors"] += 1
        state["last_error_name"] = event.error_name
        state["last_error_message"] = message[:ERROR_MESSAGE_CHARS] if message else None
        state["last_error_at"] = t
        state["last_error_cell_index"] = event.cell_index
    else:
        state["consecutive_errors"] = 0
        # A passing run ends editing without running (the `quiet` rule).
        state["editing_since"] = None
        state["editing_cell_index"] = None


_TIMES = tuple(f.name for f in fields(LiveState) if f.type in ("datetime | None", datetime))


def bounded(state: LiveState, now: datetime, instead: datetime) -> LiveState:
    """`state` with each time far later than `now` (a receipt time) set to `instead`."""
    limit = now + FUTURE_MARGIN
    late: dict[str, Any] = {
        name: instead for name in _TIMES if (value := getattr(state, name)) and value > limit
    }
    return replace(state, **late) if late else state


_live_time = operator.attrgetter("live_time")
_received_at = operator.attrgetter("received_at")


def apply_events(state: LiveState, events: Iterable[NewEvent]) -> LiveState:
    """Apply events in time order and bump the version once."""
    events = sorted(events, key=_live_time)
    if events:
        # What an impossible stored time said is taken as older than these events.
        state = bounded(state, max(map(_received_at, events)), events[0].live_time)
    # One mutable namespace for the whole batch; the frozen state is built once.
    view = SimpleNamespace(**vars(state))
    for event in events:
        _apply(view, event)
    view.version = state.version + 1
    return state_of_fields(vars(view))


# Every commit builds each of its students' states anew (from their rows, then
# with their events): the frozen dataclass's __init__ (one object.__setattr__ per
# field) cost as much as applying an event. There is no __post_init__ to skip.
assert not hasattr(LiveState, "__post_init__") and not hasattr(LiveState, "__slots__")


def state_of_fields(values: dict[str, Any]) -> LiveState:
    """The LiveState of `values`: every one of its fields, as a LiveState holds them."""
    state = object.__new__(LiveState)
    state.__dict__.update(values)
    return state


def dismiss_help(state: LiveState, at: datetime) -> LiveState:
    """An instructor closed the help request: older help events and the resends of
    this one won't reopen it (help_changed_at stays the time of the last help event,
    in the client's clock, so resends are compared with resends)."""
    if state.help_since is None:
        return replace(state, version=state.version + 1)
    return replace(
        state,
        help_since=None,
        help_changed_at=state.help_changed_at or at,
        help_dismissed_at=at,
        help_claimed_by=None,
        help_claimed_at=None,
        version=state.version + 1,
    )


class NoOpenRequest(LookupError):
    """The student has no open help request to claim."""


def claim_help(state: LiveState, by: str | None, at: datetime) -> LiveState:
    """An instructor or TA is on the way (`by` None: nobody is any more)."""
    if state.help_since is None:
        raise NoOpenRequest(state.student)
    return replace(
        state,
        help_claimed_by=by,
        help_claimed_at=at if by is not None else None,
        version=state.version + 1,
    )


def handle_stuck(state: LiveState) -> LiveState:
    """An instructor dealt with a stuck student: counting errors starts again."""
    return replace(state, consecutive_errors=0, version=state.version + 1)
