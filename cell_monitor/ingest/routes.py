"""POST /api/v1/events: a student's batch of events, stored before the answer."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import Scope

from cell_monitor import metrics
from cell_monitor.accounts.hub import HubUnavailable, team_of
from cell_monitor.accounts.identity import BoundIdentity, student_key
from cell_monitor.accounts.ingest_tokens import Verdict, digest
from cell_monitor.accounts.ratelimit import retry_after_header
from cell_monitor.contract.events import EventIn, IngestResponse
from cell_monitor.ingest.committer import Overloaded, StorageUnavailable
from cell_monitor.ingest.pipeline import TooManyEvents, UnusableBody

log = logging.getLogger(__name__)
ingest_router = APIRouter(prefix="/api/v1", tags=["events"])

# The body is read raw (each event is validated on its own), so the schema is
# documented here rather than derived from a parameter.
_EVENT_SCHEMA = EventIn.model_json_schema(mode="validation")
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"anyOf": [{"type": "array", "items": _EVENT_SCHEMA}, _EVENT_SCHEMA]}
            }
        },
    }
}


class PayloadTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, detail: str, error_type: str, **headers: str) -> JSONResponse:
    metrics.ERRORS.labels(error_type).inc()
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


_NEEDS_IDENTITY = (
    "this server stores events only under a verified identity: send the student's "
    "JupyterHub token (Authorization: token <JUPYTERHUB_API_TOKEN>) or a per-student "
    "credential (Authorization: Bearer cms_...)"
)


async def _admit(request: Request, state: Any) -> tuple[JSONResponse | None, BoundIdentity | None]:
    """(the refusal, or None) and the identity the credential binds the events to, if any."""
    authorization = request.headers.get("authorization")
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "token":  # JupyterHub's scheme: a hub-issued token
        refusal, identity, rate_key = await _admit_hub(state, value.strip())
        if refusal is not None:
            return refusal, None
    else:
        verdict, token_digest = state.tokens.check(authorization)
        if verdict is Verdict.missing or verdict is Verdict.malformed:
            metrics.INGEST_AUTH_FAILURES.labels(verdict.value).inc()
            return _unauthenticated(
                "an ingest token is required: Authorization: Bearer <token>"
            ), None
        if verdict is Verdict.invalid or verdict is Verdict.revoked:
            metrics.INGEST_AUTH_FAILURES.labels(verdict.value).inc()
            return JSONResponse({"detail": f"ingest token {verdict.value}"}, status_code=403), None
        identity = state.tokens.identity_of(token_digest)
        if identity is None and not state.settings.accepts_declared_identity:
            metrics.INGEST_AUTH_FAILURES.labels("identity_required").inc()
            return _unauthenticated(_NEEDS_IDENTITY), None
        rate_key = token_digest or ""
    limiter = state.limits.ingest
    if limiter.enabled:
        if not rate_key:  # no credential: the peer's address
            client = request.scope.get("client")
            rate_key = client[0] if client else "unknown"
        wait = limiter.acquire(rate_key)
        if wait > 0:
            metrics.RATE_LIMITED.labels("ingest").inc()
            return JSONResponse(
                {"detail": "too many requests (CELL_MONITOR_INGEST_RATE_PER_SECOND)"},
                status_code=429,
                headers={"Retry-After": retry_after_header(wait)},
            ), None
    return None, identity


def _unauthenticated(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


async def _admit_hub(
    state: Any, token: str
) -> tuple[JSONResponse | None, BoundIdentity | None, str]:
    """Resolve a hub token to its user: (refusal, identity, rate-limit key)."""
    if state.hub is None:
        metrics.INGEST_AUTH_FAILURES.labels("hub_not_configured").inc()
        return (
            _unauthenticated(
                "this server is not connected to a JupyterHub (CELL_MONITOR_HUB_API_URL); "
                "send an ingest token: Authorization: Bearer <token>"
            ),
            None,
            "",
        )
    if not token or len(token) > 256:
        metrics.INGEST_AUTH_FAILURES.labels(Verdict.malformed.value).inc()
        return _unauthenticated("Authorization: token <JUPYTERHUB_API_TOKEN>"), None, ""
    try:
        user = await state.hub.user_for_token(token)
    except HubUnavailable as exc:
        metrics.HUB_TOKEN_LOOKUPS.labels("unavailable").inc()
        log.warning("JupyterHub did not answer a token lookup: %s", exc)
        return (
            _error(
                503,
                f"JupyterHub unavailable: {exc}",
                metrics.ErrorType.hub_unavailable,
                **{"Retry-After": "5"},
            ),
            None,
            "",
        )
    if user is None or user.kind != "user":
        metrics.HUB_TOKEN_LOOKUPS.labels("invalid").inc()
        metrics.INGEST_AUTH_FAILURES.labels("hub_invalid").inc()
        detail = "hub token invalid" if user is None else "a hub service cannot report events"
        return JSONResponse({"detail": detail}, status_code=403), None, ""
    metrics.HUB_TOKEN_LOOKUPS.labels("valid").inc()
    identity = BoundIdentity(
        student_key(user.name), "hub", name=user.name, team=team_of(user, state.settings)
    )
    return None, identity, digest(token)


@ingest_router.post(
    "/events",
    status_code=202,
    response_model=IngestResponse,
    openapi_extra=_BODY_DOC,
    responses={
        401: {
            "description": "Ingest tokens are configured and none was sent, or the server "
            "needs a verified identity (hub token or per-student credential)"
        },
        403: {"description": "The ingest token (or hub token) is unknown or revoked"},
        413: {"description": "Body or event count over the configured limit"},
        429: {"description": "Over the request rate of the token (or address)"},
        422: {"description": "Nothing in the body is usable", "model": IngestResponse},
        503: {
            "description": "Storage (or JupyterHub) unavailable or overloaded; retry after "
            "Retry-After"
        },
    },
)
async def post_events(request: Request) -> Response:
    """Store a batch of events; 202 only once every accepted event is committed."""
    # The hottest route: no dependency resolution, the state is read directly.
    state = request.app.state.cell_monitor
    refusal, identity = await _admit(request, state)
    if refusal is not None:
        return refusal
    pipeline, settings = state.pipeline, state.settings
    try:
        body = await _read_body(request, settings.max_body_bytes)
        result = await pipeline.ingest(body, identity)
    except ClientDisconnect:
        # Gone before its body was read: nothing stored, nobody to answer.
        log.debug("Client disconnected before sending its events")
        return JSONResponse({"detail": "client disconnected"}, status_code=400)
    except PayloadTooLarge:
        return _error(
            413,
            f"request body over {settings.max_body_bytes} bytes (CELL_MONITOR_MAX_BODY_BYTES)",
            metrics.ErrorType.payload_too_large,
        )
    except TooManyEvents as exc:
        return _error(413, str(exc), metrics.ErrorType.payload_too_large)
    except UnusableBody as exc:
        metrics.ERRORS.labels(metrics.ErrorType.malformed_json).inc()
        body_ = IngestResponse(accepted=0, duplicates=0).model_dump(by_alias=True)
        return JSONResponse({**body_, "detail": str(exc)}, status_code=422)
    except Overloaded as exc:
        return _error(
            503, f"server busy: {exc}", metrics.ErrorType.overloaded, **{"Retry-After": "1"}
        )
    except StorageUnavailable as exc:
        return _error(
            503,
            f"storage unavailable: {exc}",
            metrics.ErrorType.storage_unavailable,
            **{"Retry-After": "5"},
        )
    if result.status_code == 422:
        content = result.body.model_dump(by_alias=True)
        content["detail"] = "no event in the body is valid"
        return JSONResponse(content, status_code=422)
    # Serialized by pydantic-core straight to bytes: no dict, no json.dumps.
    return Response(
        result.body.model_dump_json(by_alias=True),
        status_code=result.status_code,
        media_type="application/json",
    )


class HotRoute(Route):
    """`POST /api/v1/events` as a plain Starlette route, matched before any other.

    FastAPI's route for it (above, kept for the OpenAPI schema) is reached
    through the included routers' matching and FastAPI's dependency resolution,
    which `post_events` does not use: tens of microseconds per request on the
    route every student's events take. Other methods on the path go on to the
    routes after it (the instructors' `GET /api/v1/events`).
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        # As FastAPI's routes do: the template the request metrics are labelled with.
        child_scope["route"] = self
        return match, child_scope


hot_route = HotRoute("/api/v1/events", post_events, methods=["POST"], include_in_schema=False)
