"""A class of simulated students working through the lesson at the same time."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cell_monitor.simulate.notebook import CELLS
from cell_monitor.simulate.sender import Sender
from cell_monitor.simulate.student import Student, make_profile


@dataclass(frozen=True)
class ClassProfile:
    students: int = 30
    # Simulated seconds per real second: 1 is a real class, 10 a lesson in minutes.
    speed: float = 1.0
    seed: int | None = None
    # Wall-clock seconds; None: until every student has finished the notebook.
    duration: float | None = None
    team_size: int = 4
    # Share of students who repeat a mistake until they get help.
    struggler_share: float = 0.1
    # How long to keep retrying undelivered events once the class is over.
    drain_seconds: float = 60.0
    # Engagement events (visibility, edit counts, active time), as students' JupyterLabs send.
    engagement: bool = True


@dataclass(frozen=True)
class Snapshot:
    elapsed: float
    students: int
    working: int
    finished: int
    progress: float  # mean share of the notebook done, 0..1
    stuck: int
    asking_help: int
    events: int
    errors: int
    accepted: int
    retries: int
    pending: int


class Simulation:
    def __init__(self, profile: ClassProfile, sender: Sender) -> None:
        self.profile = profile
        self.sender = sender
        seeds = random.Random(profile.seed)
        self.errors: Counter[str] = Counter()
        self.students = [
            Student(
                make_profile(n + 1, seeds, profile.team_size, profile.struggler_share),
                random.Random(seeds.getrandbits(64)),
                self._emit,
                speed=profile.speed,
                engagement_on=profile.engagement,
            )
            for n in range(profile.students)
        ]
        self.started = time.monotonic()

    def _emit(self, event: dict[str, Any]) -> None:
        if event.get("hasError"):
            self.errors[str(event.get("errorName"))] += 1
        self.sender.emit(event)

    def snapshot(self) -> Snapshot:
        stats, students = self.sender.stats, self.students
        finished = sum(1 for s in students if s.finished)
        return Snapshot(
            elapsed=time.monotonic() - self.started,
            students=len(students),
            working=len(students) - finished,
            finished=finished,
            progress=sum(s.position for s in students) / (len(CELLS) * max(len(students), 1)),
            stuck=sum(1 for s in students if s.consecutive_errors >= 3),
            asking_help=sum(1 for s in students if s.asking_help),
            events=sum(stats.by_type.values()),
            errors=sum(self.errors.values()),
            accepted=stats.accepted,
            retries=stats.retries,
            pending=self.sender.pending,
        )

    async def run(self, on_tick: Callable[[Snapshot], None] | None = None) -> Snapshot:
        """Run the class; returns the final snapshot once events are delivered."""
        self.started = time.monotonic()
        stop = asyncio.Event()
        sending = asyncio.create_task(self.sender.run(stop), name="simulate-sender")
        working = [
            asyncio.create_task(s.run(), name=f"simulate-student-{s.profile.number}")
            for s in self.students
        ]
        try:
            await self._until_done(working, sending, on_tick)
        finally:
            for task in working:
                task.cancel()
            await asyncio.gather(*working, return_exceptions=True)
            stop.set()
        # Events still undelivered after the grace period are reported as pending.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(sending, self.profile.drain_seconds)
        return self.snapshot()

    async def _until_done(
        self,
        working: list[asyncio.Task[None]],
        sending: asyncio.Task[None],
        on_tick: Callable[[Snapshot], None] | None,
    ) -> None:
        deadline = None if self.profile.duration is None else self.started + self.profile.duration
        while not all(task.done() for task in working):
            if sending.done():
                sending.result()  # a refused delivery ends the run with its message
            if deadline is not None and time.monotonic() >= deadline:
                return
            if on_tick is not None:
                on_tick(self.snapshot())
            await asyncio.sleep(0.5)
