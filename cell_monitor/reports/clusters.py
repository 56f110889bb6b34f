"""Clusters of attempts: every student's latest run of a cell, grouped by its shape.

A TA sees the variants at a glance: how many students wrote the same thing, which of
those attempts fail and how, and who wrote them. Shapes come from
domain/code_shapes.py (cached per distinct code, so a view does not re-parse a class).

For a test question the test cell itself is the instructor's code (`grader.check("q1")`),
so its runs say nothing: each student's answer is clustered instead, labelled with their
latest test outcome (see `_answers` for which run is the answer).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from cell_monitor.contract.insight import AttemptCluster, ClusterMember, ClustersOut, ShapeMethod
from cell_monitor.domain.code_shapes import shape_of
from cell_monitor.domain.records import RENDERED_CELL_TYPES
from cell_monitor.reports.history import outcome_of
from cell_monitor.storage.models import CellExecution, Notebook, Student, TestResultRow

CE = CellExecution
TR = TestResultRow

PASSING = frozenset({"ok", "test passed"})
# The students with a test result but no answer run: one cluster of their own.
MISSING_FINGERPRINT = "missing"


async def attempt_clusters(
    engine: AsyncEngine, notebook: str, cell_index: int, team: str | None = None
) -> ClustersOut:
    """Each student's latest attempt at cell `cell_index` of `notebook`, clustered."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_latest_attempts(notebook, cell_index, team))).all()
    members = [
        ClusterMember(
            student=r.student_key,
            user_name=r.user_name,
            team_name=r.team_name,
            cell_index=cell_index,
            event_time=r.event_time,
            outcome=outcome_of(r.has_error, r.error_name),
            code=r.code,
        )
        for r in rows
    ]
    return ClustersOut(
        notebook=notebook, cell_index=cell_index, attempts=len(rows), clusters=_clusters(members)
    )


