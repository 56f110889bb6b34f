"""Help request rules: asks named by the client, claims, dismissals, wait figures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cell_monitor.accounts.users import Instructor, Role
from cell_monitor.domain.help_waits import RequestTimes, sessions, wait_seconds, waits
from cell_monitor.domain.live_status import (
    LiveState,
    NoOpenRequest,
    apply_events,
    claim_help,
    dismiss_help,
)
from cell_monitor.domain.records import NewEvent
from cell_monitor.help.service import claim_label
from cell_monitor.storage.help_rows import help_changed

T0 = datetime(2025, 1, 18, 9, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(seconds: float, kind: str = "help", ask: str | None = None) -> NewEvent:
    return NewEvent(
        event_id=f"{kind}-{seconds}-{ask}",
        event_type=kind,
        event_time=at(seconds),
        received_at=at(seconds),
        student_key="ada",
        help_ask_id=ask,
    )


def run(state: LiveState, *events: NewEvent) -> LiveState:
    return apply_events(state, events)


def test_a_named_ask_right_after_a_dismissal_opens_a_new_request() -> None:
    state = run(LiveState(student="ada"), ev(0, ask="a1"))
    assert state.help_since == at(0) and state.help_ask_id == "a1"
    state = dismiss_help(state, at(5))
    # The same ask again (a resend, another tab) stays closed...
    assert run(state, ev(10, ask="a1")).help_since is None
    # ...a new ask opens at once, well within the reference extension's 60 s gap.
    reopened = run(state, ev(10, ask="a2"))
    assert reopened.help_since == at(10) and reopened.help_dismissed_at is None


def test_unnamed_asks_keep_the_reference_extensions_resend_rule() -> None:
    state = dismiss_help(run(LiveState(student="ada"), ev(0)), at(5))
    assert run(state, ev(10)).help_since is None  # a resend of the dismissed request
    assert run(state, ev(120)).help_since == at(120)  # after a pause: a new request


def test_a_claim_is_of_the_open_request_and_ends_with_it() -> None:
    with pytest.raises(NoOpenRequest):
        claim_help(LiveState(student="ada"), "lin (TA)", at(0))
    state = claim_help(run(LiveState(student="ada"), ev(0, ask="a1")), "lin (TA)", at(30))
    assert (state.help_claimed_by, state.help_claimed_at) == ("lin (TA)", at(30))
    # Another tab asking again does not reset the claim of the open request.
    assert run(state, ev(40, ask="a2")).help_claimed_by == "lin (TA)"
    ended = run(state, ev(60, kind="help_stop"))
    assert (ended.help_since, ended.help_claimed_by, ended.help_claimed_at) == (None, None, None)
    assert dismiss_help(state, at(90)).help_claimed_by is None
    released = claim_help(state, None, at(45))
    assert released.help_claimed_by is None and released.help_since == at(0)


def test_help_changed_is_what_the_student_or_the_queue_would_see() -> None:
    open_ = run(LiveState(student="ada"), ev(0))
    assert help_changed(None, open_)
    assert not help_changed(open_, run(open_, ev(10)))  # a resend
    assert help_changed(open_, claim_help(open_, "lin (TA)", at(5)))
    assert not help_changed(None, LiveState(student="ada", version=1))


def test_claim_labels_name_the_role() -> None:
    assert claim_label(Instructor(id=1, username="hub:ada", role=Role.ta)) == "ada (TA)"
    assert claim_label(Instructor(id=2, username="lin", role=Role.admin)) == "lin (instructor)"


def test_wait_figures() -> None:
    now = at(1000)
    times = [
        RequestTimes(at(0), at(60), at(300)),  # claimed after a minute
        RequestTimes(at(100), None, at(130)),  # withdrawn after 30 s, unanswered
        RequestTimes(at(200), at(320), at(320)),  # dismissed after 2 min
        RequestTimes(at(900), None, None),  # still waiting: 100 s so far
    ]
    assert [wait_seconds(t, now) for t in times] == [60, 30, 120, 100]
    figures = waits(times, now)
    assert (figures.requests, figures.answered, figures.open) == (4, 2, 1)
    assert (figures.median_seconds, figures.longest_seconds) == (80, 120)
    assert waits([], now).median_seconds is None


def test_sessions_split_where_the_class_paused() -> None:
    times = [RequestTimes(at(s), None, None) for s in (0, 600, 4 * 3600, 4 * 3600 + 60)]
    groups = sessions(times, timedelta(hours=2))
    assert [len(g) for g in groups] == [2, 2]
