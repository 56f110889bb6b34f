"""Settings for CLI commands, with configuration errors turned into readable exits."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from cell_monitor.config import ConfigError, Settings


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or a readable exit naming the variable."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
        settings.effective_database_url  # noqa: B018 - validates DATABASE_URL early
        return settings
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:
                lines.append(f"  {_variable_name(str(error['loc'][0]))}: {message}")
            else:
                lines.append(f"  {message}")
        raise click.ClickException("invalid configuration:\n" + "\n".join(lines)) from exc
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _variable_name(field: str) -> str:
    known = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}
    if field.startswith("influxdb_"):
        return field.upper()
    return known.get(field, f"CELL_MONITOR_{field.upper()}")
