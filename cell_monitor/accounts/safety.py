"""Safe defaults at start: production refuses placeholder secrets; the first account."""

from __future__ import annotations

import logging
import math
import re
import string
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


# Passwords that guessing starts with (and names of the software involved);
# compared without case, digits at the end and punctuation.
_COMMON = frozenset(
    (
        "password",
        "passw0rd",
        "passwd",
        "secret",
        "admin",
        "administrator",
        "root",
        "postgres",
        "postgresql",
        "redis",
        "influx",
        "influxdb",
        "influxdb2",
        "cellmonitor",
        "cell",
        "jupyter",
        "jupyterhub",
        "student",
        "teacher",
        "instructor",
        "school",
        "classroom",
        "qwerty",
        "qwertz",
        "azerty",
        "asdf",
        "letmein",
        "welcome",
        "monkey",
        "dragon",
        "master",
        "login",
        "default",
        "test",
        "testing",
        "example",
        "demo",
        "trustno1",
        "iloveyou",
        "sunshine",
        "football",
        "baseball",
        "abc",
        "abcd",
        "abcdef",
        "abcdefg",
    )
)
# Bits a secret needs by the estimate below: a random 12-character mixed password
# has ~70; `openssl rand -hex 32` has 256.
MIN_PASSWORD_BITS = 60
MIN_KEY_BITS = 80


def _placeholder(value: str | None) -> bool:
    if not value:
        return True
    lowered = value.lower()
    return lowered in _PLACEHOLDERS or lowered.startswith(("change-me", "changeme"))


def _estimated_bits(value: str) -> float:
    """Entropy if each character were random from the classes it uses; repeats count once.

    An overestimate for words, so common passwords are checked by name as well.
    """
    alphabet = 0
    for charset in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        if any(c in charset for c in value):
            alphabet += len(charset)
    if any(not c.isalnum() for c in value):
        alphabet += len(string.punctuation) + 1
    # "aaaaaaaaaaaaaaaaaaaa" or "abababab…" is long but carries little: count the
    # distinct characters, and a long string at most twice its distinct count.
    effective = min(len(value), 2 * len(set(value)))
    return effective * math.log2(max(alphabet, 2))


def secret_weakness(value: str | None, min_bits: float = MIN_PASSWORD_BITS) -> str | None:
    """Why `value` is unfit as a production secret, or None when it will do."""
    if not value:
        return "empty"
    if _placeholder(value):
        return "a placeholder"
    words = re.sub(r"[^a-z]", " ", value.lower()).split()
    core = "".join(words)
    if core in _COMMON or (any(word in _COMMON for word in words) and len(core) <= 12):
        return "a common password"
    if "changeme" in core or "changethis" in core or "replaceme" in core:
        return "a placeholder"
    if _estimated_bits(value) < min_bits:
        return "too short or too predictable (use e.g. `openssl rand -hex 32`)"
    return None


def production_problems(settings: Settings) -> list[str]:
    """What makes `settings` unfit for production, one line per variable to set."""
    problems = []
    database = make_url(settings.database_url) if settings.database_url else None
    if database and database.get_backend_name() != "sqlite":
        weakness = secret_weakness(database.password)
        if weakness:
            problems.append(
                f"DATABASE_URL: the database password is {weakness} (e.g. from .env.example); "
                "set POSTGRES_PASSWORD / DATABASE_URL to a real secret"
            )
    if settings.influxdb_token is not None:
        weakness = secret_weakness(settings.influxdb_token, MIN_KEY_BITS)
        if weakness:
            problems.append(f"INFLUXDB_TOKEN: {weakness}; set the real API token")
    redis_password = make_url(settings.redis_url).password if settings.redis_url else None
    if redis_password is not None:
        weakness = secret_weakness(redis_password)
        if weakness:
            problems.append(f"REDIS_URL: the Redis password is {weakness}; set the real one")
    if settings.pseudonym_key is not None:
        weakness = secret_weakness(settings.pseudonym_key.get_secret_value(), MIN_KEY_BITS)
        if weakness:
            problems.append(
                f"CELL_MONITOR_PSEUDONYM_KEY: {weakness}; pseudonyms of a guessable key "
                "can be reversed by trying every student's address"
            )
    initial = settings.initial_admin_password
    if initial is not None:
        value = initial.get_secret_value()
        weakness = secret_weakness(value)
        if weakness is None and len(value) < passwords.MIN_LENGTH:
            weakness = f"shorter than {passwords.MIN_LENGTH} characters"
        if weakness:
            problems.append(f"{INITIAL_PASSWORD_VARIABLE}: {weakness}; choose a real password")
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
