"""Messages of the live feed (WS /ws/dashboard and the broker between workers)."""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]


def student_removed(student: str) -> Message:
    """The student was erased: dashboards drop their tile and alerts."""
    return {"type": "student_removed", "studentId": student}
