"""Settings for CLI commands, with configuration errors turned into readable exits."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from cell_monitor.config import ConfigError, Settings, env_name


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
                lines.append(f"  {env_name(str(error['loc'][0]))}: {message}")
            else:
                lines.append(f"  {message}")
        raise click.ClickException("invalid configuration:\n" + "\n".join(lines)) from exc
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
