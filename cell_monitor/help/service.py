"""Claims, the queue and the wait figures; every change tells dashboards and the student.

Claims and dismissals go through LiveService.act: one transaction changes the
student's live state and their help_requests row, then the dashboards (live
feed) and the student's inbox (its action listener) are told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor import metrics
from cell_monitor.accounts import users
from cell_monitor.accounts.hub import HubClient
from cell_monitor.accounts.ratelimit import RateLimiter
from cell_monitor.accounts.users import HUB_PREFIX, Instructor, Role
from cell_monitor.config import Settings
from cell_monitor.contract.inbox import (
    HelpQueue,
    HelpQueueEntry,
    HelpSessionFigures,
    HelpState,
    HelpStats,
    WaitFigures,
)
from cell_monitor.domain.help_waits import RequestTimes, Waits, sessions, waits
from cell_monitor.domain.live_status import LiveState, NoOpenRequest, claim_help
from cell_monitor.live.service import LiveService
from cell_monitor.storage.help_reads import open_requests, requests_between

log = logging.getLogger(__name__)

_ROLE_LABEL = {Role.ta: "TA", Role.instructor: "instructor", Role.admin: "instructor"}
STATS_DAYS = 14  # sessions shown by GET /api/v1/help/stats


class ClaimedByOther(RuntimeError):
    """Another instructor is on the way already."""

    def __init__(self, by: str) -> None:
        super().__init__(f"already claimed by {by}")
        self.by = by


def claim_label(instructor: Instructor) -> str:
    """How the student sees who is coming: "ada (TA)"."""
    name = instructor.username.removeprefix(HUB_PREFIX)
    return f"{name} ({_ROLE_LABEL.get(instructor.role, 'instructor')})"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class HelpService:
    def __init__(
        self, settings: Settings, engine: AsyncEngine, live: LiveService, hub: HubClient | None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.live = live
        self.hub = hub  # hub mode: a TA's hub groups add to the account's teams
        per_minute = settings.help_claims_per_minute
        self.action_limiter = RateLimiter(per_minute / 60, per_minute)
        self._refresher: asyncio.Task[None] | None = None

    async def claim(self, student: str, instructor: Instructor, take_over: bool) -> LiveState:
        """`instructor` is on the way; raises NoOpenRequest, ClaimedByOther, UnknownStudent."""
        label = claim_label(instructor)
        now = _now()

        def change(state: LiveState) -> LiveState:
            by = state.help_claimed_by
            if by is not None and by != label and not take_over:
                raise ClaimedByOther(by)
            if by == label:
                return replace(state, version=state.version + 1)
            return claim_help(state, label, now)

        after = await self.live.act(student, "claim_help", change, instructor.username)
        metrics.HELP_ACTIONS.labels("claim").inc()
        if after.help_since is not None:
            metrics.HELP_ANSWER_WAIT.observe(max(0.0, (now - after.help_since).total_seconds()))
        return after

    async def release(self, student: str, instructor: Instructor) -> LiveState:
        """Nobody is on the way any more: the request waits again in its place."""
        after = await self.live.act(
            student, "release_help", lambda s: claim_help(s, None, _now()), instructor.username
        )
        metrics.HELP_ACTIONS.labels("release").inc()
        return after

    async def dismiss(self, student: str, instructor: Instructor) -> LiveState:
        after = await self.live.dismiss_help(student, instructor.username)
        metrics.HELP_ACTIONS.labels("dismiss").inc()
        return after

    async def teams_of(self, instructor: Instructor) -> list[str]:
        """The caller's teams: those an admin gave the account, then those of its hub groups."""
        teams = await users.teams_of(self.engine, instructor.id)
        if self.hub is not None and instructor.username.startswith(HUB_PREFIX):
            hub_teams = await self.hub.teams_of(instructor.username.removeprefix(HUB_PREFIX))
            teams = list(dict.fromkeys([*teams, *hub_teams]))
        return teams

    async def queue(self, instructor: Instructor, my_teams: list[str]) -> HelpQueue:
        """Open requests oldest first; `mine`: claimed by the caller or in their teams."""
        now = _now()
        label = claim_label(instructor)
        async with self.engine.connect() as conn:
            rows = await open_requests(conn)
        entries = []
        position = 0
        for row in rows:
            claimed = row.claimed_at is not None
            position += not claimed
            entries.append(
                HelpQueueEntry(
                    id=row.id,
                    student=row.student_key,
                    user_name=row.user_name,
                    team_name=row.team_name,
                    notebook_path=row.notebook_path,
                    state=HelpState(row.state),
                    position=None if claimed else position,
                    opened_at=row.opened_at,
                    waiting_seconds=max(0.0, (now - row.opened_at).total_seconds()),
                    claimed_by=row.claimed_by,
                    claimed_at=row.claimed_at,
                    mine=row.claimed_by == label or (row.team_name in my_teams),
                )
            )
        return HelpQueue(server_time=now, me=label, my_teams=my_teams, requests=entries)

    async def stats(self, now: datetime | None = None) -> HelpStats:
        """Wait figures today (UTC) and per class session over the last STATS_DAYS days."""
        now = now or _now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        since = midnight - timedelta(days=STATS_DAYS)
        async with self.engine.connect() as conn:
            rows = await requests_between(conn, since, now + timedelta(seconds=1))
        times = [RequestTimes(r.opened_at, r.answered_at, r.closed_at) for r in rows]
        today = [t for t in times if t.opened_at >= midnight]
        gap = timedelta(hours=self.settings.help_session_gap_hours)
        per_session = [
            HelpSessionFigures(
                started_at=group[0].opened_at,
                ended_at=group[-1].opened_at,
                **_figures(waits(group, now)).model_dump(),
            )
            for group in reversed(sessions(times, gap))
        ]
        return HelpStats(server_time=now, today=_figures(waits(today, now)), sessions=per_session)

    # /metrics: every worker reads the same rows, so each shows the same figures.
    def start(self) -> None:
        self._refresher = asyncio.create_task(self._refresh(), name="cell-monitor-help-metrics")

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher

    async def refresh_metrics(self) -> None:
        stats = await self.stats()
        async with self.engine.connect() as conn:
            rows = await open_requests(conn)
        claimed = sum(r.claimed_at is not None for r in rows)
        metrics.HELP_OPEN.labels("open").set(len(rows) - claimed)
        metrics.HELP_OPEN.labels("claimed").set(claimed)
        metrics.HELP_WAIT_MEDIAN.set(stats.today.median_wait_seconds or 0)
        metrics.HELP_WAIT_LONGEST.set(stats.today.longest_wait_seconds or 0)

    async def _refresh(self) -> None:
        while True:
            try:
                await self.refresh_metrics()
            except Exception as exc:
                log.warning("Help figures for /metrics not refreshed: %s", exc)
            await asyncio.sleep(self.settings.help_metrics_seconds)


def _figures(w: Waits) -> WaitFigures:
    return WaitFigures(
        requests=w.requests,
        answered=w.answered,
        open=w.open,
        median_wait_seconds=w.median_seconds,
        longest_wait_seconds=w.longest_seconds,
    )


__all__ = ["ClaimedByOther", "HelpService", "NoOpenRequest", "claim_label"]
