"""InfluxDB line protocol: `measurement,tag=v field=v timestamp`, one point per line.

Escaping follows the line protocol reference (1.x and 2.x agree on it): in
measurements a comma or space is escaped with a backslash; in tag keys, tag
values and field keys also an equals sign; string field values are quoted with
`"` and `\\` escaped. Two things the protocol cannot express are replaced rather
than sent broken, because one broken line would make InfluxDB reject the batch:
- control characters (a newline ends the line) become spaces;
- a backslash right before an escaped character or at the end of a tag value
  (the parser would read it as an escape) becomes U+FF3C FULLWIDTH REVERSE
  SOLIDUS, which looks the same.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping

FieldValue = bool | int | float | str

_CONTROL = {code: " " for code in [*range(32), 127]}
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_LONE_BACKSLASH = re.compile(r"\\(?=[,= ]|$)")
_LOOKALIKE_BACKSLASH = "\uff3c"
# Most values (emails, notebook paths) need none of this: check once, cheaply.
_SPECIAL = re.compile(r"[,= \\\x00-\x1f\x7f]")
_STRING_SPECIAL = re.compile(r'["\\\r\n]')

# InfluxDB stores signed 64-bit nanoseconds; its limits are one step inside them.
MIN_TIME_NS = -9_223_372_036_854_775_806
MAX_TIME_NS = 9_223_372_036_854_775_806


def _clean(text: str) -> str:
    return _LONE_BACKSLASH.sub(_LOOKALIKE_BACKSLASH, text.translate(_CONTROL))


# Tag values repeat all the time (the same students and notebooks): cached.
@functools.lru_cache(maxsize=8192)
def escape_tag(text: str) -> str:
    """A tag key, tag value or field key."""
    if not _SPECIAL.search(text):
        return text
    return _clean(text).translate(_TAG_ESCAPES)


def escape_measurement(text: str) -> str:
    if not _SPECIAL.search(text):
        return text
    return _clean(text).translate(_MEASUREMENT_ESCAPES)


def quote_string(text: str) -> str:
    """A string field value, quoted."""
    if _STRING_SPECIAL.search(text):
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return f'"{text}"'


def format_field(value: FieldValue) -> str | None:
    """The value as line protocol, or None when it cannot be stored (NaN, infinity)."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return quote_string(value)


def encode_line(
    measurement: str,
    tags: Mapping[str, str | None],
    fields: Mapping[str, FieldValue | None],
    time_ns: int,
) -> str:
    """One point. Empty tags and unstorable fields are left out; raises ValueError
    when no field remains or the time is outside what InfluxDB can store."""
    if not MIN_TIME_NS <= time_ns <= MAX_TIME_NS:
        raise ValueError(f"time {time_ns} ns is outside InfluxDB's range")
    parts = [escape_measurement(measurement)]
    # Tags sorted by key: the order InfluxDB keeps them in, so it skips sorting.
    for key in sorted(tags):
        value = tags[key]
        if value:  # line protocol has no empty tag value
            parts.append(f"{escape_tag(key)}={escape_tag(value)}")
    encoded = []
    for key, raw in fields.items():
        if raw is None:
            continue
        text = format_field(raw)
        if text is not None:
            encoded.append(f"{escape_tag(key)}={text}")
    if not encoded:
        raise ValueError("a point needs at least one field")
    return f"{','.join(parts)} {','.join(encoded)} {time_ns}"
