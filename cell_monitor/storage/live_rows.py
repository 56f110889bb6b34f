"""Between a `students` row and a LiveState (cell_monitor/live/state.py)."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any

from cell_monitor.domain.live_status import LiveState, state_of_fields
from cell_monitor.storage.models import Student, UtcDateTime

# LiveState fields stored under the same column name on `students`.
_SAME_NAME = [f.name for f in fields(LiveState) if f.name not in ("student", "version")]
_COLUMN = {
    **{name: name for name in _SAME_NAME},
    "student": "student_key",
    "version": "state_version",
}

# Columns to select (or return) to rebuild a LiveState.
STATE_COLUMNS = [getattr(Student, column) for column in _COLUMN.values()]

# Who a student is, as events say it: a group keeps the stored value where it says nothing.
IDENTITY_COLUMNS = ("email_address", "user_id", "user_name", "team_name")
# What a group write reads of its students' rows (bulk.py's lock_students).
LOCKED_COLUMNS = ("id", *dict.fromkeys([*IDENTITY_COLUMNS, *_COLUMN.values()]))


def _is_time(column: Any) -> bool:
    return isinstance(column.type, UtcDateTime)


# Every group write reads and compares each of its students' states: only times
# need making aware, and a state's values are its __dict__ (a plain dataclass).
_TIMED = [n for n, c in zip(_COLUMN, STATE_COLUMNS, strict=True) if _is_time(c)]
_STORED = [(n, c) for n, c in _COLUMN.items() if c not in ("student_key", "user_name", "team_name")]
_COLUMNS_OF_ROW = operator.itemgetter(*_COLUMN.values())
# The same from a row of LOCKED_COLUMNS in that order: by position, in one C call.
_FIELDS_OF_LOCKED = operator.itemgetter(*(LOCKED_COLUMNS.index(c) for c in _COLUMN.values()))


def state_from_row(row: Any) -> LiveState:
    """A LiveState from a row or mapping holding STATE_COLUMNS."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return _state(_COLUMNS_OF_ROW(mapping))


def state_from_locked(row: Mapping[str, Any]) -> LiveState:
    """A LiveState from a mapping of LOCKED_COLUMNS whose values are in that order."""
    return _state(_FIELDS_OF_LOCKED(tuple(row.values())))


def _state(values_of_fields: Sequence[Any]) -> LiveState:
    values = dict(zip(_COLUMN, values_of_fields, strict=True))
    for name in _TIMED:
        # Raw rows (bulk.py's RETURNING on PostgreSQL) skip UtcDateTime; asyncpg
        # gives ±infinity as naive datetime.max/min.
        value = values[name]
        if isinstance(value, datetime) and value.tzinfo is None:
            values[name] = value.replace(tzinfo=timezone.utc)
    return state_of_fields(values)


def state_values(state: LiveState) -> dict[str, Any]:
    """Column values that store `state` (identity columns excluded)."""
    stored = vars(state)
    return {column: stored[name] for name, column in _STORED}


def changed_columns(before: LiveState, after: LiveState) -> list[str]:
    """The columns of `state_values` in which the two states differ."""
    old, new = vars(before), vars(after)
    return [column for name, column in _STORED if old[name] != new[name]]


def state_fields(columns: set[str]) -> list[tuple[str, str]]:
    """(column, LiveState field) of those of `state_values`' columns in `columns`, in its order."""
    return [(column, name) for name, column in _STORED if column in columns]
