"""Who is signed in: the dashboard shows it next to its sign-out button."""

from __future__ import annotations

from fastapi import APIRouter

from cell_monitor.dashboard_schemas import AccountOut
from cell_monitor.server.guard import InstructorDep

router = APIRouter(prefix="/api/v1", tags=["dashboard"])


@router.get("/me", response_model=AccountOut)
async def me(instructor: InstructorDep) -> AccountOut:
    """The signed-in instructor's account."""
    return AccountOut(username=instructor.username, role=str(instructor.role.value))
