"""Which process listens on a TCP port (Linux /proc; what `lsof -i :PORT` would say).

Best effort: other users' processes are invisible without privileges, and other
systems have no /proc; then the finding just tells the operator to run lsof.
"""

from __future__ import annotations

import os
from pathlib import Path

_LISTEN = "0A"
PROC = Path("/proc")


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == _LISTEN
                and int(fields[1].split(":")[1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes


def port_owner(port: int) -> str | None:
    """`pid 1234 (postgres)` for the process listening on `port`, when it can be seen."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in targets:
                    name = (entry / "comm").read_text().strip()
                    return f"pid {entry.name} ({name})"
        except OSError:
            continue
    return None
