"""What an event becomes in InfluxDB: the schema of the user's guide.

`cell_execution` (one point per `cell_executed` event):
  tags   user_id (the student key: lower-cased email, else userId), notebook
  fields duration_ms (float), has_error (bool), has_error_int (0/1, because
         InfluxQL cannot sum booleans), cell_index, execution_count, error_name,
         event_id
`student_event` (every other event type):
  tags   user_id, notebook, event_type (known types, else "other")
  fields event_id, raw_type (the sent type when it is "other")

Tags stay low-cardinality: error names, event ids and free-form types are
fields, never tags. The team is not a tag: the store keeps a student's latest
team, not the team at the time of the event, so it would not be a fixed
property of the point and a rewrite could create a second series.

Time: the event's own time, plus an offset derived from the event's id that
stays inside the time's own precision: below one microsecond for a time given
to the microsecond, below one millisecond for a time given to the millisecond,
below one second for a whole second. Points of one series with the same
timestamp overwrite each other, which is what makes rewriting a batch harmless
(the offset is the same on every rewrite); the offset keeps different events of
one student and notebook that share a timestamp (clients that send whole
seconds, a batch sent without eventTime that all get the arrival time) from
overwriting each other. It never moves a point out of its second, so
per-minute counts match the primary store's.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cell_monitor.metrics import event_type_label
from cell_monitor.sinks.influx.line_protocol import encode_line
from cell_monitor.storage.event_log import LogRow

CELL_EXECUTION = "cell_execution"
STUDENT_EVENT = "student_event"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def time_ns(row: LogRow) -> int:
    when = row.event_time if row.event_time.tzinfo else row.event_time.replace(tzinfo=timezone.utc)
    micros = (when - _EPOCH) // _MICROSECOND
    if micros % 1_000_000 == 0:
        slots = 1_000_000_000  # a whole second
    elif micros % 1000 == 0:
        slots = 1_000_000  # a whole millisecond
    else:
        slots = 1000
    return micros * 1000 + row.pk % slots


def _is_execution(row: LogRow) -> bool:
    # has_error comes from the cell_executions row (NOT NULL there): a
    # cell_executed without one was no run (a markdown cell rendered).
    return row.event_type == "cell_executed" and row.has_error is not None


def measurement(row: LogRow) -> str:
    return CELL_EXECUTION if _is_execution(row) else STUDENT_EVENT


def to_line(row: LogRow) -> str:
    """The line protocol of one event; ValueError when InfluxDB cannot store it."""
    tags = {"user_id": row.student_key, "notebook": row.notebook}
    if _is_execution(row):
        has_error = bool(row.has_error)
        fields: dict[str, bool | int | float | str | None] = {
            # Coerced: a field's type is fixed per shard, and a driver may hand
            # back 12 for 12.0 (an integer there would be a type conflict).
            "duration_ms": None if row.duration_ms is None else float(row.duration_ms),
            "has_error": has_error,
            "has_error_int": int(has_error),
            "cell_index": None if row.cell_index is None else int(row.cell_index),
            "execution_count": None if row.execution_count is None else int(row.execution_count),
            "error_name": row.error_name,
            "event_id": row.event_id,
        }
        return encode_line(CELL_EXECUTION, tags, fields, time_ns(row))
    label = event_type_label(row.event_type)
    fields = {"event_id": row.event_id, "raw_type": None if label != "other" else row.event_type}
    return encode_line(STUDENT_EVENT, {**tags, "event_type": label}, fields, time_ns(row))
