"""A one-line live progress display on stderr (silent when stderr is not a terminal)."""

from __future__ import annotations

import sys
from typing import TextIO

from cell_monitor.simulate.classroom import Snapshot


def describe(snap: Snapshot) -> str:
    rate = snap.accepted / snap.elapsed if snap.elapsed > 0 else 0.0
    return (
        f"[{snap.elapsed:5.0f}s] {snap.students} students: {snap.working} working, "
        f"{snap.finished} done, {snap.progress:4.0%} of the notebook | stuck {snap.stuck}, "
        f"help {snap.asking_help} | {snap.events:,} events ({snap.errors:,} errors), "
        f"{snap.accepted:,} stored, {rate:.0f}/s"
        + (f", {snap.retries} retries" if snap.retries else "")
        + (f", {snap.pending:,} waiting" if snap.pending else "")
    )


class LiveLine:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._width = 0

    def __call__(self, snap: Snapshot) -> None:
        if not self.enabled:
            return
        line = describe(snap)
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
