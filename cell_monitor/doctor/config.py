"""Configuration sanity: URLs parse, secrets set in production, a coherent topology."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import SecretStr

from cell_monitor.config import ConfigError, Environment, Settings
from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok
from cell_monitor.doctor.options import DoctorOptions

# Values from examples and templates (.env.example, the guide) that must never reach production.
PLACEHOLDERS = ("change-me", "changeme", "cellmonitor_password", "your-token", "example-secret")


async def check(options: DoctorOptions) -> CheckResult:
    settings = options.settings
    findings = [*_urls(settings), *_secrets(settings), *_topology(settings)]
    if findings:
        return found("config", *findings)
    return ok("config", f"configuration is valid ({settings.environment.value})")


def _urls(settings: Settings) -> list[Finding]:
    findings = []
    try:
        settings.effective_database_url  # noqa: B018 - parses DATABASE_URL
    except ConfigError as exc:
        findings.append(
            Finding(
                id="config.database_url_invalid",
                urgency=Urgency.high,
                title="DATABASE_URL cannot be used",
                detail=str(exc),
                fix="Set DATABASE_URL=postgresql://user:password@host:port/database "
                "(e.g. postgresql://cellmonitor_user:…@postgres:5432/cellmonitor_db).",
            )
        )
    if settings.redis_url:
        from urllib.parse import urlsplit

        parts = urlsplit(settings.redis_url)
        if parts.scheme not in ("redis", "rediss", "unix") or (
            parts.scheme != "unix" and not parts.hostname
        ):
            findings.append(
                Finding(
                    id="config.redis_url_invalid",
                    urgency=Urgency.high,
                    title="REDIS_URL cannot be used",
                    detail=f"{_hide_password(settings.redis_url)} is not redis://host:port/db.",
                    fix="Set REDIS_URL=redis://host:6379/0 (rediss:// for TLS), or unset it "
                    "for a single worker.",
                )
            )
    return findings


def secret_fields(settings: Settings) -> list[str]:
    """Names of the Settings fields that hold secrets (typed SecretStr)."""
    names = []
    for name, info in type(settings).model_fields.items():
        annotation: Any = info.annotation
        if annotation is SecretStr or SecretStr in get_args(annotation):
            names.append(name)
    return names


def _secrets(settings: Settings) -> list[Finding]:
    if settings.environment != Environment.production:
        return []
    findings = []
    for name in secret_fields(settings):
        value = getattr(settings, name)
        raw = value.get_secret_value() if isinstance(value, SecretStr) else ""
        if not raw or any(word in raw.lower() for word in PLACEHOLDERS):
            env = env_name(name, type(settings))
            findings.append(
                Finding(
                    id="config.secret_unset",
                    urgency=Urgency.high,
                    title=f"{env} is {'not set' if not raw else 'a placeholder'} in production",
                    detail=f"{type(settings).model_fields[name].description or ''}",
                    fix=f"Set {env} to a long random value, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
                )
            )
    database_url = settings.database_url or ""
    if any(word in database_url.lower() for word in PLACEHOLDERS):
        findings.append(
            Finding(
                id="config.secret_unset",
                urgency=Urgency.high,
                title="DATABASE_URL carries an example password in production",
                fix="Set POSTGRES_PASSWORD in .env to your own value (before the first "
                "`docker compose up`, or ALTER ROLE … PASSWORD afterwards).",
            )
        )
    return findings


def _topology(settings: Settings) -> list[Finding]:
    findings = []
    if settings.workers > 1 and not settings.redis_url:
        findings.append(
            Finding(
                id="config.workers_without_redis",
                urgency=Urgency.high,
                title=f"{settings.workers} workers without REDIS_URL",
                detail="Live updates cannot travel between worker processes.",
                fix="Set REDIS_URL=redis://host:6379/0 or CELL_MONITOR_WORKERS=1.",
            )
        )
    if settings.environment == Environment.production and not settings.database_url:
        findings.append(
            Finding(
                id="config.sqlite_in_production",
                urgency=Urgency.medium,
                title="Production runs on the embedded SQLite file",
                detail="One machine only, and no managed backups.",
                fix="Set DATABASE_URL=postgresql://… and run `cell-monitor db upgrade`.",
            )
        )
    return findings


def env_name(field: str, settings_class: type[Settings] = Settings) -> str:
    """The environment variable an operator sets for a Settings field."""
    info = settings_class.model_fields[field]
    alias = info.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    return f"CELL_MONITOR_{field.upper()}"


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
