"""create_app(settings) and the lifespan that starts and stops everything."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from cell_monitor import __version__, metrics
from cell_monitor.accounts import hub_routes
from cell_monitor.accounts import routes as accounts_routes
from cell_monitor.accounts.guard import LoginRequired, login_required_handler, require_instructor
from cell_monitor.accounts.hub import HubClient, service_identity
from cell_monitor.accounts.ingest_tokens import TokenCache
from cell_monitor.accounts.ratelimit import Limits
from cell_monitor.accounts.safety import check_production, ensure_first_account, warn_if_ingest_open
from cell_monitor.broker import Broker, create_broker
from cell_monitor.config import Settings, backend_name, describe
from cell_monitor.help import routes as help_routes
from cell_monitor.help.service import HelpService
from cell_monitor.inbox import routes as inbox_routes
from cell_monitor.inbox.service import InboxService
from cell_monitor.ingest import routes as ingest_routes
from cell_monitor.ingest.pipeline import Pipeline
from cell_monitor.live import routes as live_routes
from cell_monitor.live.service import LiveService
from cell_monitor.messages import routes as messages_routes
from cell_monitor.messages import student_routes as messages_student_routes
from cell_monitor.messages.service import MessageService
from cell_monitor.reports import routes as reports_routes
from cell_monitor.server import health, pages
from cell_monitor.server.headers import SecurityHeadersMiddleware
from cell_monitor.server.middleware import ForwardedHostFilter, MetricsMiddleware
from cell_monitor.server.state import AppState
from cell_monitor.signals import routes as signals_routes
from cell_monitor.sinks.influx.sink import build_influx_sink
from cell_monitor.storage.engine import create_engine
from cell_monitor.storage.maintenance import Maintenance
from cell_monitor.storage.startup import check_database, ping

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The cell-monitor server for `settings`."""
    check_production(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            state = await _start(stack, settings)
            app.state.cell_monitor = state
            where = describe(state.engine.url)
            log.info("cell-monitor %s serving", __version__, extra={"database": where})
            yield

    app = FastAPI(
        title="cell-monitor",
        version=__version__,
        summary="Real-time learning analytics for classrooms that teach Python in Jupyter",
        lifespan=lifespan,
        # Request metrics are Prometheus' (/metrics, MetricsMiddleware). FastAPI's
        # own OpenTelemetry instrumentation, unused, looked up its three providers
        # (environment variables) on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Authorization"],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware)
    if settings.trusted_proxies:
        # Outermost: everything inside (rate limits by client address, the
        # cookie's Secure flag) sees the address and scheme the proxy reported.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Outside even that one: it must see the peer's own address.
    app.add_middleware(ForwardedHostFilter, trusted=settings.trusted_proxies)
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(LoginRequired, login_required_handler)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    # The one place instructor routes get their permission check: routers
    # added to INSTRUCTOR_ROUTERS are protected without doing anything.
    for router in INSTRUCTOR_ROUTERS:
        app.include_router(router, dependencies=[Depends(require_instructor)])
    # First of all routes: the ingest route without FastAPI's routing machinery.
    app.router.routes.insert(0, ingest_routes.hot_route)
    return app


# Open to anyone who can reach the server: ingest (checked by ingest tokens),
# probes, metrics and the login page.
PUBLIC_ROUTERS = (
    ingest_routes.ingest_router,
    inbox_routes.router,  # checked by the student's hub token or credential
    messages_student_routes.router,  # the same
    health.router,
    accounts_routes.router,
    hub_routes.router,
)
# What only instructors may see: reads of class data, live state and actions.
INSTRUCTOR_ROUTERS = (
    reports_routes.router,
    signals_routes.router,
    live_routes.router,
    help_routes.router,
    help_routes.export_router,
    messages_routes.router,
    pages.router,
    accounts_routes.account_router,
)


async def _start(stack: AsyncExitStack, settings: Settings) -> AppState:
    """Start every part in order; each registers its stop as soon as it runs.

    The stack stops them in reverse order when the server ends, and also when a
    later start fails: nothing started is left running.
    """
    engine = create_engine(settings)
    stack.push_async_callback(engine.dispose)
    await check_database(engine, settings)
    await ensure_first_account(engine, settings)
    state = _build_state(settings, engine)
    await state.tokens.start()
    stack.push_async_callback(state.tokens.stop)
    warn_if_ingest_open(settings, state.tokens.required)
    await state.live.start()
    stack.push_async_callback(state.live.stop)
    # Stops after the pipeline (registered before it): the last commits still wake students.
    await state.inbox.start()
    stack.push_async_callback(state.inbox.stop)
    state.help.start()
    stack.push_async_callback(state.help.stop)
    state.messages.start()
    stack.push_async_callback(state.messages.stop)
    if state.influx is not None:
        # Before the pipeline, so it stops after it: the last commits get written.
        state.influx.start()
        stack.push_async_callback(state.influx.stop)
    # Stops before the broker: what is queued is committed and published first.
    state.pipeline.start()
    stack.push_async_callback(state.pipeline.stop)
    maintenance = Maintenance(settings, engine)
    maintenance.start()
    stack.push_async_callback(maintenance.stop)
    return state


def _build_state(settings: Settings, engine: AsyncEngine) -> AppState:
    broker = create_broker(settings)
    live = LiveService(settings, engine, broker)
    pipeline = Pipeline(settings, engine)
    pipeline.add_listener(live.on_events)
    pipeline.add_state_listener(live.on_changes)
    inbox = InboxService(settings, engine, create_broker(settings, settings.inbox_channel))
    # A student's help state changes by their events (commits) or an instructor (actions).
    pipeline.add_state_listener(inbox.on_changes)
    live.add_action_listener(inbox.on_changes)
    messages = _messages(settings, engine, broker, inbox)
    pipeline.add_listener(messages.on_events)
    hub = HubClient(settings) if settings.hub_enabled else None
    state = AppState(
        settings=settings,
        engine=engine,
        pipeline=pipeline,
        live=live,
        messages=messages,
        tokens=TokenCache(engine, settings.ingest_token_refresh_seconds),
        limits=Limits.from_settings(settings),
        inbox=inbox,
        help=HelpService(settings, engine, live, hub),
        hub=hub,
    )

    async def database_check() -> None:
        await ping(engine, settings.db_timeout_seconds)

    state.health_checks[backend_name(engine.url)] = database_check
    state.required_services.add(backend_name(engine.url))
    if broker.name:
        state.health_checks[broker.name] = broker.check
    _attach_influx(state)
    _attach_hub(state)
    return state


def _messages(
    settings: Settings, engine: AsyncEngine, broker: Broker, inbox: InboxService
) -> MessageService:
    """Messages: their unseen ones fill each student's inbox, a send wakes its students."""
    messages = MessageService(settings, engine, broker)
    inbox.parts.messages = messages.inbox_part
    messages.add_inbox_waker(inbox.announce)
    return messages


def _attach_hub(state: AppState) -> None:
    """Hub mode (CELL_MONITOR_HUB_API_URL): token lookups, sign-in, and a /health entry."""
    hub = state.hub
    if hub is None:
        return

    async def hub_check() -> None:
        await service_identity(hub)

    # Not required for readiness: tokens the worker knows keep working while
    # the hub is away, and the students' servers retry the others.
    state.health_checks["jupyterhub"] = hub_check
    log.info("JupyterHub mode: %s", hub.describe())


def _attach_influx(state: AppState) -> None:
    """The InfluxDB sink, when INFLUXDB_URL is set: woken by commits, checked by /health."""
    sink = build_influx_sink(state.settings, state.engine)
    if sink is None:
        return
    state.influx = sink
    state.health_checks["influxdb"] = sink.check_health
    state.pipeline.add_listener(sink.notify)
    state.live.add_removal_listener(sink.forget)
    log.info("InfluxDB sink on: %s", sink.describe())


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    metrics.ERRORS.labels(metrics.ErrorType.internal).inc()
    log.exception("Unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and the CLI's worker processes."""
    from cell_monitor.logs import configure_logging
    from cell_monitor.server.supervision import watch_supervisor

    settings = Settings()
    configure_logging(settings)
    watch_supervisor()
    app = create_app(settings)
    tune_gc()
    return app


# Every request allocates a few hundred objects: with the default threshold of
# 700 the collector ran every few requests, and each older-generation pass
# walked all the server holds (modules, the app, caches). Under ingest load that
# was about a sixth of the server's CPU (docs/benchmarks.md). What exists at
# start lives as long as the process, so it is frozen out of every pass; only
# the server process does this (tests build many apps in one process).
GC_THRESHOLDS = (20_000, 20, 20)


def tune_gc() -> None:
    """Freeze what exists at start out of the collector, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
