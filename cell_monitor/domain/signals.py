"""Test results and engagement as the store records them (pure data, no I/O).

What a test cell's run says per question, and what an engagement report says
per cell (contract/signals.py is their wire form; ingest/parse.py converts).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TestResult:
    """One question's outcome in one run of a test cell."""

    __test__ = False  # not a pytest class

    question: str
    passed: bool
    kind: str
    points: float | None = None
    max_points: float | None = None


@dataclass(frozen=True, slots=True)
class CellActivity:
    """A cell's edits and active time since the previous report."""

    cell_id: str | None
    cell_index: int | None
    edits: int
    active_ms: float
