"""Gathering one student's inbox: the parts, and the etag that names their content.

The extension point for what else a student receives: `InboxParts.messages`
is the function that lists the student's delivered-but-unacknowledged
messages (the messages feature sets it when the server is wired together);
until it is set, the inbox carries help only. Whatever changes a part must call
InboxService.announce(students) after its commit: that wakes the long-polls and
drops what the workers remember of those inboxes (inbox/known.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timezone

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cell_monitor.contract.inbox import HelpRequestView, InboxMessage, StudentInbox
from cell_monitor.storage.help_reads import student_help, students_help

# (connection, student key) -> the student's pending messages, first to last.
MessagesPart = Callable[[AsyncConnection, str], Awaitable[list[InboxMessage]]]


def etag_of(help_view: HelpRequestView | None, messages: list[InboxMessage]) -> str:
    """A short hash of the content: equal content, equal etag, on every worker."""
    content = {
        "help": help_view.model_dump(mode="json", by_alias=True) if help_view else None,
        "messages": [m.model_dump(mode="json", by_alias=True) for m in messages],
    }
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]


class InboxParts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.messages: MessagesPart | None = None

    async def gather(self, student: str) -> StudentInbox:
        """The student's inbox now, read in one short transaction (no connection is kept)."""
        now = datetime.now(timezone.utc)
        async with self.engine.connect() as conn:
            help_view = await student_help(conn, student, now)
            messages = await self.messages(conn, student) if self.messages else []
        return StudentInbox(etag=etag_of(help_view, messages), help=help_view, messages=messages)

    async def gather_many(self, students: Collection[str]) -> dict[str, StudentInbox]:
        """The inboxes of many students at once, their help parts in two queries."""
        now = datetime.now(timezone.utc)
        inboxes: dict[str, StudentInbox] = {}
        async with self.engine.connect() as conn:
            views = await students_help(conn, students, now)
            for student in students:
                messages = await self.messages(conn, student) if self.messages else []
                help_view = views.get(student)
                inboxes[student] = StudentInbox(
                    etag=etag_of(help_view, messages), help=help_view, messages=messages
                )
        return inboxes
