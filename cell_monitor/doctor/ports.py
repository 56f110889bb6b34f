"""Port conflicts: the guide's `lsof -i :5432/6379/8086` (and the API's 8000), done by probing.

A port is in conflict when something listens on it that does not speak the
protocol of the service the deployment expects there: then `docker compose up`
fails for that service, or our clients talk to the wrong program.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok
from cell_monitor.doctor.options import DoctorOptions
from cell_monitor.doctor.sockets import port_owner

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}
# PostgreSQL's SSLRequest: any PostgreSQL server answers it with one byte, S or N.
_PG_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Expected:
    service: str
    host: str
    port: int
    env: str
    # True when this deployment's configuration points there (a conflict then breaks it).
    configured: bool


async def check(options: DoctorOptions) -> CheckResult:
    expected = expected_ports(options)
    outcomes = await asyncio.gather(*(_probe(item) for item in expected))
    findings, notes = [], []
    for item, outcome in zip(expected, outcomes, strict=True):
        if outcome is None:
            notes.append(f"{item.port} free")
        elif outcome == item.service:
            notes.append(f"{item.port} {item.service}")
        else:
            owner = await asyncio.to_thread(port_owner, item.port)
            findings.append(_conflict(item, owner))
    summary = "ports: " + ", ".join(notes)
    if findings:
        return found("ports", *findings, summary=summary)
    return ok("ports", summary)


def expected_ports(options: DoctorOptions) -> list[Expected]:
    """The API's port, and each backend's: the configured one, else the compose default."""
    settings = options.settings
    api = urlsplit(options.api_url)
    items = [
        Expected(
            "cell-monitor",
            api.hostname or "127.0.0.1",
            api.port or 80,
            "CELL_MONITOR_PORT",
            configured=True,
        )
    ]
    database = make_url(settings.database_url) if settings.database_url else None
    if database is not None and database.get_backend_name() == "postgresql":
        items.append(
            Expected("postgresql", database.host or "", database.port or 5432, "DATABASE_URL", True)
        )
    else:
        items.append(Expected("postgresql", "127.0.0.1", 5432, "DATABASE_URL", False))
    for service, url, default, env in (
        ("redis", settings.redis_url, 6379, "REDIS_URL"),
        ("influxdb", settings.influxdb_url, 8086, "INFLUXDB_URL"),
    ):
        parts = urlsplit(url) if url else None
        if parts is not None and parts.scheme != "unix":
            items.append(Expected(service, parts.hostname or "", parts.port or default, env, True))
        else:
            items.append(Expected(service, "127.0.0.1", default, env, False))
    return [item for item in items if item.host in LOCAL_HOSTS]


async def _probe(item: Expected) -> str | None:
    """None when nothing listens; else the service recognised there ('unknown' if none)."""
    host = "127.0.0.1" if item.host in ("", "0.0.0.0", "localhost") else item.host
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, item.port), PROBE_TIMEOUT
        )
    except (OSError, asyncio.TimeoutError):
        return None
    try:
        answer = await asyncio.wait_for(_speak(item.service, reader, writer), PROBE_TIMEOUT)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        answer = b""
    finally:
        writer.close()
    return item.service if _recognised(item.service, answer) else "unknown"


async def _speak(service: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    if service == "postgresql":
        writer.write(_PG_SSL_REQUEST)
    elif service == "redis":
        writer.write(b"PING\r\n")
    else:
        path = "/health/live" if service == "cell-monitor" else "/ping"
        writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    if service in ("postgresql", "redis"):
        return await reader.read(512)
    return await reader.read(-1)  # HTTP/1.0: the server closes after its answer


def _recognised(service: str, answer: bytes) -> bool:
    if service == "postgresql":
        return answer[:1] in (b"S", b"N")
    if service == "redis":
        # A password-protected Redis answers -NOAUTH; it is still Redis.
        return answer.startswith((b"+PONG", b"-NOAUTH", b"-ERR", b"-WRONGPASS"))
    head = answer.lower()
    if service == "influxdb":
        return head.startswith(b"http/") and b"x-influxdb-version" in head
    return head.startswith(b"http/1.") and b" 200 " in head[:16] and b'"alive"' in head


def _conflict(item: Expected, owner: str | None) -> Finding:
    where = f"{item.host or '127.0.0.1'}:{item.port}"
    used_by = "this deployment" if item.configured else "the compose stack"
    holder = f" (held by {owner})" if owner else ""
    return Finding(
        id="ports.conflict",
        urgency=Urgency.high if item.configured else Urgency.low,
        title=f"Port {item.port} is taken by something that is not {item.service}",
        detail=f"{where}{holder} accepts connections but does not answer like {item.service}; "
        f"{item.service} of {used_by} cannot listen there or its clients reach the wrong program.",
        fix=f"Find the owner with `sudo lsof -i :{item.port}` and stop it, or move "
        f"{item.service} to another port ({item.env}"
        + (", and the port mapping in docker-compose.yml" if item.service != "cell-monitor" else "")
        + ").",
    )
