"""The statuses quiet and away: pure rules on the live state (domain/live_status.py)."""

from __future__ import annotations

from datetime import timedelta

from cell_monitor.contract.live import Status
from cell_monitor.domain.live_status import LiveState, Thresholds, apply_events
from cell_monitor.domain.signals import CellActivity
from cell_monitor.live.messages import aged_messages, change_messages
from tests.unit.test_live_state import at, ev, run

RULES = Thresholds(
    stuck_after_errors=3,
    active_window=timedelta(minutes=2),
    quiet_after=timedelta(minutes=10),
    away_after=timedelta(minutes=2),
)


def edit(minute: float, cell: int = 5, count: int = 3, **fields):  # type: ignore[no-untyped-def]
    activity = (CellActivity(None, cell, count, 1000.0),)
    fields.setdefault("visible", True)
    fields.setdefault("idle", False)
    return ev(minute, "engagement", activity=activity, **fields)


def editing(until: float, start: float = 1) -> list:  # type: ignore[type-arg]
    # Throttled reports every half minute while the student types.
    return [edit(start + m / 2) for m in range(int((until - start) * 2) + 1)]


def test_editing_without_running_for_the_threshold_is_quiet() -> None:
    state = run(ev(0), *editing(12))
    assert state.editing_since == at(1) and state.editing_cell_index == 5
    assert state.status(at(10.5), RULES) == Status.active
    assert state.status(at(11), RULES) == Status.quiet
    # Reports stop (browser closed without a word): no longer quiet after the window.
    assert state.status(at(12 + 10), RULES) != Status.quiet


def test_a_passing_run_ends_quiet_a_failing_one_does_not() -> None:
    state = run(ev(0), *editing(12), ev(12.2, error=True))
    assert state.status(at(12.3), RULES) == Status.quiet  # quiet comes before error
    state = run(ev(12.4), state=state)
    assert state.editing_since is None
    assert state.status(at(12.5), RULES) == Status.active


def test_a_report_says_when_its_edits_began_bounded_by_the_last_run() -> None:
    began = run(ev(0), edit(5, editing_ms=4 * 60_000))
    assert began.editing_since == at(1)
    assert began.status(at(11), RULES) == Status.quiet
    after_run = run(ev(3), edit(5, editing_ms=4 * 60_000))
    assert after_run.editing_since == at(3)
    absurd = run(edit(120, editing_ms=10**9))
    assert absurd.editing_since == at(90)  # at most MAX_EDITING_LOOKBACK before


def test_a_late_report_of_edits_before_a_passing_run_starts_nothing() -> None:
    state = run(ev(0), ev(5))
    state = run(edit(4), state=state)
    assert state.editing_since is None


def test_idle_or_hidden_is_not_quiet() -> None:
    idle = run(ev(0), *editing(12), ev(12.1, "engagement", idle=True))
    assert idle.status(at(12.2), RULES) == Status.idle
    hidden = run(ev(0), *editing(12), ev(12.1, "engagement", visible=False))
    assert hidden.status(at(12.2), RULES) == Status.active
    assert hidden.status(at(14.1), RULES) == Status.away


def test_away_needs_the_notebook_hidden_for_the_threshold_and_ends_when_shown() -> None:
    hidden = run(ev(0), ev(1, "engagement", visible=False))
    assert hidden.hidden_since == at(1)
    # A second hidden report (another tab) keeps the first hide time.
    hidden = run(ev(2, "engagement", visible=False), state=hidden)
    assert hidden.hidden_since == at(1)
    assert hidden.status(at(2.9), RULES) == Status.active
    assert hidden.status(at(3), RULES) == Status.away
    assert hidden.status(at(60), RULES) == Status.away  # apart from idle
    shown = run(ev(61, "engagement", visible=True), state=hidden)
    assert shown.hidden_since is None and shown.status(at(61.5), RULES) == Status.active


def test_a_late_hidden_report_says_when_the_notebook_was_hidden() -> None:
    # JupyterLab reports looking away once it has lasted a minute, with how long.
    hidden = run(ev(0), ev(3, "engagement", visible=False, hidden_ms=60_000))
    assert hidden.hidden_since == at(2)
    assert hidden.status(at(3.9), RULES) == Status.active
    assert hidden.status(at(4), RULES) == Status.away
    # Not before the last run (the notebook was in use then), nor absurdly long ago.
    after_run = run(ev(0), ev(2.5), ev(3, "engagement", visible=False, hidden_ms=60_000))
    assert after_run.hidden_since == at(2.5)
    absurd = run(ev(120, "engagement", visible=False, hidden_ms=10**9))
    assert absurd.hidden_since == at(90)


def test_an_older_engagement_report_does_not_undo_a_newer_one() -> None:
    state = run(ev(5, "engagement", visible=False))
    state = run(ev(4, "engagement", visible=True), state=state)
    assert state.visible is False and state.hidden_since == at(5)


def test_help_stuck_quiet_error_away_active_idle_is_the_order() -> None:
    order = [s.value for s in Status]
    assert order == ["help", "stuck", "quiet", "error", "away", "active", "idle"]
    state = run(ev(0), *editing(12), ev(12, "help"))
    assert state.status(at(12.1), RULES) == Status.help


def test_quiet_alerts_are_raised_by_time_and_cleared_by_a_pass() -> None:
    before = run(ev(0), *editing(12))
    (_, alert) = aged_messages(before, False, at(11), RULES)
    assert alert.alert.kind == "quiet" and alert.alert.action == "raised"  # type: ignore[union-attr]
    assert alert.alert.since == at(1)  # type: ignore[union-attr]
    assert len(aged_messages(before, True, at(11.1), RULES)) == 1  # raised once
    after = apply_events(before, [ev(12.5)])
    messages = change_messages(before, after, at(12.6), RULES)
    kinds = [(m.alert.kind, m.alert.action) for m in messages if m.type == "alert"]
    assert kinds == [("quiet", "cleared")]


def test_a_state_without_engagement_behaves_as_before() -> None:
    state = LiveState(student="ada")
    state = run(ev(0), state=state)
    assert state.visible is None and not state.input_idle
    assert state.status(at(1), RULES) == Status.active
    assert state.status(at(60), RULES) == Status.idle
