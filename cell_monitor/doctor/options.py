"""What a doctor run looks at: the settings, the API to probe, the JupyterLab origin."""

from __future__ import annotations

from dataclasses import dataclass, field

from cell_monitor.config import Settings


@dataclass(frozen=True)
class DoctorOptions:
    settings: Settings
    # Base URL of the API to probe; default from CELL_MONITOR_HOST/PORT.
    server_url: str | None = None
    # Origins JupyterLab is served from (the CORS check); empty: found running servers.
    jupyter_origins: tuple[str, ...] = ()
    # Browser code posts to the API itself (not cell-monitor's extension, which goes
    # through its Jupyter server): only then does a missing CORS origin matter.
    direct_browser_clients: bool = False
    # Longest time one check may take before it is reported as timed out.
    check_timeout: float = 10.0
    # No event stored for this long is reported (the extension may not be sending).
    stale_after_seconds: float = 30 * 60
    # Statements running longer than this are the guide's slow queries.
    slow_query_seconds: float = 5 * 60
    only: tuple[str, ...] = field(default=())

    @property
    def api_url(self) -> str:
        if self.server_url:
            return self.server_url.rstrip("/")
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.settings.port}"
