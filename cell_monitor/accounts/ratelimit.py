"""Token-bucket rate limits kept in the worker's memory.

Each worker counts on its own: with N workers behind a load balancer the
effective limit is up to N times the configured one. That is the documented
trade-off for not touching Redis or the database on every request.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cell_monitor.config import Settings


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`capacity` requests at once per key, refilled at `rate` per second."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _bucket(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.capacity, now)
            self._buckets[key] = bucket
            # Bounded memory: the key not seen for longest goes first (a full
            # bucket forgotten is a full bucket recreated, so nothing is lost
            # but the debt of an abuser idle for long).
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def acquire(self, key: str) -> float:
        """Take one request from `key`'s bucket: 0 when allowed, else seconds to wait."""
        if not self.enabled:
            return 0.0
        bucket = self._bucket(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def refund(self, key: str) -> None:
        """Give back a request taken by acquire (e.g. a login that succeeded)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.capacity, bucket.tokens + 1)


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (the header has no fractions)."""
    return str(max(1, math.ceil(seconds)))


class ConnectionSlots:
    """Open connections per user (dashboards per instructor), in this worker."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: dict[str, int] = {}

    def take(self, user: str) -> bool:
        count = self._open.get(user, 0)
        if count >= self.per_user:
            return False
        self._open[user] = count + 1
        return True

    def release(self, user: str) -> None:
        count = self._open.get(user, 0) - 1
        if count > 0:
            self._open[user] = count
        else:
            self._open.pop(user, None)


@dataclass
class Limits:
    """Every in-memory limit of one worker."""

    ingest: RateLimiter
    login_account: RateLimiter
    login_ip: RateLimiter
    dashboards: ConnectionSlots

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        window = settings.login_window_seconds
        return cls(
            ingest=RateLimiter(settings.ingest_rate_per_second, settings.ingest_burst),
            login_account=RateLimiter(
                settings.login_attempts_per_account / window, settings.login_attempts_per_account
            ),
            login_ip=RateLimiter(
                settings.login_attempts_per_ip / window, settings.login_attempts_per_ip
            ),
            dashboards=ConnectionSlots(settings.ws_connections_per_user),
        )
