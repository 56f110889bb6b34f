"""The server extension's environment variables, declared once: trait → variable.

Each trait of CellMonitorExtension declares its type and default; this table
only says which variable sets it. Values are parsed by the trait's type, and a
value that does not parse is an error naming the variable (never a silent
default). Jupyter configuration (config files, the command line) wins over the
environment, which wins over the trait's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from traitlets import Bool, Float, Int, TraitType

ENVIRONMENT: dict[str, str] = {
    "enabled": "CELL_MONITOR_ENABLED",
    "server_url": "CELL_MONITOR_SERVER_URL",
    "ingest_token": "CELL_MONITOR_INGEST_TOKEN",
    "hub_user": "JUPYTERHUB_USER",
    "user_id": "CELL_MONITOR_USER_ID",
    "queue_path": "CELL_MONITOR_QUEUE_PATH",
    "max_queue_events": "CELL_MONITOR_MAX_QUEUE_EVENTS",
    "retry_initial_seconds": "CELL_MONITOR_RETRY_INITIAL_SECONDS",
    "retry_max_seconds": "CELL_MONITOR_RETRY_MAX_SECONDS",
    "warn_after_seconds": "CELL_MONITOR_WARN_AFTER_SECONDS",
    "privacy_contact": "CELL_MONITOR_PRIVACY_CONTACT",
    "require_consent": "CELL_MONITOR_REQUIRE_CONSENT",
    "engagement": "CELL_MONITOR_ENGAGEMENT",
    "hub_identity": "CELL_MONITOR_HUB_IDENTITY",
    # The hub gives every single-user server its user's token (it names that user only).
    "hub_api_token": "JUPYTERHUB_API_TOKEN",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def read_environment(
    traits: Mapping[str, TraitType[Any, Any]], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The trait values the environment sets; an empty or unset variable sets nothing."""
    values: dict[str, Any] = {}
    for name, variable in ENVIRONMENT.items():
        raw = environ.get(variable, "").strip()
        if raw:
            values[name] = parse(traits[name], variable, raw)
    return values


def parse(trait: TraitType[Any, Any], variable: str, raw: str) -> Any:
    """`raw` as the trait's type; ValueError naming `variable` when it is not one."""
    if isinstance(trait, Bool):
        word = raw.lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
        raise ValueError(f"{variable} must be 1 or 0 (true/false, yes/no, on/off), not {raw!r}")
    if isinstance(trait, (Int, Float)):
        try:
            number = float(raw)
        except ValueError as exc:
            raise ValueError(f"{variable} must be a number, not {raw!r}") from exc
        return int(number) if isinstance(trait, Int) else number
    return raw
