"""The sink's position in the event log: holes wait for late commits, then expire."""

from __future__ import annotations

from cell_monitor.sinks.log_cursor import MAX_GAPS, LogCursor


def test_without_holes_the_position_follows_the_head() -> None:
    cursor = LogCursor(10, grace_seconds=30)
    recheck = cursor.recheck(0)
    cursor.apply([11, 12, 13], [], recheck, 0, recheck_complete=True)
    assert cursor.head == cursor.position == 13
    assert cursor.recheck(1).ranges == []


def test_a_hole_holds_the_position_until_a_late_row_fills_it() -> None:
    cursor = LogCursor(0, grace_seconds=30)
    cursor.apply([1, 2, 5, 6], [], cursor.recheck(0), 0, recheck_complete=True)
    assert cursor.head == 6 and cursor.position == 2
    assert cursor.recheck(1).ranges == [(3, 4)]  # young: looked at every round
    cursor.apply([], [4], cursor.recheck(1), 1, recheck_complete=True)
    assert cursor.position == 2 and [(g.lo, g.hi) for g in cursor.gaps] == [(3, 3)]
    cursor.apply([], [3], cursor.recheck(1.5), 1.5, recheck_complete=True)
    assert cursor.position == 6 and not cursor.gaps


def test_a_hole_is_skipped_only_after_grace_and_one_last_look() -> None:
    cursor = LogCursor(0, grace_seconds=30)
    cursor.apply([1, 4], [], cursor.recheck(0), 0, recheck_complete=True)
    assert cursor.recheck(10).ranges == []  # middle-aged: not re-read every round
    last_look = cursor.recheck(31)
    assert last_look.ranges == [(2, 3)]
    # The last look did not finish (too many rows): the hole stays.
    cursor.apply([], [], last_look, 31, recheck_complete=False)
    assert cursor.position == 1
    cursor.apply([], [], cursor.recheck(32), 32, recheck_complete=True)
    assert cursor.position == 4 and not cursor.gaps


def test_expiry_keeps_younger_holes() -> None:
    cursor = LogCursor(0, grace_seconds=30)
    cursor.apply([2], [], cursor.recheck(0), 0, recheck_complete=True)
    cursor.apply([4], [], cursor.recheck(20), 20, recheck_complete=True)
    cursor.apply([], [], cursor.recheck(31), 31, recheck_complete=True)
    assert [(g.lo, g.hi) for g in cursor.gaps] == [(3, 3)]
    assert cursor.position == 2


def test_sqlite_has_no_holes_to_wait_for() -> None:
    cursor = LogCursor(0, grace_seconds=0)
    cursor.apply([3, 9], [], cursor.recheck(0), 0, recheck_complete=True)
    assert cursor.position == 9 and not cursor.gaps


def test_too_many_holes_stop_reading_new_rows() -> None:
    cursor = LogCursor(0, grace_seconds=30)
    every_other = list(range(2, 2 * MAX_GAPS + 2, 2))
    cursor.apply(every_other, [], cursor.recheck(0), 0, recheck_complete=True)
    assert cursor.saturated
    cursor.apply([], [], cursor.recheck(31), 31, recheck_complete=True)
    assert not cursor.saturated
