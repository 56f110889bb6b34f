"""Messages and hints from the dashboard to students: what is sent, seen and answered.

The instructor posts a `MessageIn` (POST /api/v1/messages); the server resolves its
audience to the students it names at that moment, stores one receipt per student
and delivers an `InboxMessage` to each through their Jupyter server. What the
student does with it comes back as events (`message_seen`, ...) on the ingest path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from cell_monitor.contract.base import ReadModel, Timestamp

AudienceKind = Literal["students", "team", "class", "hotspot", "stuck", "cluster"]

# A reply is kept short: an answer, not an essay (EventIn.reply_text is cut to it).
MAX_REPLY_CHARS = 500
MAX_BODY_CHARS = 4000
MAX_SNIPPET_CHARS = 20_000


class MarkdownAllowlist(ReadModel):
    """What the HTML of a message may hold: every front-end and the server keep to it.

    The server renders Markdown into these elements only (raw HTML off, images off:
    no request to another server when a message opens); the dashboard and the
    student's JupyterLab rebuild or sanitize the HTML with the same list.
    """

    tags: list[str] = Field(description="Elements; any other is unwrapped (its text kept).")
    attributes: dict[str, list[str]] = Field(
        description="Attributes allowed per element; every other attribute is dropped."
    )
    link_prefixes: list[str] = Field(
        description="An href starts with one of these (after trimming, any case); no relative "
        "link: it would resolve against the student's own Jupyter server."
    )
    link_target: str = Field(description="Every link opens in a new tab ...")
    link_rel: str = Field(description="... without a referrer or the page's window.")
    code_class_pattern: str = Field(
        description="A code element's class (the fence's language) matches this, or is dropped."
    )


MARKDOWN_ALLOWLIST = MarkdownAllowlist(
    tags=[
        *("p", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "hr", "br"),
    ],
    attributes={"a": ["href", "target", "rel"], "code": ["class"]},
    link_prefixes=["http://", "https://", "mailto:"],
    link_target="_blank",
    link_rel="noopener noreferrer nofollow",
    code_class_pattern="^language-[A-Za-z0-9_-]+$",
)


class _Request(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: a clear 422, not a failed insert.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain NUL characters")
        return value


# The fields each kind needs (besides `kind`); the others narrow it when allowed.
_NEEDS: dict[str, tuple[str, ...]] = {
    "students": ("students",),
    "team": ("team",),
    "class": (),
    "hotspot": ("notebook", "cell_index", "error_name"),
    "stuck": (),
    "cluster": ("notebook", "fingerprint"),
}


class Audience(_Request):
    """Who a message goes to, as the dashboard shows them; resolved when it is sent."""

    kind: AudienceKind
    students: list[str] = Field(
        default_factory=list, max_length=5000, description="students: their keys"
    )
    team: str | None = Field(None, max_length=512, description="team; narrows class/stuck/cluster")
    notebook: str | None = Field(
        None, max_length=1024, description="hotspot, cluster; narrows stuck"
    )
    cell_index: int | None = Field(
        None, ge=0, le=1_000_000, description="hotspot, cluster (or question), stuck"
    )
    error_name: str | None = Field(None, max_length=512, description="hotspot: the error's name")
    error_message: str | None = Field(
        None, max_length=4000, description="hotspot: its message (all messages when absent)"
    )
    hours: float | None = Field(
        None, gt=0, le=24 * 365, description="hotspot: only students who hit it this recently"
    )
    fingerprint: str | None = Field(None, max_length=128, description="cluster: its fingerprint")
    question: str | None = Field(
        None, max_length=256, description="cluster: of the answers to this test question"
    )

    @model_validator(mode="after")
    def _complete(self) -> Audience:
        missing = [
            to_camel(name) for name in _NEEDS[self.kind] if getattr(self, name) in (None, [])
        ]
        if missing:
            raise ValueError(f"an audience of kind {self.kind!r} needs {', '.join(missing)}")
        if self.kind == "cluster" and (self.cell_index is None) == (self.question is None):
            raise ValueError("an audience of kind 'cluster' needs cellIndex or question (one)")
        return self


class MessageIn(_Request):
    """A message or hint as the dashboard sends it."""

    request_id: str = Field(
        ...,
        min_length=8,
        max_length=128,
        description="Client UUID: a resent request is stored once (the first answer again).",
    )
    body: str = Field(..., min_length=1, max_length=MAX_BODY_CHARS, description="Markdown.")
    snippet: str | None = Field(
        None,
        max_length=MAX_SNIPPET_CHARS,
        description="Code the student may insert as a new cell below the active one.",
    )
    audience: Audience


class Receipts(ReadModel):
    """How many of the message's students got it, saw it and did something with it."""

    recipients: int
    delivered: int = Field(description="Their Jupyter server received it.")
    seen: int = Field(description="Shown to them in JupyterLab.")
    inserted: int = Field(description="Inserted the snippet as a new cell.")
    acknowledged: int = Field(description='Answered "got it".')
    replied: int = Field(description="Sent a reply.")


class MessageOut(ReadModel):
    """A sent message as the dashboard lists it."""

    id: str
    sent_at: Timestamp
    sender: str
    body: str = Field(description="The Markdown as written.")
    body_html: str = Field(description="The Markdown rendered safely (no raw HTML, no scripts).")
    snippet: str | None
    kind: AudienceKind
    audience: str = Field(description='Who it was for, e.g. "NameError on cell 7 of lesson1".')
    receipts: Receipts


class MessageList(ReadModel):
    items: list[MessageOut]


class _Relayed(ReadModel):
    """Read back from the wire too: the student's Jupyter server relays these answers."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel)
    )


class Reply(_Relayed):
    text: str
    at: Timestamp


class Recipient(ReadModel):
    """One student of a message and what they did with it."""

    student: str
    user_name: str | None
    team_name: str | None
    delivered_at: Timestamp | None
    seen_at: Timestamp | None
    inserted_at: Timestamp | None
    acknowledged_at: Timestamp | None
    replies: list[Reply]


class MessageDetail(ReadModel):
    message: MessageOut
    recipients: list[Recipient]


class InboxMessage(_Relayed):
    """A message as the student's JupyterLab shows it (no other student appears in it)."""

    id: str
    sent_at: Timestamp
    sender: str
    body_html: str = Field(description="Rendered safely on the server; sanitized again in the lab.")
    snippet: str | None
    seen_at: Timestamp | None
    inserted_at: Timestamp | None
    acknowledged_at: Timestamp | None
    replies: list[Reply]


class MessageHistory(_Relayed):
    """What a student received, newest first (their message panel)."""

    items: list[InboxMessage]
