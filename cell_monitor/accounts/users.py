"""Instructor and admin accounts in the primary store."""

from __future__ import annotations

import asyncio
import enum
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.accounts import passwords
from cell_monitor.storage.engine import WRITE_TX
from cell_monitor.storage.models import LoginSession, User

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


class Role(str, enum.Enum):
    admin = "admin"
    instructor = "instructor"
    ta = "ta"  # a teaching assistant: the dashboard as instructors see it


@dataclass(frozen=True)
class Instructor:
    """A signed-in account, as the routes see it."""

    id: int
    username: str
    role: Role


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise AccountError(
            "a username is 1-128 letters, digits, '.', '_', '@' or '-', starting with a "
            "letter or digit"
        )
    return username


async def create_user(engine: AsyncEngine, username: str, password: str, role: Role) -> int:
    """A new account; AccountError when the name is taken or the password weak."""
    check_username(username)
    try:
        passwords.check_strength(password)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from exc
    now = _now()
    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    try:
        async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
            result = await conn.execute(
                insert(User).values(
                    username=username,
                    password_hash=password_hash,
                    role=role.value,
                    created_at=now,
                    password_changed_at=now,
                )
            )
    except IntegrityError as exc:
        raise AccountError(f"an account named {username!r} exists already") from exc
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


@dataclass(frozen=True)
class Account:
    """An account as `cell-monitor user list` shows it."""

    username: str
    role: str
    created_at: datetime
    teams: list[str]


async def list_users(engine: AsyncEngine) -> list[Account]:
    """Every account, by name."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(User.username, User.role, User.created_at, User.teams).order_by(User.username)
        )
        return [Account(r.username, r.role, r.created_at, list(r.teams or [])) for r in rows]


MAX_TEAMS = 100
MAX_TEAM_CHARS = 512  # as a student's teamName


def check_teams(teams: list[str]) -> list[str]:
    """The teams without blanks around them or repeats, in the order given; AccountError if bad."""
    cleaned = list(dict.fromkeys(team.strip() for team in teams))
    if any(not team for team in cleaned):
        raise AccountError("a team name cannot be empty")
    if any(len(team) > MAX_TEAM_CHARS for team in cleaned):
        raise AccountError(f"a team name is at most {MAX_TEAM_CHARS} characters")
    if len(cleaned) > MAX_TEAMS:
        raise AccountError(f"an account has at most {MAX_TEAMS} teams")
    return cleaned


async def set_teams(engine: AsyncEngine, username: str, teams: list[str]) -> list[str]:
    """Replace the teams an account looks after (empty: none); the teams as stored."""
    cleaned = check_teams(teams)
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(
            update(User).where(User.username == username).values(teams=cleaned)
        )
        if result.rowcount == 0:
            raise AccountError(f"no account named {username!r}")
    return cleaned


async def teams_of(engine: AsyncEngine, user_id: int) -> list[str]:
    """The teams an admin gave the account (none for an unknown id)."""
    async with engine.connect() as conn:
        teams = (
            await conn.execute(select(User.teams).where(User.id == user_id))
        ).scalar_one_or_none()
    return list(teams or [])


async def user_exists(engine: AsyncEngine, username: str) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(select(User.id).where(User.username == username))
        return found.first() is not None


async def count_users(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(User))).scalar_one())


async def delete_user(engine: AsyncEngine, username: str) -> None:
    """Remove an account and end its sessions; the last admin cannot go."""
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        role = (
            await conn.execute(select(User.role).where(User.username == username))
        ).scalar_one_or_none()
        if role is None:
            raise AccountError(f"no account named {username!r}")
        if role == Role.admin.value:
            admins = await conn.execute(
                select(func.count()).select_from(User).where(User.role == Role.admin.value)
            )
            if admins.scalar_one() <= 1:
                raise AccountError(f"{username!r} is the last admin; create another admin first")
        user_id = select(User.id).where(User.username == username).scalar_subquery()
        # Explicit, not only by cascade: SQLite may run without foreign keys.
        await conn.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
        await conn.execute(delete(User).where(User.username == username))


async def set_password(engine: AsyncEngine, username: str, password: str) -> None:
    """Change a password and end every session of the account."""
    try:
        passwords.check_strength(password)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from exc
    new_hash = await asyncio.to_thread(passwords.hash_password, password)
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        result = await conn.execute(
            update(User)
            .where(User.username == username)
            .values(password_hash=new_hash, password_changed_at=_now())
        )
        if result.rowcount == 0:
            raise AccountError(f"no account named {username!r}")
        user_id = select(User.id).where(User.username == username).scalar_subquery()
        await conn.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


async def authenticate(engine: AsyncEngine, username: str, password: str) -> Instructor | None:
    """The account when `password` is right, else None (same cost either way)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(User.id, User.username, User.role, User.password_hash).where(
                    User.username == username
                )
            )
        ).first()
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop,
    # so that ingest and dashboards on this worker do not wait for a login.
    stored = row.password_hash if row else None
    if not await asyncio.to_thread(passwords.verify_password, stored, password):
        return None
    assert row is not None
    if passwords.needs_rehash(row.password_hash):
        new_hash = await asyncio.to_thread(passwords.hash_password, password)
        async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
            await conn.execute(update(User).where(User.id == row.id).values(password_hash=new_hash))
    return Instructor(id=row.id, username=row.username, role=Role(row.role))


async def create_first_admin(engine: AsyncEngine, password: str) -> bool:
    """Create `admin` when no account exists; False when one exists (or another worker won)."""
    if await count_users(engine):
        return False
    try:
        passwords.check_strength(password)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from exc
    try:
        await create_user(engine, "admin", password, Role.admin)
    except AccountError:
        return False  # created by a worker starting at the same time
    return True


# Hub accounts live in the same table, so sessions, logout and `user list`
# treat them like local ones. ':' cannot occur in a local username, so a hub
# user never becomes a local account of the same name (or the reverse), and the
# stored hash is no password hash at all: a hub account cannot sign in locally.
HUB_PREFIX = "hub:"
_NO_PASSWORD = "!hub"


def hub_username(name: str) -> str:
    return HUB_PREFIX + name


async def hub_account(engine: AsyncEngine, name: str, role: Role) -> Instructor:
    """The account of hub user `name`, created at their first sign-in; role as the hub says now."""
    username = hub_username(name)
    now = _now()
    for _attempt in range(2):  # a first sign-in on two workers at once: the loser re-reads
        async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
            row = (
                await conn.execute(select(User.id, User.role).where(User.username == username))
            ).first()
            if row is not None:
                if row.role != role.value:
                    await conn.execute(
                        update(User).where(User.id == row.id).values(role=role.value)
                    )
                return Instructor(id=row.id, username=username, role=role)
        try:
            async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
                result = await conn.execute(
                    insert(User).values(
                        username=username,
                        password_hash=_NO_PASSWORD,
                        role=role.value,
                        created_at=now,
                        password_changed_at=now,
                    )
                )
        except IntegrityError:
            continue
        key = result.inserted_primary_key
        assert key is not None
        return Instructor(id=int(key[0]), username=username, role=role)
    raise AccountError(f"could not create the account of hub user {name!r}")


async def end_hub_sessions(engine: AsyncEngine, name: str) -> None:
    """A hub user who may no longer sign in: their open sessions end too."""
    username = hub_username(name)
    async with engine.execution_options(**{WRITE_TX: True}).begin() as conn:
        user_id = select(User.id).where(User.username == username).scalar_subquery()
        await conn.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
