"""Where a sink stands in the event log, without skipping rows that commit late.

Why not just "everything up to the highest id seen"? On PostgreSQL `events.id`
comes from a sequence: a transaction takes its ids when it inserts and they
become visible when it commits, so with several workers (or a slow commit) id
101 can be visible while 100 is still in flight. A reader that moved its
position to 101 would never see 100. Holes in the ids are also normal and
permanent: `INSERT ... ON CONFLICT DO NOTHING` uses up an id for each duplicate,
and a rolled-back group commit leaves its ids unused.

The choice here: write what is visible at once, remember the holes below the
head with the time they were first seen, and keep the *saved* position (the one
a restart resumes from) below the oldest hole. A hole is looked at again while
it is young (in-flight commits land within milliseconds) and once more when it
is `grace` seconds old; only then is it taken as permanent and the saved
position moves past it. So latency does not suffer from holes (they only delay
the saved position), and a row is skipped only if its transaction took longer
than `grace` between insert and commit. After a restart the sink re-reads from
the saved position, which rewrites at most `grace` seconds of points: harmless,
InfluxDB overwrites a point with the same series and timestamp.

A reading from the id order instead of a received_at time window was chosen
because it needs no clock agreement between workers and no fixed delay.

SQLite has no such holes to wait for: its writers are serialized (BEGIN
IMMEDIATE) and a new row takes the next id of the table's AUTOINCREMENT counter,
so ids become visible in order and `grace` is 0 there. AUTOINCREMENT (revision
0009) matters: without it a new row takes max(id) + 1, which reuses the ids of
the newest events after they are deleted (an erasure), ids the cursor has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# Holes younger than this are re-read on every cycle: that is where late commits land.
RECHECK_SECONDS = 2.0
# Bounded memory: with this many open holes the cursor stops reading new rows
# until the oldest expire (the sink lags, nothing is lost).
MAX_GAPS = 10_000
# Most hole ranges re-read in one cycle (one OR-list query each chunk).
MAX_RECHECK_RANGES = 500


@dataclass
class Gap:
    lo: int
    hi: int
    noticed: float


@dataclass(frozen=True)
class Recheck:
    """Id ranges to re-read now; `expiring_until` ends the expired holes among them."""

    ranges: list[tuple[int, int]] = field(default_factory=list)
    expiring_until: int | None = None


class LogCursor:
    def __init__(self, position: int, grace_seconds: float) -> None:
        self.head = position
        self.grace = grace_seconds
        # Sorted by id; since holes are found as the head moves up, also by age.
        self.gaps: list[Gap] = []

    @property
    def position(self) -> int:
        """Every id at or below this is handled: the position to save."""
        return self.gaps[0].lo - 1 if self.gaps else self.head

    @property
    def saturated(self) -> bool:
        return len(self.gaps) >= MAX_GAPS

    def recheck(self, now: float) -> Recheck:
        """The holes to look at again now: expired ones (oldest first), young ones."""
        expired = [g for g in self.gaps if now - g.noticed >= self.grace]
        expired = expired[:MAX_RECHECK_RANGES]
        young = [g for g in self.gaps if now - g.noticed < min(RECHECK_SECONDS, self.grace)]
        young = young[-MAX_RECHECK_RANGES:]
        ranges = [(g.lo, g.hi) for g in expired + young]
        return Recheck(ranges, expired[-1].hi if expired else None)

    def apply(
        self,
        new_ids: Sequence[int],
        late_ids: Sequence[int],
        recheck: Recheck,
        now: float,
        *,
        recheck_complete: bool,
    ) -> None:
        """Record a batch that was written: new ids (above the head, ascending),
        late ids found in holes, and the holes that were re-read at `now`."""
        for pk in new_ids:
            if pk > self.head + 1 and self.grace > 0:
                self.gaps.append(Gap(self.head + 1, pk - 1, now))
            self.head = max(self.head, pk)
        for pk in late_ids:
            self._fill(pk)
        if recheck_complete and recheck.expiring_until is not None:
            # These holes were re-read after they had been open for `grace`.
            limit = recheck.expiring_until
            self.gaps = [g for g in self.gaps if g.hi > limit]

    def _fill(self, pk: int) -> None:
        for index, gap in enumerate(self.gaps):
            if gap.lo <= pk <= gap.hi:
                pieces = []
                if gap.lo < pk:
                    pieces.append(Gap(gap.lo, pk - 1, gap.noticed))
                if pk < gap.hi:
                    pieces.append(Gap(pk + 1, gap.hi, gap.noticed))
                self.gaps[index : index + 1] = pieces
                return
