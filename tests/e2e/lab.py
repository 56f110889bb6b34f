"""A real JupyterLab for end-to-end tests: own process, own temporary dirs."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
LABEXTENSION = REPO / "cell_monitor" / "labextension"


def write_json(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))


def notebook(*sources: str) -> dict[str, Any]:
    """An nbformat 4 notebook with one code cell per source, on the python3 kernel."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "id": f"cell-{index}",
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for index, source in enumerate(sources)
        ],
    }


class JupyterLabProcess:
    """`jupyter lab` with the cell-monitor extensions, isolated from the user's setup."""

    def __init__(self, base: Path, env: dict[str, str], settings: dict[str, Any]) -> None:
        self.base = base
        self.root = base / "notebooks"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        # The freshly built extension, ahead of the copy `pip install -e` put
        # into the environment (extra_labextensions_path is searched first).
        self.labextensions = base / "labextensions"
        self.labextensions.mkdir(parents=True, exist_ok=True)
        (self.labextensions / "cell-monitor").symlink_to(LABEXTENSION)
        settings_dir = base / "lab-settings"
        write_json(
            settings_dir
            / "@jupyterlab"
            / "apputils-extension"
            / "notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )
        write_json(settings_dir / "cell-monitor" / "plugin.jupyterlab-settings", settings)
        self.env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(base / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"),
            "IPYTHONDIR": str(base / "ipython"),
            "CELL_MONITOR_QUEUE_PATH": str(base / "queue.sqlite3"),
        }
        self.env.pop("JUPYTERHUB_USER", None)  # unless the test sets it
        self.env.update(env)
        self.log_path = base / "jupyter-lab.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> JupyterLabProcess:
        command = [
            sys.executable, "-m", "jupyterlab",
            "--allow-root", "--no-browser",
            f"--port={self.port}", "--ip=127.0.0.1",
            f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            f"--LabApp.extra_labextensions_path={self.labextensions}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log()}")
            try:
                if self.api("GET", "api/status").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"jupyter lab not ready after {timeout}s:\n{self.log()}")

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"token {self.token}"}
        return httpx.request(method, f"{self.url}/{path}", headers=headers, timeout=10, **kwargs)

    def monitor_status(self) -> dict[str, Any]:
        response = self.api("GET", "cell-monitor/status")
        response.raise_for_status()
        return dict(response.json())

    def open_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
