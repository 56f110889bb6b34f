"""Safe defaults at start: production refuses placeholder secrets; the first account."""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cell_monitor.accounts import passwords, users
from cell_monitor.config import Environment, Settings

log = logging.getLogger(__name__)
# Values that ship in .env.example, docs and the user's guide: never secrets.
_PLACEHOLDERS = ("change-me", "changeme", "cellmonitor_password", "password", "secret")
INITIAL_PASSWORD_VARIABLE = "CELL_MONITOR_INITIAL_ADMIN_PASSWORD"


class UnsafeConfiguration(RuntimeError):
    """Production settings that must not be served; the message names the variables."""


def _placeholder(value: str | None) -> bool:
    if not value:
        return True
    lowered = value.lower()
    return lowered in _PLACEHOLDERS or lowered.startswith(("change-me", "changeme"))


def production_problems(settings: Settings) -> list[str]:
    """What makes `settings` unfit for production, one line per variable to set."""
    problems = []
    database = make_url(settings.database_url) if settings.database_url else None
    if database and database.get_backend_name() != "sqlite" and _placeholder(database.password):
        problems.append(
            "DATABASE_URL: the database password is empty or a placeholder "
            "(e.g. from .env.example); set POSTGRES_PASSWORD / DATABASE_URL to a real secret"
        )
    if settings.influxdb_token is not None and _placeholder(settings.influxdb_token):
        problems.append("INFLUXDB_TOKEN: empty or a placeholder; set the real API token")
    if settings.redis_url and _placeholder(make_url(settings.redis_url).password or "x"):
        problems.append("REDIS_URL: the Redis password is a placeholder; set the real one")
    initial = settings.initial_admin_password
    if initial is not None:
        value = initial.get_secret_value()
        if _placeholder(value) or len(value) < passwords.MIN_LENGTH:
            problems.append(
                f"{INITIAL_PASSWORD_VARIABLE}: a placeholder or shorter than "
                f"{passwords.MIN_LENGTH} characters; choose a real password"
            )
    for origin in settings.cors_origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            problems.append(
                f"CELL_MONITOR_CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port])"
            )
    return problems


def check_production(settings: Settings) -> None:
    """Raise UnsafeConfiguration in production when a secret is a default."""
    if settings.environment != Environment.production:
        return
    problems = production_problems(settings)
    if problems:
        raise UnsafeConfiguration(
            "CELL_MONITOR_ENVIRONMENT=production refuses to start:\n  " + "\n  ".join(problems)
        )


async def ensure_first_account(engine: AsyncEngine, settings: Settings) -> None:
    """Create `admin` when no account exists, so that a first start leads to a dashboard.

    Safe with several workers starting at once: the unique username lets one win.
    """
    if await users.count_users(engine):
        return
    initial = settings.initial_admin_password
    if initial is not None:
        try:
            await users.create_first_admin(engine, initial.get_secret_value())
        except users.AccountError as exc:
            raise UnsafeConfiguration(f"{INITIAL_PASSWORD_VARIABLE}: {exc}") from exc
        return
    if settings.environment == Environment.production:
        raise UnsafeConfiguration(
            f"No instructor account exists: set {INITIAL_PASSWORD_VARIABLE} for the first "
            "start, or create one with `cell-monitor user create NAME --role admin`"
        )
    password = passwords.random_password()
    if await users.create_first_admin(engine, password):
        # Straight to the terminal, never through the log handlers (log files
        # and collectors keep what they receive).
        print(
            "\n"
            "  cell-monitor: created the instructor account 'admin' with the password\n"
            f"      {password}\n"
            "  It is shown only this once. Sign in at /login, then change it with\n"
            "      cell-monitor user set-password admin\n",
            file=sys.stderr,
            flush=True,
        )


def warn_if_ingest_open(settings: Settings, tokens_required: bool) -> None:
    """In production, say so when anyone who reaches the server may post events."""
    # Events that only declare an identity are refused unless accepted (hub mode: never).
    open_ingest = not tokens_required and settings.accepts_declared_identity
    if settings.environment == Environment.production and open_ingest:
        log.warning(
            "No ingest token exists: POST /api/v1/events accepts events from anyone who can "
            "reach it; create one with `cell-monitor token create COURSE`"
        )
