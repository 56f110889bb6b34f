"""Configuration sanity: URLs parse, secrets set in production, a coherent topology."""

from __future__ import annotations

from cell_monitor.accounts.safety import production_problems
from cell_monitor.config import ConfigError, Environment, Settings
from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok
from cell_monitor.doctor.options import DoctorOptions


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


def _secrets(settings: Settings) -> list[Finding]:
    # The server's own production checks (server/safety.py), so that doctor and
    # `serve` never disagree on what production refuses.
    if settings.environment != Environment.production:
        return []
    findings = []
    for problem in production_problems(settings):
        variable, _, why = problem.partition(": ")
        findings.append(
            Finding(
                id="config.cors_origin_invalid"
                if variable == "CELL_MONITOR_CORS_ORIGINS"
                else "config.secret_unset",
                urgency=Urgency.high,
                title=f"{variable} is unsafe in production: the server refuses to start",
                detail=why,
                fix=_SECRET_FIXES.get(variable, _GENERIC_FIX.format(variable=variable)),
            )
        )
    return findings


_GENERIC_FIX = (
    "Set {variable} to your real value (a long random one for a secret, e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
)
_SECRET_FIXES = {
    "DATABASE_URL": "Set POSTGRES_PASSWORD in .env to your own value (before the first "
    "`docker compose up`, or ALTER ROLE … PASSWORD afterwards).",
    "CELL_MONITOR_CORS_ORIGINS": "List origins as scheme://host[:port], comma-separated "
    "(e.g. https://hub.example.edu).",
}


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


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
