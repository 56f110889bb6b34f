"""Ingest credentials: created and revoked by the CLI, checked on every POST.

Two kinds: a course token (`cmi_…`, "declared identity": the body says who the
events are about) and a per-student credential (`cms_…`: it names the one
student its events are stored under, whatever the body says).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.accounts.identity import BoundIdentity, student_key
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import IngestToken, StudentCredential

log = logging.getLogger(__name__)
PREFIX = "cmi_"
STUDENT_PREFIX = "cms_"


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


@dataclass(frozen=True)
class CredentialInfo:
    id: int
    student: str
    course: str
    created_at: datetime
    revoked_at: datetime | None
    name: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class RosterEntry:
    """One student of a roster: the identity, and the name and team they are shown under."""

    student: str
    name: str | None = None
    team: str | None = None


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
    """Forget revoked course tokens (all, or those of `token_ids`); the ids deleted.

    Active tokens are never deleted here (revoke them first). With no token ids,
    revoked per-student credentials go too: once nothing is left at all, ingest
    is open again (see TokenCache.required).
    """
    statement = delete(IngestToken).where(IngestToken.revoked_at.is_not(None))
    if token_ids is not None:
        statement = statement.where(IngestToken.id.in_(token_ids))
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(statement.returning(IngestToken.id))
        deleted = sorted(int(row.id) for row in result)
        if token_ids is None:
            await conn.execute(
                delete(StudentCredential).where(StudentCredential.revoked_at.is_not(None))
            )
        return deleted


def describe_state(tokens: Sequence[TokenInfo], credentials: Sequence[CredentialInfo] = ()) -> str:
    """What ingest accepts with these tokens and credentials, in one sentence for the operator."""
    active = sum(1 for info in tokens if info.revoked_at is None)
    students = sum(1 for info in credentials if info.revoked_at is None)
    if not tokens and not credentials:
        return "Ingest is open: POST /api/v1/events accepts events without a token."
    if active or students:
        parts = []
        if active:
            parts.append(f"{active} active token{'s' if active != 1 else ''}")
        if students:
            parts.append(f"{students} active per-student credential{'s' if students != 1 else ''}")
        return f"Tokens required: {' and '.join(parts)}."
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


async def create_student_credentials(
    engine: AsyncEngine,
    roster: list[RosterEntry],
    course: str = "",
    *,
    pseudonym_of: Callable[[str], str] | None = None,
) -> list[tuple[int, str, str]]:
    """One new credential per student, in one transaction: [(id, student key, credential)].

    `pseudonym_of` (with CELL_MONITOR_PSEUDONYMIZE): the table keeps each student's
    pseudonym and no name, as the events they send are stored.
    """
    now = datetime.now(timezone.utc)
    created: list[tuple[int, str, str]] = []
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        for entry in roster:
            key = pseudonym_of(entry.student) if pseudonym_of else student_key(entry.student)
            credential = STUDENT_PREFIX + secrets.token_urlsafe(32)
            result = await conn.execute(
                insert(StudentCredential).values(
                    token_hash=digest(credential),
                    student_key=key,
                    display_name=None if pseudonym_of else entry.name,
                    team=entry.team,
                    course=course,
                    created_at=now,
                )
            )
            primary = result.inserted_primary_key
            assert primary is not None
            created.append((int(primary[0]), key, credential))
    return created


async def revoke_student_credentials(
    engine: AsyncEngine,
    *,
    credential_id: int | None = None,
    student: str | None = None,
    keys: Sequence[str] = (),
) -> int:
    """Revoke one credential by id, or every credential of a student; how many were revoked.

    `keys`: every student key the student's credentials may be stored under
    (privacy.pseudonyms.student_keys), instead of `student` alone.
    """
    condition = (
        StudentCredential.id == credential_id
        if credential_id is not None
        else StudentCredential.student_key.in_(list(keys) or [student_key(student or "")])
    )
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(
            update(StudentCredential)
            .where(condition, StudentCredential.revoked_at.is_(None))
            .values(revoked_at=datetime.now(timezone.utc))
        )
    return int(result.rowcount or 0)


async def list_student_credentials(engine: AsyncEngine) -> list[CredentialInfo]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                StudentCredential.id,
                StudentCredential.student_key,
                StudentCredential.course,
                StudentCredential.created_at,
                StudentCredential.revoked_at,
                StudentCredential.display_name,
                StudentCredential.team,
            ).order_by(StudentCredential.id)
        )
        return [CredentialInfo(*row) for row in rows]


class TokenCache:
    """The worker's copy of the token table, refreshed by a task of the lifespan."""

    def __init__(self, engine: AsyncEngine, refresh_seconds: float) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.active: dict[str, str] = {}  # hash -> course
        self.students: dict[str, BoundIdentity] = {}  # hash -> the identity it names
        self.revoked: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def required(self) -> bool:
        """Tokens are checked once any token exists (revoked ones included)."""
        return bool(self.active or self.students or self.revoked)

    async def load(self) -> None:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(IngestToken.token_hash, IngestToken.course, IngestToken.revoked_at)
                )
            ).all()
            students = (
                await conn.execute(
                    select(
                        StudentCredential.token_hash,
                        StudentCredential.student_key,
                        StudentCredential.display_name,
                        StudentCredential.team,
                        StudentCredential.revoked_at,
                    )
                )
            ).all()
        self.active = {r.token_hash: r.course for r in rows if r.revoked_at is None}
        self.students = {
            r.token_hash: BoundIdentity(r.student_key, "credential", r.display_name, r.team)
            for r in students
            if r.revoked_at is None
        }
        self.revoked = {r.token_hash for r in (*rows, *students) if r.revoked_at is not None}

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
        if hashed in self.active or hashed in self.students:
            return Verdict.ok, hashed
        if hashed in self.revoked:
            return Verdict.revoked, None
        return Verdict.invalid, None

    def identity_of(self, token_digest: str | None) -> BoundIdentity | None:
        """The student a credential names (None for a course token or no token)."""
        return self.students.get(token_digest) if token_digest else None
