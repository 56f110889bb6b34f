"""The server's own dependency: everything the lifespan built (features use cell_monitor.deps)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cell_monitor.server.state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.cell_monitor
    return state


StateDep = Annotated[AppState, Depends(get_state)]
