"""Live messages are built only when something can receive them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cell_monitor.broker.memory import MemoryBroker
from cell_monitor.ingest.parse import validate_batch
from cell_monitor.live.service import LiveService
from cell_monitor.storage.engine import create_engine
from tests.support import event, make_settings


async def test_live_messages_only_when_a_dashboard_listens(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'live.sqlite3'}", tmp_path)
    received: list[Sequence[Any] | None] = []

    async def handler(batch: Sequence[Any] | None) -> None:
        received.append(batch)

    broker = MemoryBroker()
    await broker.start(handler)
    engine = create_engine(settings)
    try:
        live = LiveService(settings, engine, broker)
        events = validate_batch([event()], settings).events
        assert not live.listened()
        live.on_events(events)
        live.on_changes([])
        await broker.stop()
        assert received == []  # nobody connected: nothing built, nothing queued

        broker = MemoryBroker()
        await broker.start(handler)
        live = LiveService(settings, engine, broker)
        live.hub.connections.add(object())  # type: ignore[arg-type]  # a dashboard connected
        assert live.listened()
        live.on_events(events)
        await broker.stop()  # delivers what is pending
        assert len(received) == 1 and received[0]
    finally:
        await engine.dispose()
