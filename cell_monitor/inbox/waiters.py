"""The long-polls waiting in this worker, by student: futures, no thread or connection each.

A waiter is woken when a change for its student is announced (on any worker,
through the broker), or for every waiter in the help queue when the queue's
order may have moved. A woken waiter gathers its student's inbox again and
answers only if the etag changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from cell_monitor.contract.inbox import StudentInbox


@dataclass(eq=False)
class Waiter:
    student: str
    in_queue: bool  # the student's help request is open: their place in line may move
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    # Read for it by whoever woke it (several at once in one go), else None.
    fresh: StudentInbox | None = None


class Waiters:
    def __init__(self) -> None:
        self._by_student: dict[str, set[Waiter]] = {}

    def __len__(self) -> int:
        return sum(len(waiters) for waiters in self._by_student.values())

    def count(self, student: str) -> int:
        return len(self._by_student.get(student, ()))

    def add(self, student: str, in_queue: bool) -> Waiter:
        waiter = Waiter(student, in_queue)
        self._by_student.setdefault(student, set()).add(waiter)
        return waiter

    def remove(self, waiter: Waiter) -> None:
        waiters = self._by_student.get(waiter.student)
        if waiters is None:
            return
        waiters.discard(waiter)
        if not waiters:
            del self._by_student[waiter.student]

    def to_wake(self, students: Iterable[str], queue: bool = False) -> list[Waiter]:
        """The waiters of `students` (and with `queue`, every one in the help queue)."""
        chosen: dict[int, Waiter] = {}
        for student in set(students):
            for waiter in self._by_student.get(student, ()):
                chosen[id(waiter)] = waiter
        if queue:
            for waiters in self._by_student.values():
                for waiter in waiters:
                    if waiter.in_queue:
                        chosen[id(waiter)] = waiter
        return list(chosen.values())

    def wake(self, students: Iterable[str], queue: bool = False) -> int:
        """Wake the waiters of `students` (see to_wake); how many."""
        woken = self.to_wake(students, queue)
        for waiter in woken:
            waiter.woken.set()
        return len(woken)

    def wake_all(self) -> None:
        """After a gap in the broker's delivery: everyone checks their etag again."""
        for waiters in self._by_student.values():
            for waiter in waiters:
                waiter.woken.set()
