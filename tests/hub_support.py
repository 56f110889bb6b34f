"""A real JupyterHub for tests: PyPI's jupyterhub, npm's configurable-http-proxy.

The hub's configuration is the example of docs/jupyterhub.md, run as
written, followed by what only a test needs: free 127.0.0.1 ports, a
temporary database, password sign-in (DummyAuthenticator), servers as local
processes of the test's own user (SimpleLocalProcessSpawner), the users and
groups below, and a `harness` service whose token can start servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import ServerProcess, answers, eventually_sync, free_port, wait_started

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "jupyterhub.md"
PROXY = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
LABEXTENSION = REPO / "cell_monitor" / "labextension"
EXTERNAL = "external"
MANAGED = "managed"
PASSWORD = "hub-test-password"
STUDENTS = ("alice", "bob")
INSTRUCTOR = "teacher"
TA = "assistant"
OUTSIDER = "visitor"  # a hub user in no group of the class
HUB_ADMIN = "headmaster"  # a hub admin, in no group
GROUPS = {
    "instructors": [INSTRUCTOR],
    "tas": [TA],
    "team-red": ["alice"],
    "team-blue": ["bob"],
}


def example_config(kind: str) -> str:
    """The jupyterhub_config.py example of docs/jupyterhub.md (`external` or `managed`)."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    heading = {
        EXTERNAL: "# jupyterhub_config.py: cell-monitor as an external service",
        MANAGED: "# jupyterhub_config.py: cell-monitor started by the hub",
    }[kind]
    for block in blocks:
        if block.startswith(heading):
            return str(block)
    raise AssertionError(f"docs/jupyterhub.md has no block starting {heading!r}")


@dataclass
class Hub:
    """One JupyterHub with its proxy; `start()` waits until its API answers."""

    base: Path
    kind: str = EXTERNAL
    class_server_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    hub_port: int = field(default_factory=free_port)
    proxy_api_port: int = field(default_factory=free_port)
    service_token: str = field(default_factory=lambda: secrets.token_hex(32))
    harness_token: str = field(default_factory=lambda: secrets.token_hex(32))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}/hub/api"

    @property
    def log_path(self) -> Path:
        return self.base / "jupyterhub.log"

    def class_server_env(self) -> dict[str, str]:
        """What the class server needs to be this hub's service."""
        return {
            "CELL_MONITOR_HUB_API_URL": self.api_url,
            "CELL_MONITOR_HUB_API_TOKEN": self.service_token,
            "CELL_MONITOR_HUB_PUBLIC_URL": self.url,
            "CELL_MONITOR_HUB_OAUTH_CALLBACK_URL": f"{self.class_server_url}/login/hub/callback",
        }

    def write_config(self) -> Path:
        self.base.mkdir(parents=True, exist_ok=True)
        for user in (*STUDENTS, INSTRUCTOR, TA, OUTSIDER, HUB_ADMIN):
            _prepare_home(self.base / "home" / user)
        harness = f"""

# --- the test harness (tests/hub_support.py) ---
import sys
c.JupyterHub.bind_url = "{self.url}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{self.hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.ConfigurableHTTPProxy.pid_file = {str(self.base / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{self.base / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(self.base / "cookie_secret")!r}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{{HUB_ADMIN!r}}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(self.base / "home" / "{username}")!r}
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.args = [
    "--ServerApp.allow_root=True",  # CI containers run the tests as root
    "--LabApp.extra_labextensions_path={self.base / "labextensions"}",
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.load_groups = {json.dumps({g: {"users": u} for g, u in GROUPS.items()})}
c.JupyterHub.load_roles.append(
    {{"name": "harness", "services": ["harness"],
      "scopes": ["admin:users", "admin:servers", "admin:groups", "tokens", "read:users",
                 "list:users"]}}
)
c.JupyterHub.services.append({{"name": "harness", "api_token": {self.harness_token!r}}})
"""
        path = self.base / "jupyterhub_config.py"
        path.write_text(example_config(self.kind) + harness, encoding="utf-8")
        labextensions = self.base / "labextensions"
        labextensions.mkdir(exist_ok=True)
        if not (labextensions / "cell-monitor").exists():
            (labextensions / "cell-monitor").symlink_to(LABEXTENSION)
        return path

    def start(self, timeout: float = 90.0) -> Hub:
        if not PROXY.exists():
            raise RuntimeError(f"{PROXY} missing: run `npm ci` (configurable-http-proxy)")
        config = self.write_config()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "JPY_"))},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "CELL_MONITOR_URL": self.class_server_url,
            "CELL_MONITOR_HUB_API_TOKEN": self.service_token,
            **self.extra_env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config)],
                cwd=self.base,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its proxy and servers form one group to stop
            )
        ready = lambda: answers(f"{self.url}/hub/api/")  # noqa: E731
        wait_started(self.process, ready, "jupyterhub", timeout, self.log)
        return self

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The hub's REST API with the harness service's token."""
        headers = {"Authorization": f"token {self.harness_token}"}
        return httpx.request(
            method, f"{self.api_url}/{path}", headers=headers, timeout=30, **kwargs
        )

    def user_token(self, user: str) -> str:
        """A new API token of `user` (as their own programs would hold)."""
        response = self.api("POST", f"users/{user}/tokens", json={"note": "test"})
        response.raise_for_status()
        return str(response.json()["token"])

    def start_server(self, user: str, timeout: float = 120.0) -> str:
        """Spawn `user`'s single-user server; returns its URL once it answers."""
        response = self.api("POST", f"users/{user}/server")
        if response.status_code not in (201, 202, 400):  # 400: already running
            raise RuntimeError(f"spawn {user}: {response.status_code} {response.text}")

        def started() -> str | None:
            model = self.api("GET", f"users/{user}").json()
            ready = model.get("server") and not model.get("pending")
            return f"{self.url}{model['server']}" if ready else None

        return eventually_sync(started, timeout, f"{user}'s server", interval=0.5, context=self.log)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM: the hub stops the servers it spawned and its proxy; then the group is gone."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Whatever the hub left behind in its own process group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)


