"""The ingest pipeline: validate → group commit → (after commit) listeners.

Listeners (live state, broker, time-series sinks) see only events that were
committed, and only once: duplicates never reach them.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor import metrics
from cell_monitor.accounts.identity import OVERWRITTEN, BoundIdentity, bind_all
from cell_monitor.config import Settings
from cell_monitor.contract.events import IngestResponse, RejectedEvent
from cell_monitor.domain.records import WriteOutcome
from cell_monitor.ingest.committer import (
    CommitListener,
    Failed,
    GroupCommitter,
    StateListener,
)
from cell_monitor.ingest.parse import UnusableBody, parse_body, validate_batch
from cell_monitor.privacy.pseudonyms import is_pseudonym, stored_key


# Looking up a labelled child costs more than incrementing it; the label sets
# are small and fixed (known event types and "other", "ok" and "error").
@functools.cache
def _stored_events(event_type_label: str) -> Any:
    return metrics.EVENTS.labels(event_type_label)


@functools.cache
def _stored_executions(outcome_label: str) -> Any:
    return metrics.CELL_EXECUTIONS.labels(outcome_label)


class TooManyEvents(ValueError):
    """More events in one request than `max_events_per_request` (413)."""


@dataclass
class IngestResult:
    status_code: int
    body: IngestResponse


class Pipeline:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.committer = GroupCommitter(
            engine,
            max_group_events=settings.commit_max_events,
            max_queued_events=settings.commit_queue_events,
            # SQLite takes one writer at a time: a second lane would only wait on it.
            concurrency=settings.commit_concurrency if engine.dialect.name == "postgresql" else 1,
            lane_events=settings.commit_lane_events,
        )

    def add_listener(self, listener: CommitListener) -> None:
        """Call `listener` with each commit's newly stored events (must not block)."""
        self.committer.add_listener(listener)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call `listener` with each commit's live-state changes (must not block)."""
        self.committer.add_state_listener(listener)

    def start(self) -> None:
        self.committer.start()

    async def stop(self) -> None:
        await self.committer.stop()

    def _stored_form(self, identity: BoundIdentity) -> Callable[[str], str] | None:
        """How a claimed identity compares with a credential's pseudonym (else as it is)."""
        if not (self.settings.pseudonymize and is_pseudonym(identity.student)):
            return None
        settings = self.settings
        return lambda claimed: stored_key(settings, claimed)

    async def ingest(self, body: bytes, identity: BoundIdentity | None = None) -> IngestResult:
        """Store the events of one request body; raises UnusableBody or TooManyEvents.

        With an `identity` (bound by the request's credential) every event is
        stored under it, whatever its body says.
        """
        posted = parse_body(body)
        items = posted.items
        if len(items) > self.settings.max_events_per_request:
            raise TooManyEvents(
                f"{len(items)} events in one request; the limit is "
                f"{self.settings.max_events_per_request} (CELL_MONITOR_MAX_EVENTS_PER_REQUEST)"
            )
        if not items:
            raise UnusableBody("the body holds no events")
        if identity is not None:
            items, mismatches = bind_all(items, identity, self._stored_form(identity))
            if mismatches:
                metrics.INGEST_IDENTITY_MISMATCH.labels(OVERWRITTEN).inc(mismatches)
        batch = validate_batch(
            items, self.settings, lenient=posted.lenient, too_deep=posted.too_deep
        )
        rejected = list(batch.rejected)
        accepted = duplicates = truncated = clock_adjusted = 0
        by_type: Counter[str] = Counter()
        outcomes_by_label: Counter[str] = Counter()
        if batch.events:
            outcomes = await self.committer.submit(batch.events)
            for index, event, outcome in zip(batch.indexes, batch.events, outcomes, strict=True):
                if outcome == WriteOutcome.inserted:
                    accepted += 1
                    truncated += event.truncated
                    clock_adjusted += event.clock_adjusted
                    by_type[event.event_type] += 1
                    if event.is_execution:
                        outcomes_by_label["error" if event.has_error else "ok"] += 1
                elif isinstance(outcome, Failed):
                    rejected.append(
                        RejectedEvent(index=index, event_id=event.event_id, errors=[outcome.reason])
                    )
                else:
                    duplicates += 1
        rejected.sort(key=lambda r: r.index)
        # One increment per label and request, not per event; none of nothing.
        for event_type, count in by_type.items():
            _stored_events(metrics.event_type_label(event_type)).inc(count)
        for outcome_label, count in outcomes_by_label.items():
            _stored_executions(outcome_label).inc(count)
        if duplicates:
            metrics.DUPLICATES.inc(duplicates)
        if truncated:
            metrics.TRUNCATED.inc(truncated)
        if clock_adjusted:
            metrics.CLOCK_ADJUSTED.inc(clock_adjusted)
        if rejected:
            metrics.REJECTED.inc(len(rejected))
            metrics.ERRORS.labels(metrics.ErrorType.invalid_events).inc()
        response = IngestResponse(
            accepted=accepted,
            duplicates=duplicates,
            truncated=truncated,
            clock_adjusted=clock_adjusted,
            rejected=rejected,
        )
        usable = accepted + duplicates > 0
        return IngestResult(202 if usable else 422, response)


__all__ = ["IngestResult", "Pipeline", "TooManyEvents", "UnusableBody"]
