"""Test results and engagement: what students' JupyterLabs send about them, and the reads.

On the ingest wire both are optional fields of EventIn (events.py), so older
clients and the public reference extension are unaffected:

- a `cell_executed` event of a test cell carries `tests`, one outcome per
  question (an nbgrader grade cell, an otter `grader.check`, a tagged cell);
- an `engagement` event says whether the notebook is visible and the student
  idle, and per cell how many edits and how much active time there were since
  the previous report (counts and durations only: never keystrokes or text).
  A `cell_executed` event can carry its own cell's `edits` and `activeMs`.
"""

from __future__ import annotations

from enum import Enum

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cell_monitor.contract.base import ReadModel, Timestamp

# One report covers at most this much active time of a cell: more is a client bug.
MAX_ACTIVE_MS = 60 * 60 * 1000
MAX_EDITS = 100_000


class _In(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        extra="ignore",
        str_strip_whitespace=True,
    )


class TestKind(str, Enum):
    """How the extension recognised the test."""

    nbgrader = "nbgrader"
    otter = "otter"
    tag = "tag"


class TestOutcome(_In):
    """One question's outcome in a test cell's run."""

    __test__ = False  # not a pytest class

    question: str = Field(..., min_length=1, max_length=256, description="grade_id, otter name…")
    passed: bool
    kind: TestKind = TestKind.tag
    points: float | None = Field(None, ge=0, le=1e6, description="Points earned, when known.")
    max_points: float | None = Field(None, ge=0, le=1e6, description="Points possible.")


class CellActivity(_In):
    """A cell's activity since the previous report: counts and durations only."""

    cell_id: str | None = Field(None, max_length=512)
    cell_index: int | None = Field(None, ge=0, le=1_000_000)
    edits: int = Field(0, ge=0, le=MAX_EDITS, description="Content changes (not their text).")
    active_ms: float = Field(
        0, ge=0, le=MAX_ACTIVE_MS, description="Time the cell was active, visible, not idle."
    )


# --- Reads -------------------------------------------------------------------


class QuestionStat(ReadModel):
    """One question of a notebook across the class."""

    notebook: str
    question: str
    kind: TestKind
    cell_index: int | None = Field(description="Where the test cell was last run.")
    max_points: float | None
    attempted: int = Field(description="Students who ran the test at least once.")
    passed: int = Field(description="Students whose latest outcome is a pass.")
    failed: int = Field(description="Students whose latest outcome is a failure.")
    ever_passed: int = Field(description="Students who passed it at least once.")
    pass_rate: float = Field(description="passed / attempted (0 when nobody attempted).")


class StudentQuestion(ReadModel):
    """A student's latest outcome of one question."""

    notebook: str
    question: str
    passed: bool
    attempts: int
    cell_index: int | None
    points: float | None
    last_at: Timestamp
    first_passed_at: Timestamp | None
    error_name: str | None = Field(description="The error of the latest failing run.")


class StudentQuestions(ReadModel):
    student: str
    user_name: str | None
    team_name: str | None
    passed: int
    questions: list[StudentQuestion]


class QuestionsOut(ReadModel):
    """GET /api/v1/questions: per question pass rates, per student outcomes."""

    notebook: str | None = Field(description="The notebook asked for; null: every notebook.")
    questions: list[QuestionStat] = Field(description="By notebook, in cell order.")
    students: list[StudentQuestions]


class FailingStudent(ReadModel):
    student: str
    user_name: str | None
    team_name: str | None
    error_name: str | None
    last_at: Timestamp


class FailingQuestion(ReadModel):
    """A question whose test some students currently fail, with who."""

    notebook: str
    question: str
    cell_index: int | None
    failing: int
    students: list[FailingStudent]


class FailingOut(ReadModel):
    notebook: str | None
    items: list[FailingQuestion] = Field(description="Most failing students first.")


class CellTime(ReadModel):
    """A student's time on one cell."""

    cell_index: int
    active_seconds: float = Field(description="Active (visible and not idle) on the cell.")
    edits: int
    runs: int
    first_at: Timestamp | None = Field(description="First activity or run on the cell.")
    first_passed_at: Timestamp | None = Field(description="First passing test run, if a test.")
    seconds_to_pass: float | None = Field(description="first_passed_at minus first_at.")


class StudentTime(ReadModel):
    student: str
    user_name: str | None
    team_name: str | None
    active_seconds: float
    cells: list[CellTime]


class ClassCellTime(ReadModel):
    """One cell across the class: where it slows down."""

    cell_index: int
    students: int = Field(description="Students with time on the cell.")
    median_seconds: float
    p90_seconds: float
    median_seconds_to_pass: float | None
    slow: bool = Field(description="Its median is well above the notebook's typical cell.")


class TimeOnTaskOut(ReadModel):
    """GET /api/v1/time-on-task: per cell for the class, per student and cell."""

    notebook: str
    cells: list[ClassCellTime]
    students: list[StudentTime]


class NotebookSignals(ReadModel):
    notebook: str
    active_seconds: float
    questions: list[StudentQuestion]
    cells: list[CellTime]


class StudentSignals(ReadModel):
    """GET /api/v1/student-signals: one student's outcomes and time, per notebook."""

    student: str
    notebooks: list[NotebookSignals]
