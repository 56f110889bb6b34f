"""A private redis-server for tests that stop, pause or lock down their Redis."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

from tests.support import free_port, missing_service, wait_started

# What `redis-cli ping` prints when the server is up (with a password: still up).
_UP = ("PONG", "NOAUTH Authentication required.")


class RedisServer:
    """redis-server on a free port, nothing saved to disk; started by `start()`."""

    def __init__(self, directory: Path, password: str | None = None) -> None:
        if shutil.which("redis-server") is None:
            missing_service("redis-server is not installed")
        self.port = free_port()
        self.directory = directory
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_started(self.process, self._answers, "redis-server", timeout=10)
        return self

    def _answers(self) -> bool:
        ping = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
        )
        return ping.stdout.strip() in _UP

    def stop(self) -> None:
        """Stop it (SIGKILL: an outage, not a shutdown); `start()` brings it back."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # also ends a paused one
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Hang without dying: connections stay open, nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
