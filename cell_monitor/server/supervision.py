"""Worker processes end with their supervisor.

`cell-monitor serve --workers N` runs uvicorn's supervisor, which binds the port
and hands the socket to N worker processes. When the supervisor is killed
(kill -9, OOM killer) nothing tells the workers: they keep the port, and a
restart fails with "Address already in use". Each worker therefore asks Linux
for SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG) and, as a fallback
everywhere, watches its parent pid; either way it shuts down gracefully.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)

# Set by `serve` for its workers: the pid they must outlive no longer than.
SUPERVISOR_PID_ENV = "CELL_MONITOR_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.5
# After SIGTERM, the worker's graceful shutdown may take this long before it is cut short.
_GRACE_SECONDS = 20.0


def watch_supervisor() -> None:
    """In a worker of `serve`: exit once the supervisor is gone (no-op elsewhere)."""
    raw = os.environ.get(SUPERVISOR_PID_ENV)
    if not raw or int(raw) == os.getpid():
        return
    supervisor = int(raw)
    _ask_for_death_signal()
    threading.Thread(
        target=_watch, args=(supervisor,), name="cell-monitor-supervisor-watch", daemon=True
    ).start()


def _ask_for_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError) as exc:  # the pid watch still covers it
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)


def _watch(supervisor: int) -> None:
    while os.getppid() == supervisor:
        time.sleep(_POLL_SECONDS)
    log.warning("The supervisor (pid %d) is gone; this worker shuts down", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(_GRACE_SECONDS)
    log.error("Graceful shutdown took over %.0fs; exiting now", _GRACE_SECONDS)
    os._exit(1)
