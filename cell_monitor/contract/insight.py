"""Read models of code insight: run history with diffs, clusters of attempts, class replay."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from cell_monitor.contract.base import ReadModel

# "missing": a student with a test result who ran no answer cell before the test.
ShapeMethod = Literal["ast", "tokens", "empty", "missing"]


class Run(ReadModel):
    """One run of a cell, and what changed since the run before it."""

    event_id: str
    event_time: datetime
    cell_index: int | None
    cell_id: str | None
    execution_count: int | None
    code: str | None
    outcome: str = Field(description="`ok`, or the error's name (`error` when it has none).")
    error_message: str | None
    duration_ms: float | None
    diff: list[str] | None = Field(
        description="Unified diff lines from the previous run of this cell (None for the first)."
    )


class RunHistory(ReadModel):
    student: str
    notebook: str
    cell_index: int | None
    runs: list[Run] = Field(description="Oldest first.")
    total: int = Field(description="Runs of this cell by this student.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class ClusterMember(ReadModel):
    student: str
    user_name: str | None
    team_name: str | None
    cell_index: int | None = Field(
        description="The cell of this attempt: for a question, the student's answer cell "
        "(None when they ran none before the test)."
    )
    event_time: datetime | None = Field(description="When the attempt ran (None: no answer run).")
    outcome: str = Field(
        description="A cell's attempt: `ok`, or the error's name (`error` when it has none). "
        "A question's answer: its latest test outcome, `test passed`, `test failed`, or "
        "`test failed: ` and the test cell's error name (`test failed: AssertionError`)."
    )
    code: str | None


class AttemptCluster(ReadModel):
    """Students whose latest attempts have the same shape (same code, written differently)."""

    fingerprint: str
    method: ShapeMethod = Field(description="How the shape was taken: AST, or tokens.")
    size: int
    outcome: str = Field(description="The most common outcome of its members.")
    passing: bool = Field(description="That outcome is a success (`ok`, `test passed`).")
    outcomes: dict[str, int] = Field(description="Members per outcome.")
    representative: str | None = Field(description="The most common exact code of the cluster.")
    normalized: str = Field(description="The shape itself (local names as v0, v1, ...).")
    members: list[ClusterMember] = Field(description="Most recent first.")


class ClustersOut(ReadModel):
    """The clusters of a cell's latest attempts, or of the answers to a test question."""

    notebook: str
    cell_index: int | None = Field(
        description="The cell clustered; for a question, the answer cell most of its students "
        "ran (each member names its own; None when nobody ran one)."
    )
    question: str | None = Field(
        None, description="The test question whose answers are clustered (None: a cell's)."
    )
    attempts: int = Field(
        description="Students with at least one run of this cell; for a question, students "
        "with a test result of it."
    )
    clusters: list[AttemptCluster] = Field(
        description="Failing clusters first, then by size: the common wrong attempts lead."
    )


class ReplayStudent(ReadModel):
    student: str
    user_name: str | None
    team_name: str | None


class ReplayFrame(ReadModel):
    """A student's live state from `at` until their next frame."""

    at: datetime
    student: str
    status: Literal["help", "stuck", "error", "active", "idle"]
    idle_at: datetime | None = Field(
        description="When `active` turns `idle` if nothing else happens (active window)."
    )
    notebook: str | None
    cell_index: int | None
    error_name: str | None
    help_since: datetime | None
    consecutive_errors: int


class ReplayCell(ReadModel):
    """A student's cell turned ok or failed at `at` (its latest run)."""

    at: datetime
    student: str
    notebook: str
    cell_index: int
    state: Literal["ok", "failed"]


class ReplayOut(ReadModel):
    """The class between `start` and `end`, rebuilt from stored events: scrub it client-side."""

    start: datetime
    end: datetime
    notebook: str | None = Field(description="Cells of this notebook only (all when None).")
    students: list[ReplayStudent]
    frames: list[ReplayFrame] = Field(description="In time order.")
    cells: list[ReplayCell] = Field(description="In time order.")
    truncated: bool = Field(description="True when the window held more events than replayed.")
