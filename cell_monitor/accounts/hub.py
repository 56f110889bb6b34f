"""JupyterHub as the source of identity: who a token belongs to, and OAuth sign-in.

The hub's own client library (`jupyterhub.services.auth.HubOAuth`) makes
every request: the token lookup (`GET /hub/api/user` with the token to
identify), the OAuth code exchange and PKCE. Only the cache is ours: the
library's cache expires entries but has no size bound, and every random token
a client makes up would stay in it; here at most `hub_cache_size` answers are
kept per worker, valid tokens for `hub_cache_seconds`, invalid ones for a tenth
of that (so a new server token works soon, and a flood of made-up tokens costs
the hub one request each only once in a while).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from cell_monitor.accounts.ingest_tokens import digest
from cell_monitor.accounts.users import Role
from cell_monitor.config import Settings

log = logging.getLogger(__name__)
CALLBACK_PATH = "/login/hub/callback"


class HubUnavailable(RuntimeError):
    """The hub did not answer (or answered with an error): retry later."""


@dataclass(frozen=True)
class HubUser:
    """What the hub says about a token's owner."""

    name: str
    kind: str  # "user" or "service"
    admin: bool
    groups: tuple[str, ...]

    @classmethod
    def from_model(cls, model: dict[str, Any]) -> HubUser:
        return cls(
            name=str(model.get("name") or ""),
            kind=str(model.get("kind") or "user"),
            admin=bool(model.get("admin")),
            groups=tuple(str(g) for g in model.get("groups") or ()),
        )


def role_of(user: HubUser, settings: Settings) -> Role | None:
    """The dashboard role of a hub user, or None when they may not sign in."""
    if user.kind != "user":
        return None
    groups = set(user.groups)
    if user.admin:
        return Role.admin
    if groups & set(settings.hub_instructor_groups):
        return Role.instructor
    if groups & set(settings.hub_ta_groups):
        return Role.ta
    return None


def _role_from_cache(user: HubUser | None, settings: Settings) -> Role | None:
    return role_of(user, settings) if user is not None else None


def team_of(user: HubUser, settings: Settings) -> str | None:
    """The team a student's hub groups give (the first, by name), or None."""
    prefix = settings.hub_team_prefix
    if not prefix:
        return None
    teams = sorted(g[len(prefix) :] for g in user.groups if g.startswith(prefix) and g != prefix)
    return teams[0] if teams else None


def teams_of(user: HubUser, settings: Settings) -> list[str]:
    """Every team a user's hub groups give, by name (a student's first is their team)."""
    prefix = settings.hub_team_prefix
    if not prefix:
        return []
    return sorted(g[len(prefix) :] for g in user.groups if g.startswith(prefix) and g != prefix)


def public_url(settings: Settings) -> str:
    """The hub as browsers reach it (scheme://host[:port]), without a path."""
    url = settings.hub_public_url or settings.hub_api_url or ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def hub_prefix(settings: Settings) -> str:
    """The hub's base path (normally /hub/), from the public URL or the API URL."""
    for url in (settings.hub_public_url, settings.hub_api_url):
        path = urlsplit(url or "").path.rstrip("/")
        if path.endswith("/api"):
            path = path[: -len("/api")]
        if path:
            return path + "/"
    return "/hub/"


