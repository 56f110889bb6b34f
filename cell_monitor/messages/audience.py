"""Who a message goes to: an audience as the dashboard shows it, resolved to students.

Resolved once, when the message is sent: "the students with NameError on cell 7"
are those who have it now; a student who hits it later did not get the hint and
is not counted in its receipts. The label names the group, never a student.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.contract.messages import Audience
from cell_monitor.domain.live_status import Thresholds
from cell_monitor.reports.clusters import answer_clusters, attempt_clusters
from cell_monitor.storage import live_store
from cell_monitor.storage.models import ErrorGroup, ErrorStudent, Notebook, Student


class EmptyAudience(ValueError):
    """The audience names nobody (or a student that does not exist)."""


@dataclass(frozen=True)
class Resolved:
    student_ids: list[int]
    student_keys: list[str]
    label: str


def _cell(audience: Audience) -> str:
    where = f"cell {audience.cell_index}" if audience.cell_index is not None else "any cell"
    return f"{where} of {audience.notebook}" if audience.notebook else where


def _team(audience: Audience) -> str:
    return f" in team {audience.team}" if audience.team else ""


async def resolve(
    engine: AsyncEngine, audience: Audience, thresholds: Thresholds, now: datetime
) -> Resolved:
    """The students of `audience` now, and how the dashboard names the group."""
    kind = audience.kind
    if kind == "students":
        keys = await _by_keys(engine, audience.students)
        count = len(audience.students)
        label = "1 student" if count == 1 else f"{count} students"
    elif kind in ("team", "class"):
        keys = await _by_team(engine, audience.team)
        label = f"team {audience.team}" if kind == "team" else "the whole class" + _team(audience)
    elif kind == "hotspot":
        keys = await _by_hotspot(engine, audience, now)
        label = f"{audience.error_name} on {_cell(audience)}"
    elif kind == "stuck":
        keys = await _stuck(engine, audience, thresholds)
        label = f"stuck on {_cell(audience)}{_team(audience)}"
    elif audience.question is not None:
        keys = await _by_cluster(engine, audience)
        label = (
            f"a cluster of answers to question {audience.question} of {audience.notebook}"
            f"{_team(audience)}"
        )
    else:
        keys = await _by_cluster(engine, audience)
        label = f"a cluster of attempts at {_cell(audience)}{_team(audience)}"
    found = await _ids(engine, keys)
    if not found:
        raise EmptyAudience(f"nobody to send to: no student is in {label}")
    return Resolved([pk for pk, _ in found], [key for _, key in found], label[:1024])


async def _ids(engine: AsyncEngine, keys: list[str]) -> list[tuple[int, str]]:
    if not keys:
        return []
    async with engine.connect() as conn:
        stmt = select(Student.id, Student.student_key).where(
            Student.student_key.in_(sorted(set(keys)))
        )
        return sorted((int(pk), str(key)) for pk, key in (await conn.execute(stmt)).all())


async def _by_keys(engine: AsyncEngine, keys: list[str]) -> list[str]:
    wanted = sorted(set(keys))
    async with engine.connect() as conn:
        stmt = select(Student.student_key).where(Student.student_key.in_(wanted))
        found = set((await conn.execute(stmt)).scalars())
    missing = [k for k in wanted if k not in found]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise EmptyAudience(f"no student {missing[0]!r}{more}")
    return wanted


async def _by_team(engine: AsyncEngine, team: str | None) -> list[str]:
    stmt = select(Student.student_key)
    if team is not None:
        stmt = stmt.where(Student.team_name == team)
    async with engine.connect() as conn:
        return list((await conn.execute(stmt)).scalars())


async def _by_hotspot(engine: AsyncEngine, audience: Audience, now: datetime) -> list[str]:
    """The students of the hotspot's error groups (every message of the name, or one)."""
    notebook_id = select(Notebook.id).where(Notebook.path == audience.notebook).scalar_subquery()
    groups = select(ErrorGroup.id).where(
        ErrorGroup.notebook_id == notebook_id,
        ErrorGroup.cell_index == audience.cell_index,
        ErrorGroup.error_name == audience.error_name,
    )
    if audience.error_message is not None:
        groups = groups.where(ErrorGroup.error_message == audience.error_message)
    stmt = (
        select(Student.student_key)
        .join(ErrorStudent, ErrorStudent.student_id == Student.id)
        .where(ErrorStudent.group_id.in_(groups))
        .distinct()
    )
    if audience.hours is not None:
        stmt = stmt.where(ErrorStudent.last_at >= now - timedelta(hours=audience.hours))
    async with engine.connect() as conn:
        return list((await conn.execute(stmt)).scalars())


async def _stuck(engine: AsyncEngine, audience: Audience, thresholds: Thresholds) -> list[str]:
    """Students stuck now (as the dashboard's needs-attention panel says), on the cell if given."""
    states = await live_store.live_states(engine, team=audience.team, notebook=audience.notebook)
    return [
        s.student
        for s in states
        if s.consecutive_errors >= thresholds.stuck_after_errors
        and (audience.cell_index is None or s.last_error_cell_index == audience.cell_index)
    ]


async def _by_cluster(engine: AsyncEngine, audience: Audience) -> list[str]:
    """The cluster's students now: the same query as the Code view's (a cell's, a question's)."""
    assert audience.notebook is not None
    if audience.question is not None:
        clusters = await answer_clusters(
            engine, audience.notebook, audience.question, audience.team
        )
    else:
        assert audience.cell_index is not None
        clusters = await attempt_clusters(
            engine, audience.notebook, audience.cell_index, audience.team
        )
    for cluster in clusters.clusters:
        if cluster.fingerprint == audience.fingerprint:
            return [m.student for m in cluster.members]
    raise EmptyAudience("no such cluster: the attempts changed since the view was loaded")
