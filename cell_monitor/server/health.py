"""/health (per-service status, as in the user's guide), /health/live, /health/ready, /metrics."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timezone

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from cell_monitor import __version__
from cell_monitor.contract.reads import AliveOut, HealthOut, ReadyOut
from cell_monitor.ingest.committer import describe_storage_failure
from cell_monitor.server.deps import StateDep
from cell_monitor.server.state import AppState
from cell_monitor.storage.startup import describe_failure, write_probe

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


async def _service_status(state: AppState) -> dict[str, str]:
    names = list(state.health_checks)
    results = await asyncio.gather(
        *(state.health_checks[name]() for name in names), return_exceptions=True
    )
    services = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):
            reason = str(result).strip().splitlines()[0] if str(result).strip() else ""
            services[name] = f"unhealthy: {reason or type(result).__name__}"
        else:
            services[name] = "healthy"
    committer = state.pipeline.committer
    if not committer.running:
        services["ingest"] = "unhealthy: the commit task is not running"
    elif committer.health.failing:
        await _probe_commits(state)
        if committer.health.failing:
            services["ingest"] = committer.health.describe()
    return services


async def _probe_commits(state: AppState) -> None:
    """After failed commits, try a write: health recovers without waiting for traffic.

    A load balancer stops sending events to a worker that is not ready, so
    waiting for the next real commit could keep it out forever.
    """
    committer = state.pipeline.committer
    try:
        await write_probe(committer.engine, state.settings.db_timeout_seconds)
    except Exception as exc:
        log.warning("Health probe write failed: %s", describe_failure(exc))
        committer.health.failed(describe_storage_failure(exc))
    else:
        committer.health.succeeded()


@router.get(
    "/health",
    response_model_exclude_none=True,
    responses={503: {"model": HealthOut, "description": "A service is down"}},
)
async def health(state: StateDep, response: Response) -> HealthOut:
    """Status of every configured backend; 503 when any is unhealthy."""
    services = await _service_status(state)
    healthy = all(status == "healthy" for status in services.values())
    response.status_code = 200 if healthy else 503
    return HealthOut(
        status="healthy" if healthy else "unhealthy",
        timestamp=datetime.now(timezone.utc),
        version=__version__,
        services=services,
        jupyterhub=state.hub.describe() if state.hub is not None else None,
    )


@router.get("/health/live")
async def live() -> AliveOut:
    """The process answers (for an orchestrator's liveness probe)."""
    return AliveOut(status="alive")


@router.get("/health/ready", responses={503: {"model": ReadyOut, "description": "Not ready"}})
async def ready(state: StateDep, response: Response) -> ReadyOut:
    """Ready to accept events: the primary store answers and commits (readiness probe).

    Redis or InfluxDB being away degrades live views and charts but not ingest,
    so they do not take a worker out of a load balancer.
    """
    services = await _service_status(state)
    ok = all(services[name] == "healthy" for name in state.required_services if name in services)
    ok = ok and "ingest" not in services
    response.status_code = 200 if ok else 503
    return ReadyOut(status="ready" if ok else "not ready", services=services)


@router.get("/metrics", response_class=Response, tags=["metrics"])
async def prometheus_metrics() -> Response:
    """All metrics; summed over workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