class _Answers:
    """A bounded cache of hub answers, each with its own expiry (monotonic clock)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[float, HubUser | None]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, HubUser | None]:
        item = self._items.get(key)
        if item is None:
            return False, None
        expires, value = item
        if expires < time.monotonic():
            del self._items[key]
            return False, None
        self._items.move_to_end(key)
        return True, value

    def put(self, key: str, value: HubUser | None, seconds: float) -> None:
        self._items[key] = (time.monotonic() + seconds, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class HubClient:
    """One per worker: token lookups (cached) and the OAuth steps of sign-in."""

    def __init__(self, settings: Settings) -> None:
        assert settings.hub_api_url and settings.hub_api_token
        # Imported here: only hub mode needs JupyterHub installed (cell-monitor[hub]).
        from jupyterhub.services.auth import HubOAuth
        from tornado.web import HTTPError

        # What a failed hub request raises: refusals and errors (HTTPError), no route or
        # connection (OSError), no answer in time.
        self._errors: tuple[type[BaseException], ...] = (HTTPError, OSError, TimeoutError)
        self.settings = settings
        self.api_url = settings.hub_api_url.rstrip("/")
        self.auth = HubOAuth(
            api_url=self.api_url,
            api_token=settings.hub_api_token.get_secret_value(),
            oauth_client_id=settings.hub_oauth_client_id,
            oauth_redirect_uri=settings.hub_oauth_callback_url or CALLBACK_PATH,
            hub_host=public_url(settings),
            hub_prefix=hub_prefix(settings),
            cache_max_age=int(settings.hub_cache_seconds),
        )
        self._answers = _Answers(settings.hub_cache_size)
        self._pending: dict[str, asyncio.Future[HubUser | None]] = {}
        self._roles = _Answers(settings.hub_cache_size)

    @property
    def cached(self) -> int:
        return len(self._answers)

    def describe(self) -> str:
        return f"{public_url(self.settings)}{hub_prefix(self.settings)}"

    async def user_for_token(self, token: str) -> HubUser | None:
        """The owner of a hub token, None when the hub does not know it; raises HubUnavailable."""
        key = digest(token)
        found, value = self._answers.get(key)
        if found:
            return value
        # Many batches of one student arrive at once after an outage: one hub request.
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[HubUser | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await self._ask(token)
            ttl = self.settings.hub_cache_seconds
            self._answers.put(key, value, ttl if value is not None else ttl / 10)
            future.set_result(value)
            return value
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._pending[key]

    async def _ask(self, token: str) -> HubUser | None:
        try:
            model = await asyncio.wait_for(
                self.auth.user_for_token(token, use_cache=False, sync=False),
                self.settings.hub_timeout_seconds,
            )
        except self._errors as exc:
            raise HubUnavailable(_reason(exc)) from exc
        if not model or not model.get("name"):
            return None
        return HubUser.from_model(model)

    async def user_by_name(self, name: str) -> HubUser | None:
        """A user's current groups and admin flag (read with the service's own token);
        None when the hub has no such user any more."""
        url = f"{self.api_url}/users/{quote(name, safe='')}"
        headers = {"Authorization": f"token {self.auth.api_token}"}
        try:
            async with httpx.AsyncClient(timeout=self.settings.hub_timeout_seconds) as http:
                response = await http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"{self.api_url} unreachable: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code == 403:
            raise HubUnavailable(
                "the service may not read users: give its role read:users:name and "
                "read:users:groups (docs/jupyterhub.md)"
            )
        if response.status_code != 200:
            raise HubUnavailable(f"GET /users/{name}: HTTP {response.status_code}")
        return HubUser.from_model(response.json())

    async def current_role(self, name: str, last_known: Role) -> Role | None:
        """A signed-in hub user's role as the hub's groups say now (re-read every
        `hub_recheck_seconds`); the last known role while the hub does not answer."""
        found, cached = self._roles.get(name)
        if found:
            return _role_from_cache(cached, self.settings)
        try:
            user = await self.user_by_name(name)
        except HubUnavailable as exc:
            log.warning("Could not re-check hub user %s: %s", name, exc)
            return last_known
        self._roles.put(name, user, self.settings.hub_recheck_seconds)
        return _role_from_cache(user, self.settings)

    async def teams_of(self, name: str) -> list[str]:
        """Every team a hub user's groups give (a TA's sections), through the role cache."""
        found, user = self._roles.get(name)
        if not found:
            try:
                user = await self.user_by_name(name)
            except HubUnavailable as exc:
                log.warning("Could not read the groups of hub user %s: %s", name, exc)
                return []
            self._roles.put(name, user, self.settings.hub_recheck_seconds)
        return teams_of(user, self.settings) if user is not None else []

    async def whoami(self) -> dict[str, Any] | None:
        """The service's own model (name, kind, scopes), None when the hub refuses its token."""
        token = self.auth.api_token
        try:
            model = await asyncio.wait_for(
                self.auth.user_for_token(token, use_cache=False, sync=False),
                self.settings.hub_timeout_seconds,
            )
        except self._errors as exc:
            raise HubUnavailable(_reason(exc)) from exc
        return dict(model) if model else None

    # --- OAuth (authorization code with PKCE) --------------------------------

    def new_challenge(self) -> tuple[str, str]:
        """(code_verifier, code_challenge) for one sign-in."""
        verifier, challenge, _method = self.auth.generate_pkce_code_challenge()
        return verifier, challenge

    def authorize_url(self, state: str, challenge: str) -> str:
        """Where the browser goes to sign in at the hub (the hub's own login if needed)."""
        query = {
            "client_id": self.auth.oauth_client_id,
            "redirect_uri": self.auth.oauth_redirect_uri,
            "response_type": "code",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.auth.oauth_authorization_url}?{urlencode(query)}"

    async def sign_in(self, code: str, verifier: str) -> HubUser | None:
        """Exchange the code for a token and say whose it is."""
        try:
            token = await asyncio.wait_for(
                self.auth.token_for_code(code, code_verifier=verifier, sync=False),
                self.settings.hub_timeout_seconds,
            )
        except self._errors as exc:
            raise HubUnavailable(_reason(exc)) from exc
        # A fresh token: nothing to reuse from the cache.
        return await self._ask(token)


def _reason(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    if status is not None:  # tornado's HTTPError, as HubOAuth raises it
        return getattr(exc, "log_message", None) or f"HTTP {status}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


async def service_identity(hub: HubClient) -> dict[str, Any]:
    """The service's own model; raises (with the reason) unless the token is a service's."""
    model = await hub.whoami()
    if model is None:
        raise HubUnavailable("the hub does not accept CELL_MONITOR_HUB_API_TOKEN")
    if model.get("kind") != "service":
        raise HubUnavailable(
            f"CELL_MONITOR_HUB_API_TOKEN belongs to the {model.get('kind')} "
            f"{model.get('name')!r}, not to the cell-monitor service"
        )
    return model
