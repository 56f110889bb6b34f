"""From a request body to validated, normalized events, one verdict per event.

A malformed event never costs its neighbours: each element of the posted array
is validated on its own, whatever goes wrong with it (a value out of the
store's range, a time UTC cannot hold, text that is not Unicode, metadata
nested too deep) rejects that element only, and over-long text is shortened
(and flagged), not rejected.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from cell_monitor.config import Settings
from cell_monitor.contract.events import EventIn, RejectedEvent
from cell_monitor.contract.messages import MAX_REPLY_CHARS
from cell_monitor.domain.records import NewEvent
from cell_monitor.ingest.signals import EngagementOff, signal_fields, signal_metadata
from cell_monitor.privacy.pseudonyms import is_pseudonym, key_of, pseudonym

log = logging.getLogger(__name__)

TRUNCATION_MARK = "\n… [truncated by cell-monitor]"
MAX_EXTRA_BYTES = 16 * 1024
# Unknown fields nested deeper than this are not kept (JSON encoders stop far below
# a few hundred levels, and no real metadata needs more).
MAX_EXTRA_DEPTH = 32
# The store's width of names, ids and paths (String(512) / String(1024) columns).
FIELD_COLUMN_CHARS = 512
PATH_COLUMN_CHARS = 1024
# PostgreSQL cannot index a value over ~2700 bytes (notebooks.path is unique):
# 1024 characters of a 4-byte script would be refused.
PATH_INDEX_BYTES = 2000
# `errorMessage` as the reference extension sends it without `errorName`: "ename: evalue".
_ERROR_NAME = re.compile(r"([A-Za-z_][\w.]{0,199}): ")
# Cell fields, as the wire names them: kept as metadata on events that are no
# cell execution (a markdown render, or a client that sends them on other types).
_CELL_FIELDS = {
    "cell_id": "cellId",
    "cell_index": "cellIndex",
    "cell_type": "cellType",
    "code": "code",
    "execution_count": "executionCount",
    "has_error": "hasError",
    "error_name": "errorName",
    "error_message": "errorMessage",
    "traceback": "traceback",
    "result": "result",
    "duration_ms": "executionDurationMs",
}


class UnusableBody(ValueError):
    """Nothing in the body can be used (422)."""


@dataclass
class ParsedBatch:
    events: list[NewEvent] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)


# Deeper than this, an element of the posted array is not decoded at all (the
# decoders recurse; Python's stops near 1000 levels).
MAX_BODY_DEPTH = 512
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]')


@dataclass
class PostedBody:
    items: list[Any]
    # Parsed by the lenient decoder: strings may hold lone UTF-16 surrogates.
    lenient: bool = False
    # Elements of the array left undecoded because they nest too deeply.
    too_deep: frozenset[int] = frozenset()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_body(body: bytes) -> PostedBody:
    """The posted JSON as a list of items (a single object counts as one)."""
    lenient = False
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson refuses some valid JSON: integers beyond 64 bits and escaped
        # lone surrogates (what JavaScript's JSON.stringify writes for a broken
        # string). Those cost their own event only, so parse them here and
        # judge each event on its own.
        too_deep: frozenset[int] = frozenset()
        try:
            try:
                data = json.loads(body, parse_constant=_no_constants)
            except RecursionError:
                body, too_deep = _without_deep_elements(body)
                data = json.loads(body, parse_constant=_no_constants)
        except RecursionError:
            raise UnusableBody("body is not usable JSON: nested too deeply") from exc
        except ValueError:
            raise UnusableBody(f"body is not valid JSON: {exc}") from exc
        if isinstance(data, list):
            return PostedBody(data, True, too_deep)
        lenient = True
    if isinstance(data, dict):
        return PostedBody([data], lenient)
    if isinstance(data, list):
        return PostedBody(data, lenient)
    raise UnusableBody("body must be a JSON array of events or a single event object")


def _without_deep_elements(body: bytes) -> tuple[bytes, frozenset[int]]:
    """`body` with each element of its top-level array nested over MAX_BODY_DEPTH
    replaced by null, and the indexes of those elements.

    A scan of brackets and commas outside strings (C-speed regex), run only for
    bodies the decoders refused: the other elements can then be decoded and judged.
    """
    depth = deepest = index = 0
    start = -1
    cuts: list[tuple[int, int]] = []
    deep: set[int] = set()
    for token in _JSON_TOKEN.finditer(body):
        char = token.group()[:1]
        if char == b",":
            index += depth == 1
        elif char in (b"[", b"{"):
            depth += 1
            if depth == 2:
                start, deepest = token.start(), 2
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            if depth == 2 and start >= 0 and deepest > MAX_BODY_DEPTH:
                cuts.append((start, token.end()))
                deep.add(index)
            depth -= 1
    parts, position = [], 0
    for begin, end in cuts:
        parts += [body[position:begin], b"null"]
        position = end
    parts.append(body[position:])
    return b"".join(parts), frozenset(deep)


def validate_batch(
    items: list[Any],
    settings: Settings,
    *,
    lenient: bool = False,
    too_deep: frozenset[int] = frozenset(),
) -> ParsedBatch:
    """Validate and normalize each item; invalid ones go to `rejected`."""
    batch = ParsedBatch()
    now = datetime.now(timezone.utc)
    latest_time = latest_event_time(settings, now)
    verdicts: list[list[str] | None] = []
    for index, item in enumerate(items):
        if index in too_deep:
            verdicts.append([f"the event nests over {MAX_BODY_DEPTH} levels deep"])
        else:
            verdicts.append(_judge(item, lenient))
    models = _validate_all(items, verdicts)
    for index, item in enumerate(items):
        errors, model = verdicts[index], models[index]
        if model is not None:
            try:
                event = normalize(model, settings, now, latest_time)
            except ValidationError as exc:
                errors = [_describe(error) for error in exc.errors(include_url=False)]
            except EngagementOff as exc:
                errors = [str(exc)]
            except Exception as exc:
                # Whatever else this event's data makes fail costs this event only.
                log.warning("Event %d of a batch could not be read: %r", index, exc)
                errors = [f"the event could not be read: {type(exc).__name__}: {exc}"[:300]]
            else:
                batch.events.append(event)
                batch.indexes.append(index)
                continue
        event_id = item.get("eventId") if isinstance(item, dict) else None
        batch.rejected.append(
            RejectedEvent(
                index=index,
                event_id=event_id if isinstance(event_id, str) and len(event_id) <= 128 else None,
                errors=errors or ["the event could not be read"],
            )
        )
    return batch


_EVENTS = TypeAdapter(list[EventIn])


def _validate_all(items: list[Any], verdicts: list[list[str] | None]) -> list[EventIn | None]:
    """The model of each item without errors so far (None for the others).

    One call of the validator for the whole body when every candidate is valid
    (the common case); otherwise each candidate alone, so that a bad event
    costs only itself. `verdicts` gets the errors of the items found invalid.
    """
    positions = [index for index, verdict in enumerate(verdicts) if verdict is None]
    models: list[EventIn | None] = [None] * len(items)
    try:
        for index, model in zip(
            positions, _EVENTS.validate_python([items[i] for i in positions]), strict=True
        ):
            models[index] = model
        return models
    except ValidationError:
        pass
    except Exception as exc:  # judged below, one event at a time
        log.debug("Validating a body at once failed: %r", exc)
    for index in positions:
        try:
            models[index] = EventIn.model_validate(items[index])
        except ValidationError as exc:
            verdicts[index] = [_describe(error) for error in exc.errors(include_url=False)]
        except Exception as exc:
            log.warning("Event %d of a batch could not be read: %r", index, exc)
            verdicts[index] = [f"the event could not be read: {type(exc).__name__}: {exc}"[:300]]
    return models


def _judge(item: Any, lenient: bool) -> list[str] | None:
    """Errors that need no schema to find (None when there are none)."""
    if not isinstance(item, dict):
        return ["an event must be a JSON object"]
    if lenient:
        where = _lone_surrogate(item)
        if where is not None:
            return [f"{where}: text holds a lone UTF-16 surrogate (not valid Unicode)"]
    return None


def _lone_surrogate(item: dict[str, Any]) -> str | None:
    """The field of `item` whose text (or key) is not encodable as UTF-8, if any."""
    for name, value in item.items():
        stack = [name, value]
        while stack:
            current = stack.pop()
            if isinstance(current, str):
                try:
                    current.encode("utf-8")
                except UnicodeEncodeError:
                    return str(name).encode("utf-8", "replace").decode()
            elif isinstance(current, dict):
                stack.extend(current.keys())
                stack.extend(current.values())
            elif isinstance(current, list):
                stack.extend(current)
    return None


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


class _Clip:
    """Shortens text to the configured limits and remembers whether it did.

    A method, not `__call__`: calling an instance costs several times a bound
    method's call, and normalize clips a dozen fields of every event.
    """

    __slots__ = ("truncated",)

    def __init__(self) -> None:
        self.truncated = False

    def text(self, value: str | None, limit: int, mark: bool = True) -> str | None:
        if value is None:
            return None
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; it carries no meaning in code or output.
            value = value.replace("\x00", "")
        if len(value) <= limit:
            return value
        self.truncated = True
        return value[:limit] + TRUNCATION_MARK if mark else value[:limit]


def normalize(
    model: EventIn,
    settings: Settings,
    received_at: datetime,
    latest_time: datetime | None = None,
) -> NewEvent:
    """The stored form of a valid event, with text clipped to the limits.

    `latest_time` is the latest event time believed: received_at plus the
    allowed clock skew (computed here unless the batch did, once for all).
    """
    if latest_time is None:
        latest_time = latest_event_time(settings, received_at)
    clip = _Clip()
    short = min(settings.max_field_chars, FIELD_COLUMN_CHARS)
    email = clip.text(model.email_address, short, mark=False)
    user_id = clip.text(model.user_id, short, mark=False)
    traceback = model.traceback
    if isinstance(traceback, list):
        traceback = "\n".join(str(line) for line in traceback)
    error_name = model.error_name
    if error_name is None and model.error_message and model.has_error is not False:
        match = _ERROR_NAME.match(model.error_message)
        error_name = match[1] if match else None
    event_time = model.event_time or received_at
    client_time = None
    if event_time > latest_time:
        # A client clock ahead of ours: believe the receipt, keep what it said.
        client_time, event_time = event_time, received_at
    event = NewEvent(
        event_id=model.event_id or str(uuid.uuid4()),
        event_type=model.event_type,
        event_time=event_time,
        received_at=received_at,
        student_key=email.lower() if email else user_id or "",
        email_address=email,
        user_id=user_id,
        user_name=clip.text(model.user_name, short, mark=False),
        team_name=clip.text(model.team_name, short, mark=False),
        session_key=clip.text(model.session_id, short, mark=False),
        notebook_path=_within_bytes(
            clip.text(model.notebook_path, PATH_COLUMN_CHARS, mark=False), PATH_INDEX_BYTES, clip
        ),
        cell_id=clip.text(model.cell_id, short, mark=False),
        cell_index=model.cell_index,
        cell_type=clip.text(model.cell_type, 32, mark=False),
        code=clip.text(model.code, settings.max_code_chars),
        execution_count=model.execution_count,
        has_error=bool(model.has_error) or error_name is not None,
        error_name=clip.text(error_name, short, mark=False),
        error_message=clip.text(model.error_message, settings.max_error_chars),
        traceback=clip.text(traceback, settings.max_error_chars),
        result=clip.text(model.result, settings.max_result_chars),
        duration_ms=model.execution_duration_ms,
        **signal_fields(model, settings),
    )
    event.extra = _extra(model, clip)
    if event.event_type in ("help", "help_stop"):
        event.help_ask_id = clip.text(model.help_request_id, 128, mark=False)
    if event.event_type.startswith("message_"):
        event.message_id = model.message_id
        event.reply_text = clip.text(model.reply_text, MAX_REPLY_CHARS, mark=False)
    if settings.pseudonymize:
        _pseudonymize(event, key_of(settings))
    # What the server itself keeps as metadata (no identity in it, so also when
    # pseudonymizing): cell fields of events that are no execution, the client's time.
    server_metadata = {} if event.is_execution else _cell_metadata(event, model)
    if event.help_ask_id is not None:
        server_metadata["helpRequestId"] = event.help_ask_id
    # Which message a student's answer is about (and a reply, free text like code).
    if event.message_id is not None:
        server_metadata["messageId"] = event.message_id
    if event.reply_text is not None:
        server_metadata["replyText"] = event.reply_text
    server_metadata.update(signal_metadata(event))
    if client_time is not None:
        event.clock_adjusted = True
        server_metadata["clientEventTime"] = client_time.isoformat()
    if server_metadata:
        event.extra = {**(event.extra or {}), **server_metadata}
    event.truncated = clip.truncated
    return event


def latest_event_time(settings: Settings, received_at: datetime) -> datetime:
    """An eventTime later than this is a client clock ahead of ours."""
    return received_at + timedelta(seconds=settings.clock_skew_seconds)


def _within_bytes(value: str | None, limit: int, clip: _Clip) -> str | None:
    if value is None or len(value) * 4 <= limit:
        return value
    encoded = value.encode("utf-8")
    if len(encoded) <= limit:
        return value
    clip.truncated = True
    return encoded[:limit].decode("utf-8", "ignore")


def _cell_metadata(event: NewEvent, model: EventIn) -> dict[str, Any]:
    """The cell fields a client sent on an event that is no cell execution."""
    sent = model.model_fields_set
    kept = {}
    for name, wire in _CELL_FIELDS.items():
        value = getattr(event, name)
        source = "execution_duration_ms" if name == "duration_ms" else name
        if source in sent and value is not None:
            kept[wire] = value
    return kept


def _pseudonymize(event: NewEvent, key: bytes) -> None:
    """Replace the identity before anything stores, publishes or logs the event.

    Here, once, because every consumer (store, live state, broker, dashboards,
    InfluxDB, logs) reads the normalized event. Fields outside the contract may
    carry identity too (a client's own `userEmail`...), so they are dropped.
    Free text (code, output, errors, notebook paths) is kept as sent: see
    docs/privacy.md.
    """
    alias = event.student_key
    if alias and not is_pseudonym(alias):  # a per-student credential binds to its pseudonym
        alias = pseudonym(key, alias)
    event.student_key = alias
    event.email_address = None
    event.user_id = alias or None
    event.user_name = alias or None
    event.extra = None


def _extra(model: EventIn, clip: _Clip) -> dict[str, Any] | None:
    extra = model.model_extra
    if not extra:
        return None
    # Unknown fields are kept as metadata, but never at any size or depth, and
    # only as JSON every store can hold.
    if _depth(extra) > MAX_EXTRA_DEPTH:
        clip.truncated = True
        return {"_dropped": f"{len(extra)} extra fields, nested over {MAX_EXTRA_DEPTH} levels"}
    try:
        encoded = orjson.dumps(extra)
    except orjson.JSONEncodeError as exc:
        # e.g. an integer beyond 64 bits
        clip.truncated = True
        return {"_dropped": f"{len(extra)} extra fields, not storable as JSON ({exc})"}
    if len(encoded) > MAX_EXTRA_BYTES or b"\\u0000" in encoded:
        clip.truncated = True
        return {"_dropped": f"{len(extra)} extra fields, {len(encoded)} bytes"}
    return extra


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (without recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_EXTRA_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest
