"""/health (per-service status, as in the user's guide), /health/live, /health/ready, /metrics."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from cell_monitor import __version__
from cell_monitor.contract.reads import AliveOut, HealthOut, ReadyOut
from cell_monitor.server.deps import StateDep
from cell_monitor.server.state import AppState

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
    if not state.pipeline.committer.running:
        services["ingest"] = "unhealthy: the commit task is not running"
    return services


@router.get("/health", responses={503: {"model": HealthOut, "description": "A service is down"}})
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
    )


@router.get("/health/live")
async def live() -> AliveOut:
    """The process answers (for an orchestrator's liveness probe)."""
    return AliveOut(status="alive")


@router.get("/health/ready", responses={503: {"model": ReadyOut, "description": "Not ready"}})
async def ready(state: StateDep, response: Response) -> ReadyOut:
    """Ready to accept events: the primary store answers (readiness probe).

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
