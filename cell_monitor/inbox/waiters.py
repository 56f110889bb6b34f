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


@dataclass(eq=False)
class Waiter:
    student: str
    in_queue: bool  # the student's help request is open: their place in line may move
    woken: asyncio.Event = field(default_factory=asyncio.Event)


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

    def wake(self, students: Iterable[str], queue: bool = False) -> int:
        """Wake the waiters of `students` (and with `queue`, every one in the help queue)."""
        woken = 0
        for student in set(students):
            for waiter in self._by_student.get(student, ()):
                waiter.woken.set()
                woken += 1
        if queue:
            for waiters in self._by_student.values():
                for waiter in waiters:
                    if waiter.in_queue and not waiter.woken.is_set():
                        waiter.woken.set()
                        woken += 1
        return woken

    def wake_all(self) -> None:
        """After a gap in the broker's delivery: everyone checks their etag again."""
        for waiters in self._by_student.values():
            for waiter in waiters:
                waiter.woken.set()
