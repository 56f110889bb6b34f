"""The CLI's progress display when stderr is not a terminal: periodic lines, one summary."""

from __future__ import annotations

import io

from cell_monitor.cli.progress import Reporter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_at_start_then_at_most_every_interval_then_a_summary() -> None:
    stream, clock = io.StringIO(), Clock()
    reporter = Reporter("db prune", unit="rows removed", stream=stream, interval=10, clock=clock)
    assert stream.getvalue() == "db prune: 0 rows removed [0 s]\n"
    for _ in range(50):  # many batches within one interval: no line each
        clock.now += 0.1
        reporter.advance(100, "events")
    assert stream.getvalue().count("\n") == 1
    clock.now += 6
    reporter.advance(100, "sessions")
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "db prune: 5,100 rows removed, sessions [11 s]"
    reporter.finish("db prune: removed 5,100 rows")
    assert stream.getvalue().splitlines()[-1] == "db prune: removed 5,100 rows [11.0 s]"


def test_a_known_total_shows_the_share_done() -> None:
    stream, clock = io.StringIO(), Clock()
    reporter = Reporter("student export", 7, "tables", stream=stream, interval=0, clock=clock)
    reporter.advance(1, "student ids")
    reporter.set_total(8)
    reporter.advance(3, "events")
    assert stream.getvalue().splitlines()[-1] == "student export: 4/8 (50%) tables, events [0 s]"
