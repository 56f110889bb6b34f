"""Who is asking for an inbox: the student a hub token or a per-student credential names.

Exactly the bound modes of ingest. A course token or open ingest says nothing
trustworthy about who is asking, so the inbox refuses them (403): what is
addressed to one student must not be readable by anyone who claims to be them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException, Request

from cell_monitor import metrics
from cell_monitor.accounts.hub import HubUnavailable
from cell_monitor.accounts.identity import student_key
from cell_monitor.accounts.ingest_tokens import Verdict
from cell_monitor.privacy.pseudonyms import key_of, pseudonym

log = logging.getLogger(__name__)

NEEDS_BOUND_IDENTITY = (
    "the inbox (help-request state and messages) needs a verified student: JupyterHub mode "
    "(Authorization: token <JUPYTERHUB_API_TOKEN>) or a per-student credential "
    "(Authorization: Bearer cms_...); a course token or open ingest names no one "
    "(docs/help.md)"
)


def _refuse(status: int, detail: str, **headers: str) -> HTTPException:
    metrics.INBOX_ANSWERS.labels("refused").inc()
    return HTTPException(status, detail, headers=headers or None)


async def inbox_student(request: Request, state: Any) -> str:
    """The stored key of the student this request may read the inbox of, or an HTTPException."""
    authorization = request.headers.get("authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "token":
        key = await _hub_student(state, value.strip())
    else:
        key = _credential_student(state, authorization or None)
    settings = state.settings
    # Events of a pseudonymized class are stored under the alias: so is the inbox.
    return pseudonym(key_of(settings), key) if settings.pseudonymize else key


async def _hub_student(state: Any, token: str) -> str:
    if state.hub is None:
        raise _refuse(401, "this server is not connected to a JupyterHub; " + NEEDS_BOUND_IDENTITY)
    if not token or len(token) > 256:
        raise _refuse(401, "Authorization: token <JUPYTERHUB_API_TOKEN>")
    try:
        user = await state.hub.user_for_token(token)
    except HubUnavailable as exc:
        log.warning("JupyterHub did not answer a token lookup: %s", exc)
        raise _refuse(503, "JupyterHub unavailable", **{"Retry-After": "5"}) from exc
    if user is None or user.kind != "user":
        raise _refuse(403, "hub token invalid" if user is None else "a hub service has no inbox")
    return student_key(user.name)


def _credential_student(state: Any, authorization: str | None) -> str:
    verdict, token_digest = state.tokens.check(authorization)
    if verdict is Verdict.missing or verdict is Verdict.malformed:
        raise _refuse(401, NEEDS_BOUND_IDENTITY)
    if verdict is Verdict.invalid or verdict is Verdict.revoked:
        raise _refuse(403, f"credential {verdict.value}")
    identity = state.tokens.identity_of(token_digest)
    if identity is None:
        raise _refuse(403, NEEDS_BOUND_IDENTITY)
    return str(identity.student)
