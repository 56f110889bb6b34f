"""The JupyterLab side, when run where JupyterLab is: the guide's `jupyter labextension
list` (installed and enabled), the server extension, and events waiting to be sent."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, skipped
from cell_monitor.doctor.options import DoctorOptions

NAME = "jupyter"
LABEXTENSION = "cell-monitor"
SERVER_EXTENSION = "cell_monitor"
# Events older than this in the student-side queue mean delivery is failing.
BACKLOG_SECONDS = 300


async def check(options: DoctorOptions) -> CheckResult:
    # Files and SQLite only, but blocking: off the event loop.
    return await asyncio.to_thread(_check)


def _check() -> CheckResult:
    if importlib.util.find_spec("jupyterlab") is None:
        return skipped(NAME, "JupyterLab is not installed here")
    try:
        from jupyter_core.paths import jupyter_config_path, jupyter_data_dir, jupyter_path
    except ImportError:
        return skipped(NAME, "JupyterLab is not installed here")
    findings = []
    installed = _labextension_dir(jupyter_path("labextensions"))
    if installed is None:
        findings.append(_not_installed())
    elif LABEXTENSION in _disabled_labextensions(jupyter_config_path()):
        findings.append(_lab_disabled())
    if not _server_extension_enabled(jupyter_config_path()):
        findings.append(_server_disabled())
    queue = Path(
        os.environ.get("CELL_MONITOR_QUEUE_PATH")
        or Path(jupyter_data_dir()) / "cell_monitor" / "queue.sqlite3"
    )
    waiting, oldest, target = _queue_state(queue)
    if waiting and oldest is not None and time.time() - oldest > BACKLOG_SECONDS:
        findings.append(_backlog(queue, waiting, time.time() - oldest, target))
    summary = f"labextension {'at ' + str(installed) if installed else 'missing'}; " + (
        f"{waiting} event(s) queued" if waiting else "queue empty"
    )
    return found(NAME, *findings, summary=summary, queued=waiting)


def _labextension_dir(paths: list[str]) -> Path | None:
    for base in paths:
        candidate = Path(base) / LABEXTENSION / "package.json"
        if candidate.is_file():
            return candidate.parent
    return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _disabled_labextensions(config_dirs: list[str]) -> set[str]:
    disabled: set[str] = set()
    for base in config_dirs:
        for path in [Path(base) / "labconfig" / "page_config.json"]:
            value = _read_json(path).get("disabledExtensions") or {}
            if isinstance(value, dict):
                disabled.update(name for name, off in value.items() if off)
            elif isinstance(value, list):
                disabled.update(str(name) for name in value)
    return disabled


def _server_extension_enabled(config_dirs: list[str]) -> bool:
    """jpserver_extensions merged as Jupyter does: earlier (user) paths win over later ones."""
    for base in config_dirs:
        files = [Path(base) / "jupyter_server_config.json"]
        files += sorted((Path(base) / "jupyter_server_config.d").glob("*.json"), reverse=True)
        for path in files:
            extensions = _read_json(path).get("ServerApp", {}).get("jpserver_extensions", {})
            if SERVER_EXTENSION in extensions:
                return bool(extensions[SERVER_EXTENSION])
    return False


def _queue_state(path: Path) -> tuple[int, float | None, str | None]:
    if not path.is_file():
        return 0, None, None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return 0, None, None
    try:
        count, oldest = connection.execute(
            "SELECT count(*), min(enqueued_at) FROM events"
        ).fetchone()
        target = _stored_target(connection)
    except sqlite3.Error:
        return 0, None, None
    finally:
        connection.close()
    return int(count), oldest, os.environ.get("CELL_MONITOR_SERVER_URL") or target


def _stored_target(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'client_target'").fetchone()
    except sqlite3.Error:
        return None
    return str(json.loads(row[0]).get("server_url")) if row else None


def _not_installed() -> Finding:
    return Finding(
        id="jupyter.labextension_missing",
        urgency=Urgency.high,
        title="The cell-monitor JupyterLab extension is not installed here",
        detail="`jupyter labextension list` would not show cell-monitor; no event is captured.",
        fix="pip install cell-monitor in the environment JupyterLab runs from (it ships the "
        "prebuilt extension), then restart JupyterLab; no `jupyter lab build` is needed.",
    )


def _lab_disabled() -> Finding:
    return Finding(
        id="jupyter.labextension_disabled",
        urgency=Urgency.high,
        title="The cell-monitor JupyterLab extension is disabled",
        fix="jupyter labextension enable cell-monitor, then reload JupyterLab.",
    )


def _server_disabled() -> Finding:
    return Finding(
        id="jupyter.server_extension_disabled",
        urgency=Urgency.high,
        title="The cell-monitor Jupyter server extension is not enabled",
        detail="The browser's events go through it to the class server.",
        fix="jupyter server extension enable cell_monitor, then restart JupyterLab.",
    )


def _backlog(queue: Path, waiting: int, age: float, target: str | None) -> Finding:
    return Finding(
        id="jupyter.queue_backlog",
        urgency=Urgency.medium,
        title=f"{waiting} event(s) waiting in JupyterLab for {age / 60:.0f} min",
        detail=f"Queue {queue}; class server: {target or 'not configured'}.",
        fix="Check that this machine reaches the class server (`curl <server>/health`), "
        "CELL_MONITOR_SERVER_URL and CELL_MONITOR_INGEST_TOKEN; queued events are sent as "
        "soon as it answers.",
    )
