"""Server-side login sessions: a random token in the cookie, its SHA-256 in the database.

Every worker reads the same table, so a login works whichever worker answers,
and logging out, changing the password or deleting the account ends it
everywhere at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.accounts.users import Instructor, Role
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import LoginSession, User

COOKIE_NAME = "cell_monitor_session"


def token_hash(token: str) -> str:
    """What the table keeps of a token (a leaked table opens no session)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(engine: AsyncEngine, user_id: int, hours: float) -> str:
    """A new session for the account; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        # Logging in is rare: a good moment to forget expired sessions.
        await conn.execute(delete(LoginSession).where(LoginSession.expires_at < now))
        await conn.execute(
            insert(LoginSession).values(
                token_hash=token_hash(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + timedelta(hours=hours),
            )
        )
    return token


async def session_user(engine: AsyncEngine, token: str) -> Instructor | None:
    """The account of a live session, or None (unknown, expired or revoked)."""
    if not token or len(token) > 128:
        return None
    now = datetime.now(timezone.utc)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(User.id, User.username, User.role)
                .join(LoginSession, LoginSession.user_id == User.id)
                .where(LoginSession.token_hash == token_hash(token), LoginSession.expires_at > now)
            )
        ).first()
    if row is None:
        return None
    return Instructor(id=row.id, username=row.username, role=Role(row.role))


async def end_session(engine: AsyncEngine, token: str) -> None:
    """Log out: the token opens nothing any more, on any worker."""
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        await conn.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))
