"""Wait figures of help requests: pure arithmetic over (opened, answered, closed) times.

A request waits from its ask until an instructor's first answer (a claim or a
dismissal); one the student ended unanswered waited until then; one still
unanswered has waited until now, so the longest wait also shows who is
waiting right now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median


@dataclass(frozen=True)
class RequestTimes:
    opened_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Waits:
    requests: int
    answered: int
    open: int
    median_seconds: float | None
    longest_seconds: float | None


def wait_seconds(request: RequestTimes, now: datetime) -> float:
    end = request.answered_at or request.closed_at or now
    return max(0.0, (end - request.opened_at).total_seconds())


def waits(requests: Sequence[RequestTimes], now: datetime) -> Waits:
    seconds = [wait_seconds(r, now) for r in requests]
    return Waits(
        requests=len(requests),
        answered=sum(r.answered_at is not None for r in requests),
        open=sum(r.closed_at is None for r in requests),
        median_seconds=median(seconds) if seconds else None,
        longest_seconds=max(seconds) if seconds else None,
    )


def sessions(requests: Sequence[RequestTimes], gap: timedelta) -> list[list[RequestTimes]]:
    """Requests (oldest first) split where more than `gap` passed between two asks."""
    out: list[list[RequestTimes]] = []
    for request in requests:
        if out and request.opened_at - out[-1][-1].opened_at <= gap:
            out[-1].append(request)
        else:
            out.append([request])
    return out
