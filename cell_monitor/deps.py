"""FastAPI dependencies every feature's routes may declare: the database engine and settings.

The lifespan (server/app.py) keeps what it builds on `app.state.cell_monitor`; a feature
reads only the part it needs through `app_part`, so no feature imports the server's wiring.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from cell_monitor.config import Settings


def app_part(connection: HTTPConnection, name: str) -> Any:
    """One part (engine, settings, pipeline, live, ...) of what the lifespan built."""
    return getattr(connection.app.state.cell_monitor, name)


async def get_engine(connection: HTTPConnection) -> AsyncEngine:
    engine: AsyncEngine = app_part(connection, "engine")
    return engine


async def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = app_part(connection, "settings")
    return settings


EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
