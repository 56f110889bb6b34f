"""One simulated student: reads, runs cells, makes the usual mistakes, gets stuck, asks for help.

A student is a coroutine that turns its own seeded random stream into events
and hands them to `emit`; the same seed gives the same sequence of actions.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cell_monitor.simulate.engagement import Engagement
from cell_monitor.simulate.notebook import CELLS, NOTEBOOK_PATH, Cell, Mistake, Progress

FIRST_NAMES = (
    "Aiko", "Ben", "Chloé", "Daniel", "Emi", "Farid", "Greta", "Hiro", "Ines", "Jonas",
    "Kenji", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rina", "Sven", "Tomoko",
    "Uma", "Viktor", "Wen", "Yusuf", "Zoe",
)  # fmt: skip

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Profile:
    """Who the student is and how they work."""

    number: int
    team: str
    seconds_per_cell: float  # mean reading + typing time before running a cell
    skill: float  # 0 (makes every mistake) .. 1 (makes few)
    struggler: bool  # repeats a mistake several times and asks for help
    skip_chance: float  # skips running a cell (its names are then undefined later)

    @property
    def email(self) -> str:
        return f"student{self.number:03d}@example.edu"

    @property
    def name(self) -> str:
        return f"{FIRST_NAMES[self.number % len(FIRST_NAMES)]} {self.number:03d}"


def make_profile(
    number: int, rng: random.Random, team_size: int, struggler_share: float
) -> Profile:
    return Profile(
        number=number,
        team=f"Team {number // team_size + 1}",
        seconds_per_cell=rng.lognormvariate(3.6, 0.4),  # median ~37 s
        skill=rng.betavariate(5, 2),
        struggler=rng.random() < struggler_share,
        skip_chance=0.04,
    )


@dataclass
class Student:
    profile: Profile
    rng: random.Random
    emit: Emit
    # Simulated seconds per real second.
    speed: float
    # Engagement signals and test results, as the JupyterLab extension sends them.
    engagement_on: bool = True
    session: str = field(default_factory=lambda: str(uuid.uuid4()))
    progress: Progress = field(default_factory=Progress)
    execution_count: int = 0
    consecutive_errors: int = 0
    asking_help: bool = False
    finished: bool = False
    position: int = 0
    # Simulated seconds spent so far (student-hours for benchmarks/engagement.py).
    simulated: float = 0.0

    def __post_init__(self) -> None:
        # Its own stream, seeded without drawing from the student's: the same
        # seed gives the same runs with engagement on or off.
        own = random.Random(hash(self.rng.getstate()))
        self.engagement = Engagement(own, self._send, enabled=self.engagement_on)

    async def run(self) -> None:
        """Open the notebook, work through every cell, save and close it."""
        await self._pause(self.rng.uniform(0, 20))  # students arrive over the first minutes
        self._send("notebook_opened")
        runs = 0
        while self.position < len(CELLS):
            cell = CELLS[self.position]
            await self.engagement.work(cell, self._think(cell), self._pause)
            if cell.cell_type == "code" and self.rng.random() < self.profile.skip_chance:
                self.position += 1  # skipped: a later cell will fail with NameError
                continue
            if await self._attempt(cell):
                self.position += 1
            runs += 1
            if runs % 5 == 0:
                self._send("notebook_saved")
        self._send("notebook_saved")
        self._send("notebook_closed")
        self.finished = True

    async def _attempt(self, cell: Cell) -> bool:
        """Run the cell once; True when it succeeded and the student moves on."""
        missing = self.progress.missing_name(cell) if cell.cell_type == "code" else None
        if missing is not None:
            self._execute(cell, error=("NameError", f"name '{missing}' is not defined"))
            if self.consecutive_errors >= 2 or self.rng.random() < 0.5:
                # Scrolls back and runs the cell that was skipped.
                self.position = min(i for i in cell.needs if i not in self.progress.done)
            return False
        mistake = self._mistake(cell)
        if mistake is not None:
            self._execute(cell, error=(mistake.error_name, mistake.message), code=mistake.code)
            await self._maybe_ask_for_help()
            return False
        self._execute(cell)
        self.progress.done.add(cell.index)
        if self.asking_help:
            self.asking_help = False
            self._send("help_stop")
        return True

    def _mistake(self, cell: Cell) -> Mistake | None:
        for mistake in cell.mistakes:
            if self.profile.struggler:
                # Strugglers repeat the same error until someone helps them.
                if not self.consecutive_errors:
                    chance = mistake.chance * 3
                else:
                    chance = 0.2 if self.asking_help else 0.85
            else:
                chance = mistake.chance * (1.6 - self.profile.skill)
                chance *= 0.35**self.consecutive_errors
            if self.rng.random() < min(chance, 0.9):
                return mistake
        return None

    async def _maybe_ask_for_help(self) -> None:
        if self.asking_help or self.consecutive_errors < 3:
            return
        if self.rng.random() < (0.9 if self.profile.struggler else 0.4):
            self.asking_help = True
            self._send("help")
            # A TA comes over after a while; then the next attempt usually works.
            await self._pause(self.rng.uniform(30, 120))

    def _think(self, cell: Cell) -> float:
        base = self.profile.seconds_per_cell * (0.3 if cell.cell_type == "markdown" else 1.0)
        if self.consecutive_errors:
            base *= 0.6  # a quick fix and re-run
        return self.rng.lognormvariate(0, 0.5) * base

    async def _pause(self, simulated_seconds: float) -> None:
        self.simulated += simulated_seconds
        await asyncio.sleep(simulated_seconds / self.speed)

    def _execute(
        self, cell: Cell, error: tuple[str, str] | None = None, code: str | None = None
    ) -> None:
        self.execution_count += 1
        self.consecutive_errors = self.consecutive_errors + 1 if error else 0
        fields: dict[str, Any] = {
            "cellId": cell.cell_id,
            "cellIndex": cell.index,
            "cellType": cell.cell_type,
            "code": code or cell.code,
            "executionCount": self.execution_count if cell.cell_type == "code" else None,
            "hasError": error is not None,
            "executionDurationMs": round(cell.duration_ms * self.rng.lognormvariate(0, 0.3), 2),
        }
        fields.update(self.engagement.run_fields(cell, failed=error is not None))
        if error is not None:
            fields["errorName"], fields["errorMessage"] = error
        elif cell.result is not None:
            fields["result"] = cell.result
        self._send("cell_executed", **{k: v for k, v in fields.items() if v is not None})

    def _send(self, event_type: str, **fields: Any) -> None:
        self.emit(
            {
                # Fresh ids: a second run with the same seed is new events, not duplicates.
                "eventId": str(uuid.uuid4()),
                "eventType": event_type,
                "eventTime": datetime.now(timezone.utc).isoformat(),
                "emailAddress": self.profile.email,
                "userName": self.profile.name,
                "teamName": self.profile.team,
                "sessionId": self.session,
                "notebookPath": NOTEBOOK_PATH,
                **fields,
            }
        )
