"""Writing a batch of points so that a bad point costs only itself.

InfluxDB answers 400 (or 422) when it refuses points. Most servers then say
they stored the rest ("partial write" from 1.x and 3.x, 422 from 2.x): the
batch is done, the refused points are logged and counted. When the whole batch
was refused (2.x rejects everything for one malformed line), it is split in
halves and each half written again, down to the single point at fault. Points
already stored by an earlier attempt are simply overwritten (same series and
timestamp). A batch that is too large (413) is split the same way.

Errors that say InfluxDB cannot take anything now (down, auth, missing
database) propagate: the caller keeps the batch and retries it later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cell_monitor import metrics
from cell_monitor.sinks.influx.api import InfluxApi, Rejected, TooLarge

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Point:
    line: bytes
    event_id: str


@dataclass
class WriteReport:
    written: int = 0
    dropped: int = 0
    requests: int = 0


async def write_points(api: InfluxApi, points: Sequence[Point]) -> WriteReport:
    """Write `points`, skipping those InfluxDB refuses; raises InfluxError otherwise."""
    report = WriteReport()
    pending: list[Sequence[Point]] = [points] if points else []
    while pending:
        chunk = pending.pop()
        try:
            await _write(api, chunk, report)
        except Rejected as exc:
            if exc.partial or len(chunk) == 1:
                dropped = min(len(chunk), exc.dropped or 1)
                _dropped(chunk, dropped, str(exc), report)
                continue
            _split(chunk, pending, exc)
        except TooLarge as exc:
            if len(chunk) == 1:
                _dropped(chunk, 1, str(exc), report)
                continue
            _split(chunk, pending, exc)
        else:
            report.written += len(chunk)
            metrics.INFLUX_POINTS_WRITTEN.inc(len(chunk))
    return report


async def _write(api: InfluxApi, chunk: Sequence[Point], report: WriteReport) -> None:
    report.requests += 1
    started = time.perf_counter()
    try:
        await api.write(b"\n".join(point.line for point in chunk))
    except Exception as exc:
        metrics.INFLUX_WRITE_ERRORS.labels(getattr(exc, "kind", "error")).inc()
        raise
    finally:
        metrics.INFLUX_WRITE_DURATION.observe(time.perf_counter() - started)


def _split(chunk: Sequence[Point], pending: list[Sequence[Point]], exc: Exception) -> None:
    log.info("InfluxDB refused a batch of %d points (%s); splitting it", len(chunk), exc)
    middle = len(chunk) // 2
    # Last in, first out: the first half is written first, keeping time order.
    pending.append(chunk[middle:])
    pending.append(chunk[:middle])


def _dropped(chunk: Sequence[Point], dropped: int, why: str, report: WriteReport) -> None:
    report.dropped += dropped
    report.written += len(chunk) - dropped
    metrics.INFLUX_POINTS_DROPPED.inc(dropped)
    metrics.INFLUX_POINTS_WRITTEN.inc(len(chunk) - dropped)
    events = ", ".join(point.event_id for point in chunk[:3])
    more = f" and {len(chunk) - 3} more" if len(chunk) > 3 else ""
    log.warning(
        "InfluxDB refused %d point(s) of a batch of %d; skipped: %s [events %s%s]",
        dropped,
        len(chunk),
        why,
        events,
        more,
        extra={"dropped": dropped},
    )
