"""Settings: variable names from the user's guide, safe defaults, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cell_monitor.config import (
    DEFAULT_CORS_ORIGINS,
    ConfigError,
    Settings,
    backend_name,
    describe,
    env_name,
    env_names,
    to_async_url,
)
from tests.support import make_settings


def test_guide_variable_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://cellmonitor_user:pw@db:5432/cellmonitor_db")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("CELL_MONITOR_MAX_EVENTS_PER_REQUEST", "50")
    monkeypatch.setenv("CELL_MONITOR_CORS_ORIGINS", "http://a:8888, http://b:8888")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.effective_database_url == (
        "postgresql+asyncpg://cellmonitor_user:pw@db:5432/cellmonitor_db"
    )
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.max_events_per_request == 50
    assert settings.cors_origins == ["http://a:8888", "http://b:8888"]


def test_env_names_follow_the_guide_then_the_prefix() -> None:
    assert env_name("database_url") == "DATABASE_URL"
    assert env_names("database_url") == ("DATABASE_URL", "CELL_MONITOR_DATABASE_URL")
    assert env_name("influxdb_token") == "INFLUXDB_TOKEN"
    assert env_name("port") == "CELL_MONITOR_PORT"
    assert env_names("port") == ("CELL_MONITOR_PORT",)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("port", "8123", 8123),
        ("workers", "3", 3),
        ("log_level", "WARNING", "WARNING"),
        ("redis_url", "redis://r:6379/2", "redis://r:6379/2"),
        ("database_url", "sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
        ("redis_channel", "events-b", "events-b"),
    ],
)
def test_every_name_env_name_gives_is_the_one_settings_read(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, expected: object
) -> None:
    for name in env_names(field)[1:]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env_name(field), value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert getattr(settings, field) == expected


def test_defaults_are_embedded_and_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "INFLUXDB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.effective_database_url == (
        f"sqlite+aiosqlite:///{tmp_path}/cell-monitor/cell-monitor.sqlite3"
    )
    assert settings.redis_url is None and settings.influxdb_url is None
    assert settings.host == "127.0.0.1"
    assert settings.cors_origins == DEFAULT_CORS_ORIGINS


def test_wildcard_cors_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"cors_origins[\s\S]*not allowed"):
        Settings(_env_file=None, cors_origins="*")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql://u:p@h:5433/d", "postgresql+asyncpg://u:p@h:5433/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_database_urls_get_async_drivers(raw: str, expected: str) -> None:
    assert to_async_url(raw) == expected


@pytest.mark.parametrize("raw", ["mysql://u@h/d", "not a url"])
def test_unsupported_database_urls_name_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        to_async_url(raw)


def test_descriptions_hide_passwords() -> None:
    text = describe("postgresql+asyncpg://u:secret@db.example:6543/cm")
    assert "secret" not in text
    assert "db.example:6543" in text
    assert backend_name("sqlite+aiosqlite:///x") == "sqlite"
    assert backend_name("postgresql+asyncpg://h/d") == "postgresql"


def test_influx_settings_are_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ValidationError, match="INFLUXDB_ORG is set without INFLUXDB_TOKEN"):
        make_settings(url, tmp_path, influxdb_url="http://h:8086", influxdb_org="o")
    with pytest.raises(ValidationError, match="INFLUXDB_URL must start with http"):
        make_settings(url, tmp_path, influxdb_url="h:8086")
    settings = make_settings(url, tmp_path, influxdb_url="http://h:8086")
    assert settings.influxdb_bucket == "cellmonitor" and settings.influx_create_database


def test_influx_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INFLUXDB_URL", "http://influx:8086")
    monkeypatch.setenv("INFLUXDB_TOKEN", "t")
    monkeypatch.setenv("INFLUXDB_ORG", "school")
    monkeypatch.setenv("INFLUXDB_BUCKET", "b")
    monkeypatch.setenv("CELL_MONITOR_INFLUX_BATCH_POINTS", "100")
    monkeypatch.setenv("CELL_MONITOR_INFLUX_GAP_SECONDS", "5")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.influxdb_url, settings.influxdb_token, settings.influxdb_org) == (
        "http://influx:8086",
        "t",
        "school",
    )
    assert (settings.influxdb_bucket, settings.influx_batch_points) == ("b", 100)
    assert settings.influx_gap_seconds == 5
