"""How fast the dashboard's endpoints answer for a large class.

Starts `cell-monitor serve` (SQLite in a temporary directory, or --database-url),
posts S students x E cell executions over C cells through the public API, then
times each endpoint the dashboard calls (R requests each, one at a time) and
prints p50 / p95 / max in milliseconds and the response size.

    .venv/bin/python benchmarks/dashboard_queries.py --students 200 --executions 500 \
        [--cells 30] [--repeat 20] [--database-url postgresql://postgres@127.0.0.1/bench]

A PostgreSQL database given by URL must exist and be empty; it is migrated here.
The server gets the test suite's instructor account (tests/support.py); the
dashboard's endpoints are requested signed in. Before timing, the stored counts
are checked against what was posted (`GET /api/v1/stats`); exit status 1 when
they differ.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import ServerProcess, instructor_headers

ERRORS = [
    ("NameError", "name 'df' is not defined"),
    ("KeyError", "'price'"),
    ("TypeError", "unsupported operand type(s) for +: 'int' and 'str'"),
    ("IndexError", "list index out of range"),
]


def start_server(database_url: str, data_dir: str) -> ServerProcess:
    env = {
        "DATABASE_URL": database_url,
        "CELL_MONITOR_DATA_DIR": data_dir,
        "CELL_MONITOR_LOG_LEVEL": "WARNING",
        "CELL_MONITOR_MAX_EVENTS_PER_REQUEST": "5000",
    }
    return ServerProcess(env, migrate=True).wait_ready()


def class_events(students: int, executions: int, cells: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    events = []
    for s in range(students):
        for e in range(executions):
            cell = min(cells - 1, e * cells // executions)
            error = rng.choice(ERRORS) if rng.random() < 0.15 else None
            body: dict[str, Any] = {
                "eventId": str(uuid.uuid4()),
                "eventType": "cell_executed",
                "eventTime": (start + timedelta(seconds=e * 10 + s % 10)).isoformat(),
                "emailAddress": f"student{s}@example.org",
                "userName": f"Student {s}",
                "teamName": f"Team {s % 8}",
                "notebookPath": "lesson.ipynb" if s % 4 else "other.ipynb",
                "cellIndex": cell,
                "code": f"step({cell})",
                "hasError": error is not None,
                "executionDurationMs": 12.5,
                "result": None if error else "ok",
            }
            if error:
                body["errorName"], body["errorMessage"] = error
            events.append({k: v for k, v in body.items() if v is not None})
    return events


def verify(client: httpx.Client, events: list[dict[str, Any]]) -> None:
    """Every posted execution stored once, every failure counted: else exit 1."""
    stats = client.get("/api/v1/stats")
    stats.raise_for_status()
    got = stats.json()
    expected = {
        "events": len(events),
        "executions": len(events),
        "errors": sum(1 for e in events if e["hasError"]),
        "students": len({e["emailAddress"] for e in events}),
    }
    stored = {name: got[name] for name in expected}
    expected["by type"] = {"cell_executed": len(events)}
    stored["by type"] = got["eventsByType"]
    print("stored: " + ", ".join(f"{name} {stored[name]} of {n}" for name, n in expected.items()))
    if stored != expected:
        raise SystemExit("stored counts differ from what was posted")


def time_endpoint(client: httpx.Client, path: str, repeat: int) -> tuple[list[float], int]:
    timings, size = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return timings, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--executions", type=int, default=500, help="per student")
    parser.add_argument("--cells", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time --database-url as an earlier run with the same --students/--executions/"
        "--cells left it (upgraded first) instead of posting",
    )
    args = parser.parse_args()
    if args.reuse and not args.database_url:
        parser.error("--reuse needs --database-url")
    with tempfile.TemporaryDirectory() as data:
        url = args.database_url or f"sqlite:///{Path(data) / 'bench.sqlite3'}"
        server = start_server(url, data)
        try:
            run(server.url, args)
        finally:
            server.stop()


def run(base: str, args: argparse.Namespace) -> None:
    events = class_events(args.students, args.executions, args.cells)
    with httpx.Client(base_url=base, timeout=300, headers=instructor_headers(base)) as client:
        began = time.perf_counter()
        for i in range(0, len(events) if not args.reuse else 0, 5000):
            client.post("/api/v1/events", json=events[i : i + 5000]).raise_for_status()
        seconds = time.perf_counter() - began
        if not args.reuse:
            print(f"posted {len(events)} executions in {seconds:.1f} s")
        verify(client, events)
        paths = [
            "/api/v1/live",
            "/api/v1/notebooks",
            "/api/v1/progress?notebook=lesson.ipynb",
            "/api/v1/hotspots?notebook=lesson.ipynb",
            "/api/v1/hotspots?hours=1",
            "/api/v1/hotspots?hours=24",
            "/api/v1/hotspots",
            "/api/v1/stats",
            "/api/v1/activity?hours=6&source=database",
            f"/api/v1/students/student{min(7, args.students - 1)}@example.org/detail?limit=100",
            "/api/v1/export/students.csv",
            "/api/v1/export/executions.csv?notebook=other.ipynb",
        ]
        print(f"{'endpoint':58} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'bytes':>10}")
        for path in paths:
            repeat = args.repeat if "export/executions" not in path else max(1, args.repeat // 5)
            timings, size = time_endpoint(client, path, repeat)
            timings.sort()
            p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
            print(
                f"{path:58} {statistics.median(timings):8.1f} {p95:8.1f} "
                f"{timings[-1]:8.1f} {size:10d}"
            )


if __name__ == "__main__":
    main()