async def answer_clusters(
    engine: AsyncEngine, notebook: str, question: str, team: str | None = None
) -> ClustersOut:
    """Each student's answer to test `question` of `notebook`, clustered, with its outcome."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_tested(notebook, question, team))).all()
        test_cells = [r.test_cell for r in rows if r.test_cell is not None]
        found = {}
        if test_cells:
            stmt = _answers(notebook, question, team, below=max(test_cells))
            found = {r.student_id: r for r in await conn.execute(stmt)}
    members = []
    for r in rows:
        # A result committed between the two reads shows with no answer until the next view.
        answer = found.get(r.student_id)
        members.append(
            ClusterMember(
                student=r.student_key,
                user_name=r.user_name,
                team_name=r.team_name,
                cell_index=answer.cell_index if answer else None,
                event_time=answer.event_time if answer else None,
                outcome=outcome_of_test(r),
                code=answer.code if answer else None,
            )
        )
    cells = Counter(m.cell_index for m in members if m.cell_index is not None)
    return ClustersOut(
        notebook=notebook,
        cell_index=_most_common(cells) if cells else None,
        question=question,
        attempts=len(rows),
        clusters=_clusters(members),
    )


def outcome_of_test(row: Any) -> str:
    """`test passed`, `test failed`, or `test failed: AssertionError` (the test cell's error)."""
    if row.passed:
        return "test passed"
    return f"test failed: {row.test_error}" if row.test_error else "test failed"


def _clusters(members: list[ClusterMember]) -> list[AttemptCluster]:
    groups: dict[str, _Group] = {}
    for member in members:
        method: ShapeMethod
        if member.event_time is None:
            key, method, text = MISSING_FINGERPRINT, "missing", ""
        else:
            shape = shape_of(member.code)
            key, method, text = shape.fingerprint, shape.method, shape.text
        groups.setdefault(key, _Group(key, method, text)).members.append(member)
    return sorted((g.cluster() for g in groups.values()), key=_wrong_and_common_first)


_RENDERED = sorted(RENDERED_CELL_TYPES)
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


@dataclass
class _Group:
    fingerprint: str
    method: ShapeMethod
    text: str
    members: list[ClusterMember] = field(default_factory=list)

    def cluster(self) -> AttemptCluster:
        outcomes = Counter(m.outcome for m in self.members)
        codes = Counter(m.code for m in self.members)
        self.members.sort(key=lambda m: m.event_time or _NEVER, reverse=True)
        outcome = _most_common(outcomes)
        return AttemptCluster(
            fingerprint=self.fingerprint,
            method=self.method,
            size=len(self.members),
            outcome=outcome,
            passing=outcome in PASSING,
            outcomes=dict(outcomes.most_common()),
            representative=_most_common(codes),
            normalized=self.text,
            members=self.members,
        )


def _most_common(counts: Counter[Any]) -> Any:
    # Ties go to the smallest value, so the answer does not depend on row order.
    best = max(counts.values())
    return min((value for value, n in counts.items() if n == best), key=lambda v: str(v))


def _wrong_and_common_first(cluster: AttemptCluster) -> tuple[bool, int, str]:
    return (cluster.passing, -cluster.size, cluster.fingerprint)


def _notebook_id(notebook: str) -> Any:
    return select(Notebook.id).where(Notebook.path == notebook).scalar_subquery()


def _of_team(team: str) -> Any:
    return select(Student.id).where(Student.team_name == team)


def _latest_attempts(notebook: str, cell_index: int, team: str | None) -> Any:
    """One row per student: their latest run of the cell (by time, then by id)."""
    rank = (
        func.row_number()
        .over(partition_by=CE.student_id, order_by=(CE.event_time.desc(), CE.id.desc()))
        .label("rank")
    )
    runs = select(CE.student_id, CE.event_time, CE.code, CE.has_error, CE.error_name, rank).where(
        CE.notebook_id == _notebook_id(notebook), CE.cell_index == cell_index
    )
    if team is not None:
        runs = runs.where(CE.student_id.in_(_of_team(team)))
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


def _results(notebook: str, question: str, team: str | None) -> Any:
    stmt = select(
        TR.student_id,
        TR.cell_index.label("test_cell"),
        TR.last_at,
        TR.passed,
        TR.error_name.label("test_error"),
    ).where(TR.notebook_id == _notebook_id(notebook), TR.question == question)
    if team is not None:
        stmt = stmt.where(TR.student_id.in_(_of_team(team)))
    return stmt


def _tested(notebook: str, question: str, team: str | None) -> Any:
    """One row per student with a test result of `question`: who, and that result."""
    results = _results(notebook, question, team).subquery()
    return select(results, Student.student_key, Student.user_name, Student.team_name).join(
        Student, Student.id == results.c.student_id
    )


def _answers(notebook: str, question: str, team: str | None, below: int) -> Any:
    """Per student with a test result of `question`, their answer run (when they have one).

    The answer is the student's latest run, at or before their latest run of the test
    (test_results.last_at), of the nearest code cell above the test cell (the greatest
    cell_index below test_results.cell_index) that is not a test cell. A test cell is,
    per student, a cell where one of their test results of the notebook (any question)
    was last recorded: test_results is kept from the runs that carried test results, so
    this reads a few rows per student instead of every run's event (a test cell moved
    since, by cells inserted above it, is known at its latest place only). `below` is the
    highest test cell of the question.
    """
    notebook_id = _notebook_id(notebook)

    def result(column: Any) -> Any:
        # The run's student's result, by primary key: no join for the planner to misjudge
        # (PostgreSQL, without statistics yet, looped over the notebook's runs per student).
        return (
            select(column)
            .where(TR.student_id == CE.student_id, TR.notebook_id == notebook_id)
            .where(TR.question == question)
            .scalar_subquery()
        )

    # NOT IN, not NOT EXISTS: PostgreSQL keeps it a per-run index lookup instead of an
    # anti join it could misjudge the same way (no NULLs in the list: NOT IN needs that).
    other = aliased(TR)
    test_cells = select(other.cell_index).where(
        other.student_id == CE.student_id,
        other.notebook_id == notebook_id,
        other.cell_index.is_not(None),
    )
    nearest_latest = (
        func.row_number()
        .over(
            partition_by=CE.student_id,
            order_by=(CE.cell_index.desc(), CE.event_time.desc(), CE.id.desc()),
        )
        .label("rank")
    )
    runs = select(CE.student_id, CE.cell_index, CE.event_time, CE.code, nearest_latest).where(
        CE.notebook_id == notebook_id,
        # A known bound: the (notebook, cell) index scans only the cells above the tests,
        # and PostgreSQL's estimate stays small (an unknown one cost 3x, enough for JIT).
        CE.cell_index < below,
        CE.cell_index < result(TR.cell_index),
        CE.event_time <= result(TR.last_at),
        or_(CE.cell_type.is_(None), func.lower(CE.cell_type).not_in(_RENDERED)),
        CE.cell_index.not_in(test_cells),
    )
    if team is not None:
        runs = runs.where(CE.student_id.in_(_of_team(team)))
    ranked = runs.subquery()
    return select(
        ranked.c.student_id, ranked.c.cell_index, ranked.c.event_time, ranked.c.code
    ).where(ranked.c.rank == 1)
