"""The server's one typed settings object.

Every field can be set by an environment variable (or a `.env` file): the
service URLs under the names of the user's guide (`DATABASE_URL`, `REDIS_URL`,
`INFLUXDB_*`), everything else as `CELL_MONITOR_<FIELD>`. Tests build their own
`Settings(...)`; nothing here is read at import time.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:  # SQLAlchemy is imported only where a database URL is handled.
    from sqlalchemy.engine import URL

DEFAULT_CORS_ORIGINS = ["http://localhost:8888", "http://127.0.0.1:8888"]
MIN_PSEUDONYM_KEY_CHARS = 16


class ConfigError(ValueError):
    """Configuration that cannot work; the message names the variable to change."""


class Environment(str, Enum):
    development = "development"
    production = "production"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "cell-monitor"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Configuration of the cell-monitor server."""

    model_config = SettingsConfigDict(
        env_prefix="CELL_MONITOR_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    environment: Environment = Field(
        Environment.development,
        description="`production` turns unsafe defaults into start-up errors.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded SQLite database lives when DATABASE_URL is unset.",
    )
    database_url: str | None = Field(
        None,
        validation_alias=_env("DATABASE_URL", "CELL_MONITOR_DATABASE_URL"),
        description="postgresql://user:password@host:port/db or sqlite:///path; "
        "default: a SQLite file in the data dir.",
    )
    redis_url: str | None = Field(
        None,
        validation_alias=_env("REDIS_URL", "CELL_MONITOR_REDIS_URL"),
        description="redis://host:port/db for pub/sub between workers; default: in-process.",
    )
    redis_channel: str = Field(
        "events", description="Pub/sub channel; give each deployment sharing a Redis its own."
    )
    redis_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="A Redis silent this long counts as hung: dashboards resynchronise after.",
    )
    influxdb_url: str | None = Field(
        None,
        validation_alias=_env("INFLUXDB_URL", "CELL_MONITOR_INFLUXDB_URL"),
        description="InfluxDB base URL; unset turns the time-series sink off.",
    )
    influxdb_token: str | None = Field(
        None,
        validation_alias=_env("INFLUXDB_TOKEN", "CELL_MONITOR_INFLUXDB_TOKEN"),
        description="API token. With INFLUXDB_ORG: the 2.x/3.x API (/api/v2/write); "
        "alone: sent as `Authorization: Token` to the 1.x API (/write).",
    )
    influxdb_org: str | None = Field(
        None,
        validation_alias=_env("INFLUXDB_ORG", "CELL_MONITOR_INFLUXDB_ORG"),
        description="Organization (2.x/3.x); needs INFLUXDB_TOKEN.",
    )
    influxdb_bucket: str = Field(
        "cellmonitor",
        min_length=1,
        validation_alias=_env("INFLUXDB_BUCKET", "CELL_MONITOR_INFLUXDB_BUCKET"),
        description="Bucket (2.x/3.x) or database (1.x) the sink writes to.",
    )
    influx_create_database: bool = Field(
        True,
        description="Create the database/bucket when it is missing and the credentials allow it.",
    )
    influx_batch_points: int = Field(
        5000, ge=1, le=100_000, description="Most points in one InfluxDB write request."
    )
    influx_flush_seconds: float = Field(
        1.0, gt=0, le=60, description="Longest wait before committed events are written."
    )
    influx_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one InfluxDB request (write, query, ping)."
    )
    influx_max_backoff_seconds: float = Field(
        30.0, gt=0, description="Longest pause between retries while InfluxDB is unreachable."
    )
    influx_gap_seconds: float = Field(
        30.0,
        ge=0,
        description="PostgreSQL: how long a hole in the event ids may still be filled by a "
        "transaction that commits late before the sink's saved position moves past it.",
    )

    # Privacy: pseudonymous student identities (see cell_monitor/privacy/).
    pseudonymize: bool = Field(
        False,
        description="Replace emailAddress/userId/userName by a keyed pseudonym at ingest, so "
        "the store, live state, InfluxDB and logs never hold the real identity.",
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="Secret HMAC key of the pseudonyms (at least 16 characters); required when "
        "CELL_MONITOR_PSEUDONYMIZE is on. Changing it gives every student a new pseudonym.",
    )

    host: str = Field("127.0.0.1", description="Address `cell-monitor serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `cell-monitor serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    log_level: str = Field(
        "INFO",
        description="DEBUG, INFO, WARNING or ERROR; DEBUG adds a line per HTTP request (uvicorn's "
        "access log, and the server's own clients: InfluxDB sink, demo).",
    )
    log_format: LogFormat = Field(LogFormat.text, description="`text` or `json` log lines.")

    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Comma-separated addresses or networks (e.g. 10.0.0.0/8) of reverse proxies "
        "whose X-Forwarded-For/-Proto/-Host are believed (client address for rate limits, HTTPS "
        "for cookies, the server's name in the Origin check); empty: none. Headers from anyone "
        "else are ignored.",
    )
    keep_alive_seconds: int = Field(
        5, ge=1, description="An idle keep-alive connection is closed after this long."
    )
    request_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="A request whose headers and body are not all received within this long "
        "is dropped (slow or stalled clients cannot hold connections).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_CORS_ORIGINS),
        description="Comma-separated origins allowed to call the API from a browser.",
    )

    max_body_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest accepted request body (413 above)."
    )
    max_events_per_request: int = Field(
        1000, ge=1, description="Most events in one POST (413 above)."
    )
    max_code_chars: int = Field(64 * 1024, ge=16, description="`code` is truncated beyond this.")
    max_result_chars: int = Field(
        16 * 1024, ge=16, description="`result` is truncated beyond this."
    )
    max_error_chars: int = Field(
        16 * 1024, ge=16, description="`errorMessage` (and traceback) truncated beyond this."
    )
    max_field_chars: int = Field(
        512, ge=16, description="Names, paths and ids are truncated beyond this."
    )

    commit_max_events: int = Field(
        5000, ge=1, description="Most events written in one group-commit transaction."
    )
    commit_concurrency: int = Field(
        3,
        ge=1,
        le=32,
        description="Group commits in flight at once per worker on PostgreSQL. Students are "
        "spread over 8 buckets per commit; a bucket is in one commit at a time, so a student's "
        "events stay in order. While fewer than `commit_lane_events` wait, one commit takes "
        "them all; beyond, each idle commit takes an equal share and the commits overlap. "
        "SQLite has one writer at a time and always uses 1 (see docs/benchmarks.md).",
    )
    commit_lane_events: int = Field(
        300,
        ge=1,
        description="Events waiting from which commits overlap, each taking its share "
        "(PostgreSQL, `commit_concurrency` > 1).",
    )
    commit_queue_events: int = Field(
        100_000, ge=1, description="Events waiting for commit before ingest answers 503."
    )
    db_pool_size: int = Field(10, ge=1, description="Connections per worker (PostgreSQL).")
    db_timeout_seconds: float = Field(
        5.0, gt=0, description="Connect and health-check timeout for the database."
    )
    db_command_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="A statement (or commit) taking longer fails; ingest answers 503 "
        "instead of waiting on a database that stopped answering.",
    )
    sqlite_synchronous: str = Field(
        "FULL", description="SQLite PRAGMA synchronous; FULL makes every 2xx survive power loss."
    )
    clock_skew_seconds: float = Field(
        300.0,
        ge=0,
        description="An eventTime later than its receipt by more than this is stored as "
        "the receipt time (the client's value is kept as metadata `clientEventTime`).",
    )
    stuck_after_errors: int = Field(
        3, ge=1, description="Consecutive failed executions that make a student `stuck`."
    )
    active_window_seconds: float = Field(
        120.0, gt=0, description="A student is `active` this long after their last event."
    )
    quiet_after_seconds: float = Field(
        600.0,
        gt=0,
        description="A student whose notebook is visible and who edits without a (passing) "
        "run this long is `quiet` (silent struggle).",
    )
    away_after_seconds: float = Field(
        120.0,
        gt=0,
        description="A student whose notebook is hidden this long is `away`.",
    )
    engagement_capture: bool = Field(
        True,
        description="Store engagement signals (visibility, idle, per-cell edit counts and "
        "active time). Off: `engagement` events are refused and those fields dropped.",
    )
    ws_heartbeat_seconds: float = Field(
        30.0, gt=0, description="Interval of {'type': 'heartbeat'} on /ws/dashboard."
    )
    ws_queue_messages: int = Field(
        1000, ge=1, description="Messages buffered per dashboard before it is resynchronised."
    )
    ws_send_timeout_seconds: float = Field(
        10.0, gt=0, description="A dashboard that takes longer to accept a message is closed."
    )
    live_sweep_seconds: float = Field(
        5.0, gt=0, description="How often students turning idle are announced to dashboards."
    )
    slow_query_ms: float = Field(100.0, ge=0, description="Queries slower than this are logged.")

    # --- Security: instructor accounts, sessions, ingest tokens, limits -------
    initial_admin_password: SecretStr | None = Field(
        None,
        description="Password of the `admin` account created at the first start when no "
        "account exists; unset outside production: a random one is printed once.",
    )
    session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="An instructor's login lasts this long."
    )
    secure_cookies: bool | None = Field(
        None,
        description="Mark the session cookie Secure; unset: when the request came over HTTPS "
        "(behind a proxy: with X-Forwarded-Proto from a trusted address).",
    )
    login_attempts_per_account: int = Field(
        5, ge=1, description="Failed logins allowed per account within the login window."
    )
    login_attempts_per_ip: int = Field(
        20, ge=1, description="Failed logins allowed per client address within the login window."
    )
    login_window_seconds: float = Field(
        300.0, gt=0, description="Window over which failed logins are counted (per worker)."
    )
    ingest_rate_per_second: float = Field(
        1000.0,
        ge=0,
        description="POST /api/v1/events requests per second per ingest token (or client "
        "address without one), per worker; 0 turns the limit off.",
    )
    ingest_burst: int = Field(
        2000, ge=1, description="Requests an ingest token (or address) may send at once."
    )
    ingest_token_refresh_seconds: float = Field(
        5.0, gt=0, le=300, description="How often each worker reloads the ingest tokens."
    )
    messages_per_minute: int = Field(
        20,
        ge=0,
        description="Messages one instructor may send per minute (counted in the database, "
        "so across workers); 0 turns the limit off.",
    )
    ws_connections_per_user: int = Field(
        20, ge=1, description="Open /ws/dashboard connections per instructor, per worker."
    )

    # --- The return path (docs/help.md): help requests and the students' inbox
    inbox_channel: str = Field(
        "student-inbox",
        description="Redis pub/sub channel that wakes students' inbox long-polls on every "
        "worker; give each deployment sharing a Redis its own.",
    )
    inbox_polls_per_student: int = Field(
        4,
        ge=1,
        le=100,
        description="Inbox long-polls one student may hold open at once, per worker (one "
        "per Jupyter server is normal).",
    )
    inbox_max_waiting: int = Field(
        10_000, ge=1, description="Inbox long-polls held open at once per worker."
    )
    inbox_rate_per_second: float = Field(
        2.0,
        ge=0,
        description="Inbox requests per second per student, per worker (a long-poll that "
        "waits costs one); 0 turns the limit off.",
    )
    inbox_burst: int = Field(20, ge=1, description="Inbox requests a student may send at once.")
    help_claims_per_minute: int = Field(
        120,
        ge=1,
        description="Claims, releases and dismissals one instructor account may make per "
        "minute, per worker.",
    )
    help_metrics_seconds: float = Field(
        15.0, gt=0, description="How often each worker refreshes the help figures of /metrics."
    )
    help_session_gap_hours: float = Field(
        2.0,
        gt=0,
        description="Help requests further apart than this belong to different class "
        "sessions (the per-session wait figures).",
    )

    # --- JupyterHub (docs/jupyterhub.md): instructors sign in, students are who the hub says
    hub_api_url: str | None = Field(
        None,
        description="The hub's API URL as this server reaches it, e.g. "
        "http://127.0.0.1:8081/hub/api; set together with CELL_MONITOR_HUB_API_TOKEN it "
        "turns hub mode on.",
    )
    hub_api_token: SecretStr | None = Field(
        None,
        description="The `api_token` of the cell-monitor service in jupyterhub_config.py "
        "(also the OAuth client secret).",
    )
    hub_public_url: str | None = Field(
        None,
        description="The hub's address in the instructors' browsers (e.g. "
        "https://hub.school.example); default: CELL_MONITOR_HUB_API_URL without /hub/api.",
    )
    hub_oauth_client_id: str = Field(
        "service-cell-monitor",
        description="OAuth client id of the service: `service-` and the service's name.",
    )
    hub_oauth_callback_url: str | None = Field(
        None,
        description="This server's public /login/hub/callback URL, exactly as the service's "
        "`oauth_redirect_uri`; unset: hub sign-in is off (student identity still works).",
    )
    hub_instructor_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["instructors"],
        description="Comma-separated hub groups whose members sign in as instructors.",
    )
    hub_ta_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["tas"],
        description="Comma-separated hub groups whose members sign in as teaching assistants.",
    )
    hub_team_prefix: str = Field(
        "team-",
        description="A student's hub group named <prefix><team> sets their team; empty: "
        "teams come from the students' own settings.",
    )
    hub_cache_seconds: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="How long a hub answer about a token (who it is, or that it is invalid "
        "for a tenth of this) is reused before the hub is asked again.",
    )
    hub_recheck_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How often a signed-in hub user's groups are read again: leaving the "
        "instructor groups ends their dashboard session within this time.",
    )
    hub_cache_size: int = Field(
        10_000, ge=1, description="Most tokens whose hub answer is remembered, per worker."
    )
    hub_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Timeout of one request to the hub API."
    )
    declared_identity: bool | None = Field(
        None,
        description="Accept events whose identity is only what the body says (course token "
        "or open ingest); unset: yes without a hub, no in hub mode.",
    )

    # Storage maintenance: monthly partitions (PostgreSQL) and retention (docs/retention.md).
    partition_months_ahead: int = Field(
        3,
        ge=0,
        le=24,
        description="Monthly partitions of events and cell_executions kept ready beyond the "
        "current month (PostgreSQL).",
    )
    retention_days: int | None = Field(
        None,
        ge=1,
        description="When set, the server deletes what is older than this many days once a day "
        "(events, executions, sessions, instructor actions, closed help requests, messages; "
        "docs/retention.md) (off by default).",
    )
    maintenance_interval_seconds: float = Field(
        86400.0,
        gt=0,
        description="How often the server creates partitions ahead and, with "
        "CELL_MONITOR_RETENTION_DAYS, prunes.",
    )

    @field_validator(
        "cors_origins", "trusted_proxies", "hub_instructor_groups", "hub_ta_groups", mode="before"
    )
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("initial_admin_password", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # `VAR=` in a .env file or compose's ${VAR:-} means "not set".
        return None if value == "" else value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("CELL_MONITOR_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("sqlite_synchronous")
    @classmethod
    def _check_synchronous(cls, value: str) -> str:
        mode = value.upper()
        if mode not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("CELL_MONITOR_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
        return mode

    @field_validator("cors_origins", mode="after")
    @classmethod
    def _no_wildcard(cls, value: list[str]) -> list[str]:
        # Browsers refuse credentials with a wildcard origin; a wildcard would
        # also let any web page post events, so it is never accepted.
        if "*" in value:
            raise ValueError("list origins explicitly; '*' is not allowed")
        return value

    @model_validator(mode="after")
    def _check_influx(self) -> Settings:
        if self.influxdb_org and not self.influxdb_token:
            raise ValueError("INFLUXDB_ORG is set without INFLUXDB_TOKEN; the 2.x API needs both")
        if self.influxdb_url and not self.influxdb_url.startswith(("http://", "https://")):
            raise ValueError(
                "INFLUXDB_URL must start with http:// or https:// (e.g. http://localhost:8086)"
            )
        return self

    @model_validator(mode="after")
    def _check_pseudonyms(self) -> Settings:
        key = self.pseudonym_key.get_secret_value() if self.pseudonym_key else ""
        if self.pseudonymize and not key:
            raise ValueError(
                "CELL_MONITOR_PSEUDONYMIZE is on but CELL_MONITOR_PSEUDONYM_KEY is not set; "
                "set it to a long random secret (e.g. `openssl rand -hex 32`)"
            )
        if key and len(key) < MIN_PSEUDONYM_KEY_CHARS:
            raise ValueError(
                f"CELL_MONITOR_PSEUDONYM_KEY must be at least {MIN_PSEUDONYM_KEY_CHARS} "
                "characters long (e.g. `openssl rand -hex 32`)"
            )
        return self

    @model_validator(mode="after")
    def _check_hub(self) -> Settings:
        if bool(self.hub_api_url) != bool(self.hub_api_token):
            raise ValueError(
                "CELL_MONITOR_HUB_API_URL and CELL_MONITOR_HUB_API_TOKEN go together: set both "
                "(hub mode) or neither"
            )
        for name in ("hub_api_url", "hub_public_url", "hub_oauth_callback_url"):
            value = getattr(self, name)
            if value and not value.startswith(("http://", "https://")):
                raise ValueError(f"CELL_MONITOR_{name.upper()} must start with http:// or https://")
        if not self.hub_oauth_client_id.startswith("service-"):
            raise ValueError("CELL_MONITOR_HUB_OAUTH_CLIENT_ID must start with 'service-'")
        return self

    @property
    def hub_enabled(self) -> bool:
        """Hub mode: student identity (and, with a callback URL, sign-in) from JupyterHub."""
        return bool(self.hub_api_url and self.hub_api_token)

    @property
    def hub_sign_in(self) -> bool:
        return self.hub_enabled and bool(self.hub_oauth_callback_url)

    @property
    def accepts_declared_identity(self) -> bool:
        if self.declared_identity is not None:
            return self.declared_identity
        return not self.hub_enabled

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL of the primary store."""
        if self.database_url:
            return to_async_url(self.database_url)
        return to_async_url(f"sqlite:///{self.data_dir / 'cell-monitor.sqlite3'}")


def env_names(field: str) -> tuple[str, ...]:
    """The environment variables that set a Settings field, the preferred one first."""
    choices = getattr(Settings.model_fields[field].validation_alias, "choices", None)
    if choices:
        return tuple(str(choice) for choice in choices)
    return (f"{Settings.model_config.get('env_prefix', '')}{field}".upper(),)


def env_name(field: str) -> str:
    """The environment variable an operator sets for a Settings field."""
    return env_names(field)[0]


# Database URLs: accept what operators write, hand SQLAlchemy the async driver.
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
    from sqlalchemy.engine import make_url

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
    from sqlalchemy.engine import make_url

    return "postgresql" if make_url(url).get_backend_name() == "postgresql" else "sqlite"


def describe(url: str | URL) -> str:
    """A human description without the password, for error messages and logs."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite database {parsed.database or ':memory:'}"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return f"PostgreSQL at {host}:{port} (database {parsed.database!r}, user {parsed.username!r})"
