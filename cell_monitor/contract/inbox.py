"""The per-student channel: what GET /api/v1/student/inbox (and the Jupyter server's
GET cell-monitor/inbox) answer, and the help queue the dashboard reads.

One answer holds everything addressed to one student now: their help request
and the messages delivered to them but not yet acknowledged. `etag` changes
whenever any of it changes, so a client long-polls with the etag it holds.
"""

from __future__ import annotations

from enum import Enum

from pydantic import AliasGenerator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cell_monitor.contract.base import ReadModel, Timestamp
from cell_monitor.contract.messages import InboxMessage


class _Model(ReadModel):
    """Read back from the wire too (the Jupyter server relays the class server's answer)."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel)
    )


class HelpState(str, Enum):
    """A help request's life: open → claimed → one of the three ends."""

    open = "open"
    claimed = "claimed"  # an instructor or TA is on the way
    resolved = "resolved"  # the student ended it after someone came
    withdrawn = "withdrawn"  # the student ended it before anyone came
    dismissed = "dismissed"  # an instructor closed it


OPEN_STATES = frozenset({HelpState.open, HelpState.claimed})


class HelpRequestView(_Model):
    """The student's latest help request, as their JupyterLab shows it."""

    id: int
    state: HelpState
    opened_at: Timestamp
    position: int | None = Field(
        description="1 for the first in line; open (unclaimed) requests only, else null."
    )
    claimed_by: str | None = Field(description='Who is on the way, e.g. "Ada (TA)".')
    claimed_at: Timestamp | None
    closed_at: Timestamp | None
    help_request_id: str | None = Field(description="The client's id of the ask, if it sent one.")


class StudentInbox(_Model):
    """Everything addressed to one student now; `etag` names this exact content."""

    etag: str
    help: HelpRequestView | None
    messages: list[InboxMessage] = Field(
        description="Delivered but not acknowledged, first to last."
    )


class HelpQueueEntry(_Model):
    """One open request in the instructors' queue."""

    id: int
    student: str
    user_name: str | None
    team_name: str | None
    notebook_path: str | None
    state: HelpState
    position: int | None = Field(description="Place in line among unclaimed requests.")
    opened_at: Timestamp
    waiting_seconds: float
    claimed_by: str | None
    claimed_at: Timestamp | None
    mine: bool = Field(description="Claimed by the caller, or in one of the caller's teams.")


class HelpQueue(_Model):
    """GET /api/v1/help/queue: open requests, oldest first."""

    server_time: Timestamp
    me: str = Field(description='How the caller\'s claims are shown, e.g. "ada (TA)".')
    my_teams: list[str] = Field(
        description="Teams of the caller: those of their account (cell-monitor user teams), "
        "then those of their hub groups."
    )
    requests: list[HelpQueueEntry]


class WaitFigures(_Model):
    """How long students waited for an answer (a claim or a dismissal)."""

    requests: int
    answered: int
    open: int
    median_wait_seconds: float | None
    longest_wait_seconds: float | None = Field(
        description="Also counts requests still waiting (their wait so far)."
    )


class HelpSessionFigures(WaitFigures):
    """One class session: help requests with less than the session gap between them."""

    started_at: Timestamp
    ended_at: Timestamp


class HelpStats(_Model):
    """GET /api/v1/help/stats: wait times today (UTC) and per class session."""

    server_time: Timestamp
    today: WaitFigures
    sessions: list[HelpSessionFigures] = Field(description="Newest first.")


class RelayState(str, Enum):
    """How the Jupyter server's relay of the inbox is doing (`state` of LabInbox)."""

    ok = "ok"  # the inbox is the class server's latest answer
    connecting = "connecting"  # no answer yet since this Jupyter server started
    not_configured = "not_configured"  # no class server configured here
    refused = "refused"  # the class server names no student for our credential (403/401)
    unreachable = "unreachable"  # no answer, or an error: retried with backoff


class LabInbox(_Model):
    """GET cell-monitor/inbox on the student's Jupyter server: its latest copy of the inbox."""

    etag: str = Field(description="Changes when the state or the inbox changes.")
    state: RelayState
    detail: str | None = Field(description="Why the relay is not ok, in words.")
    inbox: StudentInbox | None = Field(description="The latest inbox (kept while unreachable).")
