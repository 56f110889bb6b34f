"""`serve --workers 2` whose supervisor is killed with SIGKILL: the workers go, the port frees."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from tests.support import ServerProcess, eventually_sync, free_port, is_config_variable

pytestmark = pytest.mark.slow

DEADLINE = 60.0


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if is_config_variable(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has exited already


def _port_free(port: int) -> bool:
    # As uvicorn binds: SO_REUSEADDR, so only a listener (not TIME_WAIT) blocks it.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_exit_when_the_supervisor_is_killed(
    redis_url: str, channel: str, tmp_path: Path
) -> None:
    env = {
        "CELL_MONITOR_DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": redis_url,
        "CELL_MONITOR_REDIS_CHANNEL": channel,
    }
    port = free_port()
    first = ServerProcess(env, "--workers", "2", port=port).wait_ready(DEADLINE)
    workers: list[int] = []
    try:
        supervisor = first.process.pid

        def two_workers() -> bool:
            return len([c for c in _children(supervisor) if _alive(c)]) >= 2

        eventually_sync(two_workers, DEADLINE, "two worker processes")
        workers.extend(c for c in _children(supervisor) if _alive(c))
        assert not _port_free(port)

        os.kill(supervisor, signal.SIGKILL)
        first.process.wait(DEADLINE)

        eventually_sync(lambda: not any(_alive(w) for w in workers), DEADLINE, "the workers exit")
        eventually_sync(lambda: _port_free(port), DEADLINE, "the port is free again")
        second = ServerProcess(env, "--workers", "2", port=port).wait_ready(DEADLINE)
        try:
            assert "Address already in use" not in second.output()
        finally:
            second.stop()
    finally:
        first.stop()
        for worker in workers:  # left behind only when the test failed
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
