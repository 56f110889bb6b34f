"""What a simulated student's JupyterLab reports besides runs: engagement and test results.

It follows the extension's rules (src/engagement.ts): while a student types in
a cell, the edit count and active time are reported once the oldest unsent
edit is THROTTLE_SECONDS old; a run carries the rest of its own cell's;
reading time waits for the next report; looking away (another tab) is
reported once it has lasted GLANCE_SECONDS, and coming back after that at
once. Test cells (TEST_QUESTIONS) report their outcome per question, like
nbgrader grade cells.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cell_monitor.simulate.notebook import Cell

THROTTLE_SECONDS = 120.0  # src/engagement.ts DEFAULT_ENGAGEMENT.throttleMs
GLANCE_SECONDS = 60.0  # src/engagement.ts DEFAULT_ENGAGEMENT.glanceMs
# Content changes per second of typing (the editor batches keystrokes).
EDITS_PER_SECOND = 0.7
# A student looks at something else about this often (per second of work).
TAB_SWITCH_RATE = 1 / 900
# The lesson's graded cells: cell index → question (nbgrader grade_id).
TEST_QUESTIONS = {3: "q1_lookup", 8: "q2_mean", 17: "q3_summary", 19: "q4_median"}

Send = Callable[..., None]
Pause = Callable[[float], Awaitable[None]]


@dataclass
class Engagement:
    rng: random.Random
    send: Send
    enabled: bool = True
    # Reading time per (cell id, index) not reported yet, in ms.
    reading: dict[tuple[str, int], float] = field(default_factory=dict)
    # What the next run of a cell carries: cell index → (edits, active ms).
    carried: dict[int, tuple[int, float]] = field(default_factory=dict)

    async def work(self, cell: Cell, seconds: float, pause: Pause) -> None:
        """Read or type on `cell` for `seconds`, reporting as the extension does."""
        # Students look away whether or not it is reported: the class takes as long.
        if self.rng.random() < min(0.5, seconds * TAB_SWITCH_RATE):
            await self._look_away(cell, pause)
        if not self.enabled:
            await pause(seconds)
            return
        if cell.cell_type != "code":
            key = (cell.cell_id, cell.index)
            self.reading[key] = self.reading.get(key, 0.0) + seconds * 1000
            await pause(seconds)
            return
        edits, active = self.carried.pop(cell.index, (0, 0.0))
        left = seconds
        while left >= THROTTLE_SECONDS:
            await pause(THROTTLE_SECONDS)
            left -= THROTTLE_SECONDS
            self._report(cell, visible=True, edits=edits + self._edits(THROTTLE_SECONDS),
                         active_ms=active + THROTTLE_SECONDS * 1000,
                         editing_ms=THROTTLE_SECONDS * 1000)  # fmt: skip
            edits, active = 0, 0.0
        await pause(left)
        self.carried[cell.index] = (edits + self._edits(left), active + left * 1000)

    def run_fields(self, cell: Cell, failed: bool) -> dict[str, Any]:
        """The fields a run of `cell` adds: its own activity, its test outcome."""
        fields: dict[str, Any] = {}
        question = TEST_QUESTIONS.get(cell.index)
        if question is not None:
            fields["tests"] = [
                {"question": question, "passed": not failed, "kind": "nbgrader", "maxPoints": 1}
            ]
        edits, active = self.carried.pop(cell.index, (0, 0.0))
        if self.enabled and (edits or active):
            fields["edits"], fields["activeMs"] = edits, round(active)
        return fields

    async def _look_away(self, cell: Cell, pause: Pause) -> None:
        seconds = self.rng.uniform(20, 150)
        if not self.enabled or seconds < GLANCE_SECONDS:
            await pause(seconds)  # a glance is not reported
            return
        await pause(GLANCE_SECONDS)
        self._report(cell, visible=False, hidden_ms=GLANCE_SECONDS * 1000)
        await pause(seconds - GLANCE_SECONDS)
        self._report(cell, visible=True)

    def _edits(self, seconds: float) -> int:
        # No draw from `rng`: looking away stays the same with engagement on or off.
        return max(1, round(seconds * EDITS_PER_SECOND))

    def _report(
        self,
        cell: Cell,
        visible: bool,
        edits: int = 0,
        active_ms: float = 0.0,
        editing_ms: float | None = None,
        hidden_ms: float | None = None,
    ) -> None:
        cells = [
            {"cellId": cell_id, "cellIndex": index, "edits": 0, "activeMs": round(ms)}
            for (cell_id, index), ms in sorted(self.reading.items())
        ]
        self.reading.clear()
        if edits or active_ms:
            cells.append(
                {
                    "cellId": cell.cell_id,
                    "cellIndex": cell.index,
                    "edits": edits,
                    "activeMs": round(active_ms),
                }
            )
        extra = {"editingMs": editing_ms, "hiddenMs": hidden_ms}
        extra = {k: v for k, v in extra.items() if v is not None}
        self.send(
            "engagement",
            cellId=cell.cell_id,
            cellIndex=cell.index,
            visible=visible,
            idle=False,
            cells=cells,
            **extra,
        )
