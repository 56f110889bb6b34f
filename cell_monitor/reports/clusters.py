"""Clusters of attempts: every student's latest run of a cell, grouped by its shape.

A TA sees the variants at a glance: how many students wrote the same thing, which of
those attempts fail and how, and who wrote them. Shapes come from
domain/code_shapes.py (cached per distinct code, so a view does not re-parse a class).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.contract.insight import AttemptCluster, ClusterMember, ClustersOut
from cell_monitor.domain.code_shapes import Shape, shape_of
from cell_monitor.reports.history import outcome_of
from cell_monitor.storage.models import CellExecution, Notebook, Student

CE = CellExecution


async def attempt_clusters(
    engine: AsyncEngine, notebook: str, cell_index: int, team: str | None = None
) -> ClustersOut:
    """Each student's latest attempt at cell `cell_index` of `notebook`, clustered."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_latest_attempts(notebook, cell_index, team))).all()
    groups: dict[str, _Group] = {}
    for r in rows:
        shape = shape_of(r.code)
        group = groups.setdefault(shape.fingerprint, _Group(shape))
        group.members.append(
            ClusterMember(
                student=r.student_key,
                user_name=r.user_name,
                team_name=r.team_name,
                event_time=r.event_time,
                outcome=outcome_of(r.has_error, r.error_name),
                code=r.code,
            )
        )
    clusters = sorted((g.cluster() for g in groups.values()), key=_wrong_and_common_first)
    return ClustersOut(
        notebook=notebook, cell_index=cell_index, attempts=len(rows), clusters=clusters
    )


@dataclass
class _Group:
    shape: Shape
    members: list[ClusterMember] = field(default_factory=list)

    def cluster(self) -> AttemptCluster:
        outcomes = Counter(m.outcome for m in self.members)
        codes = Counter(m.code for m in self.members)
        self.members.sort(key=lambda m: m.event_time, reverse=True)
        return AttemptCluster(
            fingerprint=self.shape.fingerprint,
            method=self.shape.method,
            size=len(self.members),
            outcome=_most_common(outcomes),
            outcomes=dict(outcomes.most_common()),
            representative=_most_common(codes),
            normalized=self.shape.text,
            members=self.members,
        )


def _most_common(counts: Counter[Any]) -> Any:
    # Ties go to the smallest value, so the answer does not depend on row order.
    best = max(counts.values())
    return min((value for value, n in counts.items() if n == best), key=lambda v: str(v))


def _wrong_and_common_first(cluster: AttemptCluster) -> tuple[bool, int, str]:
    return (cluster.outcome == "ok", -cluster.size, cluster.fingerprint)


def _latest_attempts(notebook: str, cell_index: int, team: str | None) -> Any:
    """One row per student: their latest run of the cell (by time, then by id)."""
    notebook_id = select(Notebook.id).where(Notebook.path == notebook).scalar_subquery()
    rank = (
        func.row_number()
        .over(partition_by=CE.student_id, order_by=(CE.event_time.desc(), CE.id.desc()))
        .label("rank")
    )
    runs = select(CE.student_id, CE.event_time, CE.code, CE.has_error, CE.error_name, rank).where(
        CE.notebook_id == notebook_id, CE.cell_index == cell_index
    )
    if team is not None:
        runs = runs.where(CE.student_id.in_(select(Student.id).where(Student.team_name == team)))
    latest = runs.subquery()
    return (
        select(
            Student.student_key,
            Student.user_name,
            Student.team_name,
            latest.c.event_time,
            latest.c.code,
            latest.c.has_error,
            latest.c.error_name,
        )
        .join(Student, Student.id == latest.c.student_id)
        .where(latest.c.rank == 1)
    )
