"""The Jupyter server extension's API for the JupyterLab extension (same origin, Jupyter auth).

POST cell-monitor/events queues the browser's events on disk (the server extension
forwards them to POST /api/v1/events); GET cell-monitor/status feeds the status bar;
POST cell-monitor/messages/announce picks the one tab that announces a message.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cell_monitor.contract.base import ReadModel


class DeliveryState(str, Enum):
    """What the last attempt to deliver found (`state` in cell-monitor/status)."""

    ok = "ok"
    # The class server answered 401/403: the ingest token is missing or wrong.
    refused = "refused"
    # Something answers at that URL, but not cell-monitor's ingest endpoint.
    wrong_url = "wrong_url"
    # No answer at all: connection refused, unknown host, timeout.
    unreachable = "unreachable"
    # The class server answered but cannot take events now (5xx, 429).
    server_error = "server_error"
    # A bug in the forwarder itself (logged with its traceback).
    internal_error = "internal_error"


class _Request(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
    )


class ClientTarget(_Request):
    """The class server the student entered in the settings, when the operator set none."""

    server_url: str
    ingest_token: str


class QueueRequest(_Request):
    """What the browser posts; a bare JSON array of events is accepted too."""

    events: list[dict[str, Any]] = Field(description="EventIn objects; each is checked alone.")
    consent: bool = Field(False, description="The student accepted the data notice.")
    target: ClientTarget | None = None


MAX_ANNOUNCE_IDS = 100
MAX_MESSAGE_ID_CHARS = 128
MessageId = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_ID_CHARS)]


class AnnounceRequest(_Request):
    """POST cell-monitor/messages/announce: the messages a tab would announce now."""

    message_ids: list[MessageId] = Field(
        ..., max_length=MAX_ANNOUNCE_IDS, description="Ids of unseen messages, first to last."
    )


class AnnounceAnswer(ReadModel):
    """The ids this tab announces: each id is granted once per Jupyter server, ever."""

    announce: list[str]


class QueueRejection(ReadModel):
    index: int = Field(description="Position of the event in the posted array.")
    error: str


class QueueAnswer(ReadModel):
    """What POST cell-monitor/events answers (202)."""

    queued: int
    duplicates: int
    rejected: list[QueueRejection]
    queue_length: int


class NoticeConfig(ReadModel):
    """The operator's privacy configuration, for the data notice."""

    require_consent: bool = Field(description="Nothing is captured until the student accepts.")
    privacy_contact: str | None = Field(description="Who to ask for a copy or deletion.")
    user_id: str | None = Field(description="The identity events carry without hub user or email.")
    engagement: bool = Field(
        True, description="Engagement signals (visibility, idle, edit counts) are captured."
    )


class LabStatus(ReadModel):
    """What GET cell-monitor/status answers: delivery state for the status bar."""

    enabled: bool
    configured: bool = Field(description="The class server URL is known.")
    server_url: str | None = Field(description="Where events go.")
    hub_user: str | None = Field(description="JupyterHub user name when on a hub.")
    identity: Literal["hub", "credential", "declared"] | None = Field(
        description="How the class server learns whose events these are (null: no server)."
    )
    queue_length: int
    state: DeliveryState = Field(description="What the last delivery attempt found.")
    queue_full: bool = Field(
        description="The queue is at its bound: new batches wait in the browser."
    )
    unreachable_seconds: float | None = Field(
        description="Since the class server last failed to answer; null when reachable."
    )
    warn_after_seconds: int = Field(description="Warn the student once unreachable this long.")
    last_error: str | None = Field(description="What the indicator shows; a disk problem first.")
    queue_error: str | None = Field(
        description="Why events cannot be saved to or cleared from the disk queue, if so."
    )
    last_delivery_at: float | None = Field(description="Unix time of the last delivery.")
    delivered: int
    notice: NoticeConfig
