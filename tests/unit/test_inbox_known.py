"""What a worker remembers of students' inboxes, and when it forgets."""

from __future__ import annotations

from datetime import datetime, timezone

from cell_monitor.contract.inbox import HelpRequestView, HelpState, StudentInbox
from cell_monitor.inbox.known import KnownInboxes
from cell_monitor.inbox.waiters import Waiters


def inbox(etag: str, state: HelpState | None = None) -> StudentInbox:
    view = None
    if state is not None:
        view = HelpRequestView(
            id=1,
            state=state,
            opened_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
            position=1 if state is HelpState.open else None,
            claimed_by=None,
            claimed_at=None,
            closed_at=None,
            help_request_id=None,
        )
    return StudentInbox(etag=etag, help=view, messages=[])


def test_news_about_a_student_drops_what_is_known() -> None:
    known = KnownInboxes()
    known.put("ada", inbox("a"), known.generation)
    known.put("lin", inbox("l", HelpState.open), known.generation)
    known.put("bo", inbox("b", HelpState.resolved), known.generation)
    assert known.get("ada") is not None
    known.forget(["ada"])
    assert known.get("ada") is None and known.get("lin") is not None
    # The line moved: those in it forget, the others keep theirs.
    known.forget([], line_moved=True)
    assert known.get("lin") is None and known.get("bo") is not None
    known.clear()
    assert known.get("bo") is None


def test_a_read_that_overlapped_news_is_not_kept() -> None:
    known = KnownInboxes()
    started = known.generation
    known.forget(["someone"])
    known.put("ada", inbox("old"), started)
    assert known.get("ada") is None


def test_the_size_is_bounded() -> None:
    known = KnownInboxes(size=2)
    for key in ("a", "b", "c"):
        known.put(key, inbox(key), known.generation)
    assert known.get("a") is None and known.get("c") is not None


def test_waking_the_line_reaches_only_those_in_it() -> None:
    waiters = Waiters()
    ada = waiters.add("ada", in_queue=True)
    lin = waiters.add("lin", in_queue=False)
    bo = waiters.add("bo", in_queue=False)
    assert set(waiters.to_wake(["bo"], queue=True)) == {ada, bo}
    assert waiters.wake(["lin"]) == 1 and lin.woken.is_set() and not ada.woken.is_set()
    waiters.remove(lin)
    assert waiters.count("lin") == 0 and len(waiters) == 2
