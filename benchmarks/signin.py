"""Benchmarks as an instructor: the account of started servers and signing in.

Servers the benchmarks start get an `admin` account with a password made for
the run, and no ingest rate limit (a load generator is exactly what the limit
exists to stop). For a server started elsewhere (`--server URL`), set
BENCH_USERNAME / BENCH_PASSWORD to an account of that server.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request

USERNAME = os.environ.get("BENCH_USERNAME", "admin")
# Kept in the environment: processes the benchmark spawns sign in with it too.
PASSWORD = os.environ.setdefault("BENCH_PASSWORD", f"bench-{secrets.token_urlsafe(12)}")
COOKIE = "cell_monitor_session"


def server_env() -> dict[str, str]:
    """Settings for a server started by a benchmark."""
    return {
        "CELL_MONITOR_INITIAL_ADMIN_PASSWORD": PASSWORD,
        "CELL_MONITOR_INGEST_RATE_PER_SECOND": "0",
        "CELL_MONITOR_WS_CONNECTIONS_PER_USER": "10000",
    }


def instructor_headers(url: str) -> dict[str, str]:
    """Sign in on `url`; the headers (session cookie) of an instructor's requests."""
    body = json.dumps({"username": USERNAME, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{url}/login", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            if name.strip() == COOKIE:
                return {"Cookie": f"{COOKIE}={rest.split(';', 1)[0]}"}
    raise RuntimeError(f"signing in on {url} gave no session cookie")
