"""Pass rates per question and each student's outcomes, from test_results.

One row per (student, notebook, question), kept by the writer
(storage/signal_tables.py): what this costs is what it shows.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.contract.signals import (
    FailingOut,
    FailingQuestion,
    FailingStudent,
    QuestionsOut,
    QuestionStat,
    StudentQuestion,
    StudentQuestions,
    TestKind,
)
from cell_monitor.storage.models import Notebook, Student, TestResultRow

TR = TestResultRow


def result_rows(notebook: str | None, team: str | None) -> Any:
    stmt = (
        select(
            *TR.__table__.c,
            Notebook.path.label("notebook"),
            Student.student_key,
            Student.user_name,
            Student.team_name,
        )
        .join(Notebook, Notebook.id == TR.notebook_id)
        .join(Student, Student.id == TR.student_id)
    )
    if notebook is not None:
        stmt = stmt.where(Notebook.path == notebook)
    if team is not None:
        stmt = stmt.where(Student.team_name == team)
    return stmt


def student_question(r: Any) -> StudentQuestion:
    return StudentQuestion(
        notebook=r.notebook,
        question=r.question,
        passed=r.passed,
        attempts=r.attempts,
        cell_index=r.cell_index,
        points=r.points,
        last_at=r.last_at,
        first_passed_at=r.first_passed_at,
        error_name=r.error_name,
    )


async def questions(engine: AsyncEngine, notebook: str | None, team: str | None) -> QuestionsOut:
    """Per question: who attempted, passes now, passed once; per student: outcomes."""
    async with engine.connect() as conn:
        rows = (await conn.execute(result_rows(notebook, team))).all()
    stats: dict[tuple[str, str], dict[str, Any]] = {}
    people: dict[str, StudentQuestions] = {}
    for r in sorted(rows, key=lambda r: (r.student_key, r.notebook, r.cell_index or 0)):
        key = (r.notebook, r.question)
        stat = stats.setdefault(
            key, {"attempted": 0, "passed": 0, "ever": 0, "kind": r.kind, "points": None}
        )
        stat["attempted"] += 1
        stat["passed"] += r.passed
        stat["ever"] += r.first_passed_at is not None
        stat["cell"] = r.cell_index if stat.get("cell") is None else stat["cell"]
        stat["points"] = r.max_points if r.max_points is not None else stat["points"]
        who = people.get(r.student_key)
        if who is None:
            who = people[r.student_key] = StudentQuestions(
                student=r.student_key,
                user_name=r.user_name,
                team_name=r.team_name,
                passed=0,
                questions=[],
            )
        who.questions.append(student_question(r))
        who.passed += r.passed
    items = [_stat(notebook_path, question, s) for (notebook_path, question), s in stats.items()]
    items.sort(key=lambda q: (q.notebook, q.cell_index is None, q.cell_index or 0, q.question))
    return QuestionsOut(notebook=notebook, questions=items, students=list(people.values()))


def _stat(notebook: str, question: str, s: dict[str, Any]) -> QuestionStat:
    attempted = s["attempted"]
    return QuestionStat(
        notebook=notebook,
        question=question,
        kind=TestKind(s["kind"]) if s["kind"] in TestKind.__members__ else TestKind.tag,
        cell_index=s.get("cell"),
        max_points=s["points"],
        attempted=attempted,
        passed=s["passed"],
        failed=attempted - s["passed"],
        ever_passed=s["ever"],
        pass_rate=s["passed"] / attempted if attempted else 0.0,
    )


async def failing(
    engine: AsyncEngine, notebook: str | None, limit: int, per_question: int = 100
) -> FailingOut:
    """Questions some students currently fail, most failing first, with those students."""
    stmt = result_rows(notebook, None).where(TR.passed.is_(False))
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(r.notebook, r.question)].append(r)
    ranked = sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))[:limit]
    items = []
    for (path, question), who in ranked:
        who.sort(key=lambda r: r.last_at, reverse=True)
        items.append(
            FailingQuestion(
                notebook=path,
                question=question,
                cell_index=who[0].cell_index,
                failing=len(who),
                students=[
                    FailingStudent(
                        student=r.student_key,
                        user_name=r.user_name,
                        team_name=r.team_name,
                        error_name=r.error_name,
                        last_at=r.last_at,
                    )
                    for r in who[:per_question]
                ],
            )
        )
    return FailingOut(notebook=notebook, items=items)
