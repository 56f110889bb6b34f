"""Database URLs: accept what operators write, hand SQLAlchemy the async driver."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from cell_monitor.config import ConfigError

_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}


def to_async_url(raw: str) -> str:
    """Map `postgresql://…` (the guide's form) and `sqlite:///…` to async drivers."""
    try:
        url = make_url(raw)
    except Exception as exc:
        raise ConfigError(
            f"DATABASE_URL is not a valid URL ({exc}); expected "
            "postgresql://user:password@host:port/database or sqlite:///path/to/file"
        ) from exc
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ConfigError(
            f"DATABASE_URL uses the unsupported scheme {url.drivername!r}; "
            "use postgresql://… or sqlite:///…"
        )
    return url.set(drivername=driver).render_as_string(hide_password=False)


def backend_name(url: str | URL) -> str:
    """`postgresql` or `sqlite`: the service name used by /health and the docs."""
    return "postgresql" if make_url(url).get_backend_name() == "postgresql" else "sqlite"


def describe(url: str | URL) -> str:
    """A human description without the password, for error messages and logs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite database {parsed.database or ':memory:'}"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return f"PostgreSQL at {host}:{port} (database {parsed.database!r}, user {parsed.username!r})"
