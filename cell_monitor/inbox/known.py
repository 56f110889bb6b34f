"""The latest inbox this worker read for each student, until a change makes it stale.

Right after a long-poll is answered, its client asks again with the new etag;
reading the database again for that would double the cost of every change.
An entry is dropped as soon as this worker hears of a change for the student
(through the broker, like every worker), or of a move of the help line for
those in it, or of a gap in the broker's delivery; entries also age out.
A read that overlapped such news is not kept (the generation tells).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable

from cell_monitor.contract.inbox import OPEN_STATES, StudentInbox

MAX_AGE_SECONDS = 60.0


class KnownInboxes:
    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.generation = 0
        self._items: OrderedDict[str, tuple[float, StudentInbox]] = OrderedDict()

    def get(self, student: str) -> StudentInbox | None:
        item = self._items.get(student)
        if item is None:
            return None
        stored, inbox = item
        if time.monotonic() - stored > MAX_AGE_SECONDS:
            del self._items[student]
            return None
        return inbox

    def put(self, student: str, inbox: StudentInbox, read_at_generation: int) -> None:
        """Keep `inbox` unless news arrived while it was read."""
        if read_at_generation != self.generation:
            return
        self._items[student] = (time.monotonic(), inbox)
        self._items.move_to_end(student)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def forget(self, students: Iterable[str], line_moved: bool = False) -> None:
        self.generation += 1
        for student in students:
            self._items.pop(student, None)
        if line_moved:
            in_line = [
                key
                for key, (_, inbox) in self._items.items()
                if inbox.help is not None and inbox.help.state in OPEN_STATES
            ]
            for key in in_line:
                del self._items[key]

    def clear(self) -> None:
        self.generation += 1
        self._items.clear()
