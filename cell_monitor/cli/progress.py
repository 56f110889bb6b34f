"""Progress of long CLI commands: a rich bar on a terminal, periodic lines otherwise.

On a terminal, stderr gets a live bar (rich). When stderr is a file or a pipe
(cron, CI, `2>log`), a plain line is written at the start, then at most every
CELL_MONITOR_PROGRESS_SECONDS (default 10), so a long run is never silent. Either
way `finish` ends with one summary line. stdout is left alone: it carries the
command's own output (an export, a report).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress as Bar

PROGRESS_SECONDS_ENV = "CELL_MONITOR_PROGRESS_SECONDS"
DEFAULT_SECONDS = 10.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(PROGRESS_SECONDS_ENV, DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


class Reporter:
    """One task's progress (implements cell_monitor.progress.Progress)."""

    def __init__(
        self,
        description: str,
        total: int | None = None,
        unit: str = "",
        stream: TextIO | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.completed = 0
        self.note = ""
        self._stream = stream or sys.stderr
        self._interval = _interval() if interval is None else interval
        self._clock = clock
        self._started = clock()
        self._last_line: float | None = None
        self._bar: Bar | None = self._start_bar() if self._stream.isatty() else None
        if self._bar is None:
            self._line()

    def _start_bar(self) -> Bar:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=Console(file=self._stream),
            transient=True,
        )
        self._task = bar.add_task(self.description, total=self.total, note="")
        bar.start()
        return bar

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def set_total(self, total: int | None) -> None:
        self.total = total
        self._refresh()

    def advance(self, amount: int = 1, note: str = "") -> None:
        self.update(self.completed + amount, note)

    def update(self, completed: int, note: str = "") -> None:
        self.completed = completed
        if note:
            self.note = note
        self._refresh()

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.completed, total=self.total, note=self.note)
        elif self._last_line is None or self._clock() - self._last_line >= self._interval:
            self._line()

    def _line(self) -> None:
        self._last_line = self._clock()
        done = f"{self.completed:,}"
        if self.total:
            done += f"/{self.total:,} ({self.completed / self.total:.0%})"
        unit = f" {self.unit}" if self.unit else ""
        note = f", {self.note}" if self.note else ""
        self._write(f"{self.description}: {done}{unit}{note} [{self.elapsed:.0f} s]")

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def finish(self, summary: str) -> None:
        """End the display with one summary line."""
        self.stop()
        self._write(f"{summary} [{self.elapsed:.1f} s]")


@contextmanager
def progress(
    description: str, total: int | None = None, unit: str = "", stream: TextIO | None = None
) -> Iterator[Reporter]:
    """A Reporter whose bar is removed however the block ends."""
    reporter = Reporter(description, total, unit, stream)
    try:
        yield reporter
    finally:
        reporter.stop()
