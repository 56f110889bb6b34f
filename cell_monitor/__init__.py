"""cell-monitor: real-time learning analytics for classrooms that teach Python in Jupyter.

Importing this package stays cheap: the class server (FastAPI) and the Jupyter
server extension each live in their own subpackage, imported only when used.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("cell-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt extension shipped in this package."""
    return [{"src": "labextension", "dest": "cell-monitor"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The Jupyter server extension (enabled on install by jupyter-config/)."""
    from cell_monitor.jupyter_ext.app import CellMonitorExtension

    return [{"module": "cell_monitor.jupyter_ext.app", "app": CellMonitorExtension}]
