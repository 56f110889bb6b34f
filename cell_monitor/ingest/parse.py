"""From a request body to validated, normalized events, one verdict per event.

A malformed event never costs its neighbours: each element of the posted array
is validated on its own, and over-long text is shortened (and flagged), not
rejected.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import ValidationError

from cell_monitor.config import Settings
from cell_monitor.contract.events import EventIn, RejectedEvent
from cell_monitor.domain.records import NewEvent
from cell_monitor.privacy.pseudonyms import key_of, pseudonym

TRUNCATION_MARK = "\n… [truncated by cell-monitor]"
MAX_EXTRA_BYTES = 16 * 1024


class UnusableBody(ValueError):
    """Nothing in the body can be used (422)."""


@dataclass
class ParsedBatch:
    events: list[NewEvent] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)


def parse_body(body: bytes) -> list[Any]:
    """The posted JSON as a list of items (a single object counts as one)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnusableBody(f"body is not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise UnusableBody("body must be a JSON array of events or a single event object")


def validate_batch(items: list[Any], settings: Settings) -> ParsedBatch:
    """Validate and normalize each item; invalid ones go to `rejected`."""
    batch = ParsedBatch()
    now = datetime.now(timezone.utc)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            batch.rejected.append(
                RejectedEvent(index=index, errors=["an event must be a JSON object"])
            )
            continue
        try:
            model = EventIn.model_validate(item)
        except ValidationError as exc:
            event_id = item.get("eventId")
            batch.rejected.append(
                RejectedEvent(
                    index=index,
                    event_id=event_id if isinstance(event_id, str) else None,
                    errors=[_describe(error) for error in exc.errors(include_url=False)],
                )
            )
            continue
        batch.events.append(normalize(model, settings, now))
        batch.indexes.append(index)
    return batch


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


class _Clip:
    """Shortens text to the configured limits and remembers whether it did."""

    def __init__(self) -> None:
        self.truncated = False

    def __call__(self, value: str | None, limit: int, mark: bool = True) -> str | None:
        if value is None:
            return None
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; it carries no meaning in code or output.
            value = value.replace("\x00", "")
        if len(value) <= limit:
            return value
        self.truncated = True
        return value[:limit] + TRUNCATION_MARK if mark else value[:limit]


def normalize(model: EventIn, settings: Settings, received_at: datetime) -> NewEvent:
    """The stored form of a valid event, with text clipped to the limits."""
    clip = _Clip()
    short = settings.max_field_chars
    email = clip(model.email_address, short, mark=False)
    user_id = clip(model.user_id, short, mark=False)
    traceback = model.traceback
    if isinstance(traceback, list):
        traceback = "\n".join(str(line) for line in traceback)
    event = NewEvent(
        event_id=model.event_id or str(uuid.uuid4()),
        event_type=model.event_type,
        event_time=model.event_time or received_at,
        received_at=received_at,
        student_key=email.lower() if email else user_id or "",
        email_address=email,
        user_id=user_id,
        user_name=clip(model.user_name, short, mark=False),
        team_name=clip(model.team_name, short, mark=False),
        session_key=clip(model.session_id, short, mark=False),
        notebook_path=clip(model.notebook_path, 1024, mark=False),
        cell_id=clip(model.cell_id, short, mark=False),
        cell_index=model.cell_index,
        cell_type=model.cell_type,
        code=clip(model.code, settings.max_code_chars),
        execution_count=model.execution_count,
        has_error=bool(model.has_error) or model.error_name is not None,
        error_name=clip(model.error_name, short, mark=False),
        error_message=clip(model.error_message, settings.max_error_chars),
        traceback=clip(traceback, settings.max_error_chars),
        result=clip(model.result, settings.max_result_chars),
        duration_ms=model.execution_duration_ms,
    )
    event.extra = _extra(model, clip)
    event.truncated = clip.truncated
    if settings.pseudonymize:
        _pseudonymize(event, key_of(settings))
    return event


def _pseudonymize(event: NewEvent, key: bytes) -> None:
    """Replace the identity before anything stores, publishes or logs the event.

    Here, once, because every consumer (store, live state, broker, dashboards,
    InfluxDB, logs) reads the normalized event. Fields outside the contract may
    carry identity too (a client's own `userEmail`...), so they are dropped.
    Free text (code, output, errors, notebook paths) is kept as sent: see
    docs/privacy.md.
    """
    alias = pseudonym(key, event.student_key) if event.student_key else ""
    event.student_key = alias
    event.email_address = None
    event.user_id = alias or None
    event.user_name = alias or None
    event.extra = None


def _extra(model: EventIn, clip: _Clip) -> dict[str, Any] | None:
    extra = model.model_extra
    if not extra:
        return None
    encoded = orjson.dumps(extra)
    if len(encoded) > MAX_EXTRA_BYTES or b"\\u0000" in encoded:
        # Unknown fields are kept as metadata, but never at any size.
        clip.truncated = True
        return {"_dropped": f"{len(extra)} extra fields, {len(encoded)} bytes"}
    return extra
