"""Log set-up: the user's guide's line format, or one JSON object per line."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from cell_monitor.config import LogFormat, Settings

TEXT_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """The guide's format, with structured context appended as key=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context(record)
        if context:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(context.items()))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


SQL_LOGGERS = ("sqlalchemy", "aiosqlite", "asyncpg")


def configure_logging(settings: Settings) -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one handler."""
    handler = logging.StreamHandler()
    json_lines = settings.log_format == LogFormat.json
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Never below WARNING, whatever the level: at DEBUG/INFO these print SQL with
    # its parameters (event contents, password hashes, session tokens).
    for name in SQL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Alembic narrates every migration step at INFO; `db upgrade` reports itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Access lines for every event POST drown the useful ones; opt in with DEBUG.
    access_level = logging.INFO if settings.log_level == "DEBUG" else logging.WARNING
    logging.getLogger("uvicorn.access").setLevel(access_level)
