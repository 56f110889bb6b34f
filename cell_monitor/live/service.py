"""Wires live state together: commits → broker → every worker's dashboards.

After each group commit the committer hands over the new events and the
students' state changes; they become messages published on the broker. Every
worker (this one included) receives them and fans them out to its dashboards.
Students turning idle, quiet or away are found by a periodic sweep, as no
event marks it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.broker.base import Broker
from cell_monitor.config import Settings
from cell_monitor.contract.live import Snapshot, WireMessage, to_wire
from cell_monitor.domain.live_status import (
    LiveState,
    dismiss_help,
    handle_stuck,
    thresholds_of,
)
from cell_monitor.domain.records import NewEvent
from cell_monitor.live import messages
from cell_monitor.live.hub import Hub
from cell_monitor.storage import live_store

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class LiveService:
    def __init__(self, settings: Settings, engine: AsyncEngine, broker: Broker) -> None:
        self.settings = settings
        self.engine = engine
        self.broker = broker
        self.thresholds = thresholds_of(settings)
        self.hub = Hub(
            self.snapshot,
            queue_size=settings.ws_queue_messages,
            heartbeat_seconds=settings.ws_heartbeat_seconds,
            send_timeout=settings.ws_send_timeout_seconds,
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._removal_listeners: list[Callable[[str], None]] = []
        self._action_listeners: list[Callable[[Sequence[tuple[LiveState, LiveState]]], None]] = []

    def add_action_listener(
        self, listener: Callable[[Sequence[tuple[LiveState, LiveState]]], None]
    ) -> None:
        """Called with (before, after) of each instructor action, once it is committed."""
        self._action_listeners.append(listener)

    def add_removal_listener(self, listener: Callable[[str], None]) -> None:
        """Called with the key of every erased student (e.g. the InfluxDB sink)."""
        self._removal_listeners.append(listener)

    async def start(self) -> None:
        await self.broker.start(self._dispatch)
        self._sweeper = asyncio.create_task(self._sweep_idle(), name="cell-monitor-idle-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.broker.stop()
        await self.hub.close_all()

    async def _dispatch(self, batch: Sequence[WireMessage] | None) -> None:
        # An erasure (`cell-monitor student delete`) reaches every worker here;
        # dashboards get the message too and drop the student's tile.
        for message in batch or ():
            if message.get("type") == "student_removed":
                for listener in self._removal_listeners:
                    listener(str(message.get("studentId")))
        await self.hub.dispatch(batch)

    def listened(self) -> bool:
        """Whether live messages can reach anyone: with the in-process broker only this
        worker's dashboards receive them; through Redis, other workers' may.

        Nobody connected means nothing to build: a dashboard that connects later starts
        from a snapshot read from the database, which holds every committed event.
        """
        return not self.broker.local_only or bool(self.hub.connections)

    # Commit listeners: called in the commit task, so they only build and queue.
    def on_events(self, events: Sequence[NewEvent]) -> None:
        if self.listened():
            self.broker.publish(to_wire(messages.event_messages(events)))

    def on_changes(self, changes: Sequence[tuple[LiveState | None, LiveState]]) -> None:
        if not self.listened():
            return
        now = _now()
        out: list[messages.LiveMessage] = []
        for before, after in changes:
            out.extend(messages.change_messages(before, after, now, self.thresholds))
        self.broker.publish(to_wire(out))

    async def snapshot(self, team: str | None = None, notebook: str | None = None) -> Snapshot:
        states = await live_store.live_states(self.engine, team=team, notebook=notebook)
        return messages.snapshot(states, _now(), self.thresholds)

    async def dismiss_help(self, student: str, actor: str | None = None) -> LiveState:
        """Close a student's help request and tell every dashboard (and the student)."""
        return await self.act(student, "dismiss_help", lambda s: dismiss_help(s, _now()), actor)

    async def handle_stuck(self, student: str, actor: str | None = None) -> LiveState:
        """Mark a stuck student as dealt with and tell every dashboard."""
        return await self.act(student, "handle_stuck", handle_stuck, actor)

    async def act(
        self,
        student: str,
        action: str,
        change: Callable[[LiveState], LiveState],
        actor: str | None,
    ) -> LiveState:
        now = _now()
        before, after = await live_store.apply_action(
            self.engine, student, action, change, actor=actor, at=now
        )
        changes = messages.change_messages(before, after, now, self.thresholds, by="instructor")
        self.broker.publish(to_wire(changes))
        for listener in self._action_listeners:
            listener([(before, after)])
        return after

    async def _sweep_idle(self) -> None:
        # Statuses that change with time alone: active → idle, → quiet, → away
        # (and quiet ending when the student stops reporting).
        last = _now()
        while True:
            await asyncio.sleep(self.settings.live_sweep_seconds)
            now = _now()
            try:
                states = await live_store.aged(self.engine, last, now, self.thresholds)
            except Exception as exc:
                log.warning("Idle sweep failed: %s", exc)
                continue
            out: list[messages.LiveMessage] = []
            for state in states:
                was_quiet = state.is_quiet(last, self.thresholds)
                out.extend(messages.aged_messages(state, was_quiet, now, self.thresholds))
            last = now
            if out:
                self.hub.local(to_wire(out))