def _prepare_home(home: Path) -> None:
    """A student's lab settings: no news, and the data notice already read."""
    settings = home / ".jupyter" / "lab" / "user-settings"
    files = {
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        settings / "cell-monitor" / "plugin.jupyterlab-settings": {"noticeAcknowledged": True},
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    (home / "notebooks").mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def hub_deployment(base: Path, **server_env: str) -> Iterator[tuple[Hub, ServerProcess]]:
    """A hub with cell-monitor as its external service, both running; stopped after."""
    server_port = free_port()
    hub = Hub(base / "hub", class_server_url=f"http://127.0.0.1:{server_port}")
    data_dir = base / "class-server"
    env = {
        "CELL_MONITOR_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'cell-monitor.sqlite3'}",
        # Every student's server posts from 127.0.0.1: no per-address limit in the way.
        "CELL_MONITOR_INGEST_RATE_PER_SECOND": "0",
        **hub.class_server_env(),
        **server_env,
    }
    server: ServerProcess | None = None
    try:
        hub.start()
        server = ServerProcess(env, port=server_port)  # stopped below even if never ready
        server.wait_ready(timeout=120)
        yield hub, server
    finally:
        if server is not None:
            server.stop()
        hub.stop()


def hub_sign_in(
    http: httpx.Client, class_url: str, user: str, next_: str = "/dashboard"
) -> httpx.Response:
    """The browser's way through the hub's sign-in, with a plain HTTP client.

    /login/hub → the hub's authorize → its login form (username, password,
    _xsrf) → authorize again → the class server's callback. Returns the
    callback's answer (a redirect into the dashboard, or the 403 page).
    """
    response = http.get(f"{class_url}/login/hub", params={"next": next_}, follow_redirects=True)
    if "_xsrf" not in response.text:
        raise AssertionError(f"expected the hub's login form, got {response.status_code}")
    xsrf = re.search(r'name="_xsrf"[^>]*value="([^"]+)"', response.text)
    assert xsrf is not None, "the hub's login form has no _xsrf field"
    login = http.post(
        str(response.url),
        data={"username": user, "password": PASSWORD, "_xsrf": xsrf.group(1)},
        follow_redirects=False,
    )
    # Follow the redirects by hand up to the class server's callback, and stop there.
    while login.is_redirect:
        location = login.headers["location"]
        target = httpx.URL(str(login.url)).join(location)
        login = http.get(target, follow_redirects=False)
        if target.path == "/login/hub/callback":
            return login
    return login
