"""The lifespan: every part it starts is stopped, in reverse order, also when a start fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.accounts.ingest_tokens import TokenCache
from cell_monitor.config import Settings
from cell_monitor.ingest.pipeline import Pipeline
from cell_monitor.live.service import LiveService
from cell_monitor.server.app import create_app
from cell_monitor.storage.maintenance import Maintenance

# Start order: engine, ingest tokens, live (broker), pipeline, maintenance.
PARTS: tuple[type[Any], ...] = (AsyncEngine, TokenCache, LiveService, Pipeline, Maintenance)
BACKGROUND_TASKS = {
    "ingest-token-refresh",
    "cell-monitor-broker",
    "cell-monitor-idle-sweep",
    "cell-monitor-group-commit-0",
    "cell-monitor-maintenance",
}


def record_stops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which parts stop, in which order; each real stop still runs."""
    stopped: list[str] = []
    for part in PARTS:
        name = "dispose" if part is AsyncEngine else "stop"
        original = getattr(part, name)

        async def stop(self: Any, *args: Any, _original: Any = original, _part: Any = part) -> Any:
            stopped.append(_part.__name__)
            return await _original(self, *args)

        monkeypatch.setattr(part, name, stop)
    return stopped


def running_tasks() -> set[str]:
    current = asyncio.current_task()
    return {t.get_name() for t in asyncio.all_tasks() if t is not current and not t.done()}


async def test_parts_stop_in_reverse_order_of_their_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped = record_stops(monkeypatch)
    before = running_tasks()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert running_tasks() - before >= BACKGROUND_TASKS
        assert stopped == []
    assert stopped == ["Maintenance", "Pipeline", "LiveService", "TokenCache", "AsyncEngine"]
    assert running_tasks() - before == set()


async def test_a_start_that_fails_midway_stops_what_had_started(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline's start is made to fail (no real part fails on demand); the rest is real."""
    stopped = record_stops(monkeypatch)

    def fail(self: Pipeline) -> None:
        raise RuntimeError("the pipeline could not start")

    monkeypatch.setattr(Pipeline, "start", fail)
    before = running_tasks()
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="could not start"):
        async with app.router.lifespan_context(app):
            pytest.fail("the server must not serve when a part did not start")
    assert stopped == ["LiveService", "TokenCache", "AsyncEngine"]
    assert running_tasks() - before == set()
