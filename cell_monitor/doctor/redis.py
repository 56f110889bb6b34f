"""Redis: the guide's `redis-cli ping`, client use against its limit, memory, subscribers."""

from __future__ import annotations

from typing import Any

from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, skipped
from cell_monitor.doctor.options import DoctorOptions

NAME = "redis"


async def check(options: DoctorOptions) -> CheckResult:
    settings = options.settings
    if not settings.redis_url:
        return skipped(NAME, "REDIS_URL unset: in-process broker (one worker)")
    try:
        from redis.asyncio import Redis
        from redis.exceptions import AuthenticationError, RedisError, ResponseError
    except ImportError:
        return found(NAME, _not_installed())
    from cell_monitor.broker.redis import CLIENT_OPTIONS

    client = Redis.from_url(
        settings.redis_url,
        socket_timeout=CLIENT_OPTIONS["socket_timeout"],
        socket_connect_timeout=CLIENT_OPTIONS["socket_connect_timeout"],
    )
    try:
        await client.ping()
        info: dict[str, Any] = await client.info()
        limit = await _max_clients(client)
        subscribers = dict(await client.pubsub_numsub(settings.redis_channel))
    except (AuthenticationError, ResponseError) as exc:
        if "auth" not in str(exc).lower() and "noperm" not in str(exc).lower():
            raise
        return found(NAME, _auth_failed(exc))
    except (RedisError, OSError) as exc:
        return found(NAME, _unreachable(settings.redis_url, exc))
    finally:
        await client.aclose()
    count = next(iter(subscribers.values()), 0) if subscribers else 0
    clients = int(info.get("connected_clients", 0))
    findings = [*_usage(clients, limit), *_memory(info)]
    if count == 0 and await _api_uses_redis(options):
        findings.append(_no_subscribers(settings.redis_channel))
    summary = (
        f"Redis {info.get('redis_version', '?')} answers PING; {clients}/{limit} clients, "
        f"{count} subscriber(s) on channel {settings.redis_channel!r}"
    )
    return found(NAME, *findings, summary=summary, subscribers=count, clients=clients)


async def _max_clients(client: Any) -> int:
    try:
        config = await client.config_get("maxclients")
        return int(config.get("maxclients", 10_000))
    except Exception:  # managed Redis often forbids CONFIG
        return 10_000


def _usage(clients: int, limit: int) -> list[Finding]:
    if clients < 0.8 * limit:
        return []
    return [
        Finding(
            id="redis.clients_near_limit",
            urgency=Urgency.medium,
            title=f"Redis has {clients} of {limit} client connections in use",
            detail="Each worker keeps a pool of up to 20 connections (the guide's "
            "max_connections=20) plus one subscription.",
            fix="Raise Redis maxclients, or lower the number of workers sharing this Redis.",
        )
    ]


def _memory(info: dict[str, Any]) -> list[Finding]:
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    if not limit or used < 0.9 * limit:
        return []
    return [
        Finding(
            id="redis.memory_near_limit",
            urgency=Urgency.medium,
            title=f"Redis uses {used // 2**20} MB of its {limit // 2**20} MB maxmemory",
            fix="Raise maxmemory or find the keys that grow (`redis-cli --bigkeys`).",
        )
    ]


async def _api_uses_redis(options: DoctorOptions) -> bool:
    """The running API reports a Redis among its services (so its workers should listen)."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=options.check_timeout / 2) as http:
            services = (await http.get(f"{options.api_url}/health")).json().get("services", {})
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    return isinstance(services, dict) and services.get("redis") == "healthy"


def _no_subscribers(channel: str) -> Finding:
    return Finding(
        id="redis.no_subscribers",
        urgency=Urgency.medium,
        title=f"No worker listens on channel {channel!r} of this Redis",
        detail="The API runs with a healthy Redis, but not this one (or not this channel): "
        "live updates do not reach dashboards connected to other workers.",
        fix="Give every worker and this command the same REDIS_URL (including the /db number) "
        "and CELL_MONITOR_REDIS_CHANNEL.",
    )


def _unreachable(url: str, exc: BaseException) -> Finding:
    from cell_monitor.doctor.config import _hide_password

    detail = f"{_hide_password(url)}: {exc}"
    if "Error 111 " in str(exc):
        detail += " (connection refused: nothing listens at that address)"
    return Finding(
        id="redis.unreachable",
        urgency=Urgency.high,
        title="Redis does not answer",
        detail=detail,
        fix="Check that Redis runs (`docker compose exec redis redis-cli ping`, "
        "`docker compose restart redis`) and REDIS_URL's host and port (inside compose: "
        "redis://redis:6379/0). Until it is back, live dashboards only see their own worker.",
    )


def _auth_failed(exc: BaseException) -> Finding:
    return Finding(
        id="redis.auth_failed",
        urgency=Urgency.high,
        title="Redis refused the credentials",
        detail=str(exc),
        fix="Put the password in REDIS_URL: redis://:password@host:6379/0 "
        "(or redis://user:password@… with ACLs).",
    )


def _not_installed() -> Finding:
    return Finding(
        id="redis.client_missing",
        urgency=Urgency.high,
        title="REDIS_URL is set but the Redis client library is not installed",
        fix="pip install 'cell-monitor[redis]'",
    )
