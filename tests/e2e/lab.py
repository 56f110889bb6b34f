"""A real JupyterLab for end-to-end tests: own process, own temporary dirs."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support import answers, free_port, wait_started

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


# Counts the kernel_info replies that reach the page: JupyterLab's kernel connection
# is ready (and runs what it is sent) only once the first has arrived. The toolbar
# says "idle" earlier, before the kernel's websocket is even open.
_KERNEL_WATCH = """(() => {
  const Native = window.WebSocket;
  window.__kernelInfoReplies = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      if (!String(args[0]).includes('/api/kernels/')) return;
      const decoder = new TextDecoder();
      this.addEventListener('message', event => {
        const text = typeof event.data === 'string' ? event.data : decoder.decode(event.data);
        if (text.includes('"kernel_info_reply"')) window.__kernelInfoReplies += 1;
      });
    }
  };
})()"""


def watch_kernels(page: Any) -> None:
    """Before the page loads JupyterLab: let wait_kernel_ready see the kernel connect."""
    page.add_init_script(_KERNEL_WATCH)


def wait_kernel_ready(page: Any, timeout: float = 60_000) -> None:
    """Wait until the open notebook's kernel is connected and idle (watch_kernels first)."""
    page.locator(".jp-NotebookPanel .cm-HelpButton").wait_for(timeout=timeout)
    page.wait_for_function("() => window.__kernelInfoReplies > 0", timeout=timeout)
    page.locator(".jp-NotebookPanel [data-status='idle']").first.wait_for(timeout=timeout)


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
        headers = {"Authorization": f"token {self.token}"}
        ready = lambda: answers(f"{self.url}/api/status", headers=headers)  # noqa: E731
        wait_started(self.process, ready, "jupyter lab", timeout, self.log)
        return self

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
