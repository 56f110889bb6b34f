"""FastAPI dependencies, as Annotated aliases the routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.config import Settings
from cell_monitor.live.service import LiveService
from cell_monitor.server.pipeline import Pipeline
from cell_monitor.server.state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.cell_monitor
    return state


async def get_engine(state: Annotated[AppState, Depends(get_state)]) -> AsyncEngine:
    return state.engine


async def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


async def get_pipeline(state: Annotated[AppState, Depends(get_state)]) -> Pipeline:
    return state.pipeline


async def get_live(state: Annotated[AppState, Depends(get_state)]) -> LiveService:
    return state.live


StateDep = Annotated[AppState, Depends(get_state)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
LiveDep = Annotated[LiveService, Depends(get_live)]
