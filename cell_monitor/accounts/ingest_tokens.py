"""Per-course ingest tokens: created and revoked by the CLI, checked on every POST.

Only a SHA-256 of each token is stored (a token is 256 random bits, so a plain
hash is enough). The ingest route is hot, so each worker keeps the set of
active hashes in memory and reloads it every `ingest_token_refresh_seconds`: a
revoked token keeps working for at most that long.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import IngestToken

log = logging.getLogger(__name__)
PREFIX = "cmi_"


class Verdict(str, Enum):
    """The outcome of checking a request's token (also the metric's `reason`)."""

    ok = "ok"
    open = "open"  # no token was ever created: ingest is open
    missing = "missing"
    malformed = "malformed"
    invalid = "invalid"
    revoked = "revoked"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    course: str
    created_at: datetime
    revoked_at: datetime | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(engine: AsyncEngine, course: str) -> tuple[int, str]:
    """A new token for `course`: (id, the token, shown this once)."""
    token = PREFIX + secrets.token_urlsafe(32)
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(
            insert(IngestToken).values(
                token_hash=digest(token), course=course, created_at=datetime.now(timezone.utc)
            )
        )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0]), token


async def revoke_token(engine: AsyncEngine, token_id: int) -> bool:
    """Revoke by id; False when there is no such active token."""
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(
            update(IngestToken)
            .where(IngestToken.id == token_id, IngestToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(timezone.utc))
        )
    return bool(result.rowcount)


async def delete_revoked(engine: AsyncEngine, token_ids: list[int] | None = None) -> list[int]:
    """Forget revoked tokens (all, or those of `token_ids`); the ids deleted.

    Active tokens are never deleted here (revoke them first). Once no token is
    left at all, ingest is open again (see TokenCache.required).
    """
    statement = delete(IngestToken).where(IngestToken.revoked_at.is_not(None))
    if token_ids is not None:
        statement = statement.where(IngestToken.id.in_(token_ids))
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(statement.returning(IngestToken.id))
        return sorted(int(row.id) for row in result)


def describe_state(tokens: list[TokenInfo]) -> str:
    """What ingest accepts with these tokens, in one sentence for the operator."""
    active = sum(1 for info in tokens if info.revoked_at is None)
    if not tokens:
        return "Ingest is open: POST /api/v1/events accepts events without a token."
    if active:
        return f"Tokens required: {active} active token{'s' if active != 1 else ''}."
    return (
        "Ingest is closed: tokens are required and none is active, so every event is "
        "refused. Create a token, or reopen ingest with `cell-monitor token delete --revoked`."
    )


async def list_tokens(engine: AsyncEngine) -> list[TokenInfo]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                IngestToken.id, IngestToken.course, IngestToken.created_at, IngestToken.revoked_at
            ).order_by(IngestToken.id)
        )
        return [TokenInfo(r.id, r.course, r.created_at, r.revoked_at) for r in rows]


class TokenCache:
    """The worker's copy of the token table, refreshed by a task of the lifespan."""

    def __init__(self, engine: AsyncEngine, refresh_seconds: float) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.active: dict[str, str] = {}  # hash -> course
        self.revoked: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def required(self) -> bool:
        """Tokens are checked once any token exists (revoked ones included)."""
        return bool(self.active or self.revoked)

    async def load(self) -> None:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(IngestToken.token_hash, IngestToken.course, IngestToken.revoked_at)
                )
            ).all()
        self.active = {r.token_hash: r.course for r in rows if r.revoked_at is None}
        self.revoked = {r.token_hash for r in rows if r.revoked_at is not None}

    async def start(self) -> None:
        await self.load()
        self._task = asyncio.create_task(self._refresh(), name="ingest-token-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.load()
            except Exception as exc:
                # Keep the last known set: a database hiccup must not open ingest.
                log.warning("Could not reload ingest tokens: %s", type(exc).__name__)

    def check(self, authorization: str | None) -> tuple[Verdict, str | None]:
        """(verdict, the token's digest when one was presented) for an Authorization header."""
        if not self.required:
            return Verdict.open, None
        if not authorization:
            return Verdict.missing, None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 256:
            return Verdict.malformed, None
        hashed = digest(token)
        if hashed in self.active:
            return Verdict.ok, hashed
        if hashed in self.revoked:
            return Verdict.revoked, None
        return Verdict.invalid, None
