"""The production deployment files: docker-compose.yml, .env.example, Dockerfile.

`docker compose up` needs an engine and is not run here; these checks (and
`docker-compose config -q` in scripts/test.sh) keep the files consistent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cell_monitor.jupyter_ext.environment import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
# `$${X}` is an escaped dollar (expanded in the container), not a compose variable.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load(COMPOSE_TEXT)
    return compose["services"]


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def one_shot(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services others wait on to complete (the migration), not to be healthy."""
    return {
        name
        for service in services.values()
        for name, condition in (service.get("depends_on") or {}).items()
        if isinstance(condition, dict)
        and condition.get("condition") == "service_completed_successfully"
    }


def resolve(value: str) -> str:
    """Interpolate `${NAME}` / `${NAME:-default}` / `${NAME:?message}` from .env.example."""
    env = env_example()

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or ("" if match.group(2) == ":?" else default)

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", replace, value)


def test_guide_names(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "redis", "influxdb", "fastapi", "jupyterlab"} <= set(services)
    postgres = services["postgres"]["environment"]
    assert postgres["POSTGRES_DB"] == "cellmonitor_db"
    assert postgres["POSTGRES_USER"] == "cellmonitor_user"
    url = services["fastapi"]["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql://cellmonitor_user:")
    assert url.endswith("@postgres:5432/cellmonitor_db")
    assert services["fastapi"]["environment"]["INFLUXDB_URL"] == "http://influxdb:8086"


def test_long_running_services_have_healthcheck_and_restart(
    services: dict[str, dict[str, Any]],
) -> None:
    assert one_shot(services) == {"migrate"}
    for name, service in services.items():
        if name in one_shot(services):
            assert service.get("restart", "no") == "no", name
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, name


def test_secrets_have_no_defaults() -> None:
    for name in ("POSTGRES_PASSWORD", "JUPYTER_TOKEN"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", COMPOSE_TEXT)
        assert uses, name
        assert all(use.startswith(":?") for use in uses), f"{name} must be required"
    assert "cellmonitor_password" not in COMPOSE_TEXT


def test_every_variable_is_in_env_example() -> None:
    used = set(VARIABLE.findall(COMPOSE_TEXT))
    assert "POSTGRES_PASSWORD" in used
    missing = used - set(env_example())
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_fastapi_runs_several_workers_with_redis(services: dict[str, dict[str, Any]]) -> None:
    fastapi = services["fastapi"]
    env = fastapi["environment"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert int(resolve(str(env["CELL_MONITOR_WORKERS"]))) > 1
    assert "--workers" in " ".join(fastapi["command"])
    waits = fastapi["depends_on"]
    assert waits["migrate"]["condition"] == "service_completed_successfully"
    for backend in ("postgres", "redis", "influxdb"):
        assert waits[backend]["condition"] == "service_healthy"
    # Workers never migrate: the one-shot service does, once.
    assert services["migrate"]["command"] == ["cell-monitor", "db", "upgrade"]
    assert services["migrate"]["environment"]["DATABASE_URL"] == env["DATABASE_URL"]


def test_jupyterlab_uses_the_extension_variables(services: dict[str, dict[str, Any]]) -> None:
    env = services["jupyterlab"]["environment"]
    for name in ("CELL_MONITOR_SERVER_URL", "CELL_MONITOR_INGEST_TOKEN"):
        assert name in ENVIRONMENT.values(), f"the server extension no longer reads {name}"
        assert name in env
    assert env["CELL_MONITOR_SERVER_URL"] == "http://fastapi:8000"


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "python:3.11-slim" in text
    assert "pip wheel" in text
    assert "[postgres,redis,influx]" in text
    assert "/health/live" in text
    assert re.search(r"^EXPOSE 8000$", text, re.M)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] != "root"
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored  # secrets never enter the build context
