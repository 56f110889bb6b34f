"""Retry delays for everything that reconnects or resends: one policy, used everywhere.

Delays double from `first` up to `maximum`, with "equal jitter": half of each
delay is fixed, half random. The fixed half keeps a failing peer from being
hammered; the random half keeps clients that failed together (a classroom
after the server restarts, workers after Redis comes back) from retrying in
step. Pure Python with no dependencies: the Jupyter server extension, which
installs without the server's packages, imports it too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

# 2**30 times any sensible first delay is far beyond any maximum; capping the
# exponent keeps a long outage's failure count from overflowing a float.
_MAX_DOUBLINGS = 30


@dataclass
class Backoff:
    """Exponential delays with equal jitter; counts the failures since the last success."""

    first: float
    maximum: float
    rand: Callable[[], float] = field(default=random.random, repr=False)
    failures: int = 0

    def __post_init__(self) -> None:
        # A zero delay would turn a retry loop into a busy loop against a failing peer.
        if self.first <= 0 or self.maximum <= 0:
            raise ValueError(f"backoff delays must be positive, not {self.first}, {self.maximum}")

    def ceiling(self, failures: int) -> float:
        """The longest delay after `failures` failures in a row (1 for the first)."""
        return min(self.maximum, self.first * 2 ** min(max(failures - 1, 0), _MAX_DOUBLINGS))

    def delay(self, failures: int) -> float:
        """A delay after `failures` failures in a row: between half the ceiling and all of it."""
        ceiling = self.ceiling(failures)
        return ceiling / 2 + self.rand() * ceiling / 2

    def next(self, at_least: float | None = None) -> float:
        """Count one more failure and return the wait before the next try.

        `at_least` is what the other side asked for (an HTTP Retry-After): it is
        honoured, and the backoff can only make the wait longer.
        """
        self.failures += 1
        wait = self.delay(self.failures)
        return wait if at_least is None else max(wait, at_least)

    def reset(self) -> None:
        """A success: the next failure starts again from `first`."""
        self.failures = 0
