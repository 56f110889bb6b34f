"""Code insight at class scale: clusters of one cell and of a test question, and a replay
step in the browser.

Starts `cell-monitor serve` on a throwaway SQLite file, posts A students' attempts at
one cell (variants of a few solutions, written differently, some failing), each followed
by a run of the test cell below it (question q1: passed when the attempt ran without
error), and a class of S students working for H hours, then prints:
- GET /api/v1/clusters for that cell: p50 / p95 over N requests (the first, which fills
  the per-process shape cache, reported apart);
- GET /api/v1/clusters for question q1 (each student's answer found above the test
  cell, among their runs before the test): the same figures;
- GET /api/v1/replay over the H hours: time and size of the answer;
- one replay step in Chromium (the slider moved to a new moment, the grid, lists and
  heatmap redrawn): p50 / p95 over N steps.

    .venv/bin/python benchmarks/insight.py [--attempts 500] [--students 200] [--hours 2]
    .venv/bin/python benchmarks/insight.py --no-browser \
        --pg-admin-url postgresql://postgres@127.0.0.1:5432/postgres   # a fresh PostgreSQL database
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dashboard_support import (  # noqa: E402 - after the path is set
    dashboard_context,
    open_dashboard,
    post_events,
    server_with_class,
    student_identity,
    sync_api_client,
)
from tests.support import ServerProcess, event  # noqa: E402

SOLUTIONS = [
    ("def area(r):\n    return 3.14159 * r ** 2", None),
    ("def area(r):\n    return 3.14159 * r * 2", "AssertionError"),
    ("import math\n\ndef area(r):\n    return math.pi * r ** 2", None),
    ("def area(r):\n    return r ** 2 * pi", "NameError"),
    ("def area(r)\n    return 3.14 * r ** 2", "SyntaxError"),
]
NOTEBOOK = "bench.ipynb"


def attempt(i: int, rng: random.Random, at: datetime) -> dict[str, Any]:
    code, error = SOLUTIONS[rng.randrange(len(SOLUTIONS))]
    # The same solution written differently: names, spacing, comments.
    name = rng.choice(["r", "radius", "x", "rad"])
    code = code.replace("(r)", f"({name})").replace(" r ", f" {name} ").replace("* r", f"* {name}")
    if rng.random() < 0.3:
        code = "# my answer\n" + code.replace(" ** ", "**")
    return event(
        **student_identity(i),
        notebookPath=NOTEBOOK,
        cellIndex=4,
        cellId="c4",
        code=code,
        hasError=error is not None,
        errorName=error,
        errorMessage=f"{error}: wrong" if error else None,
        eventTime=at.isoformat(),
    )


def test_run(answer: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The run of q1's test cell (cell 5) after `answer`: it passes when the answer ran ok."""
    passed = not answer["hasError"]
    fields = {k: v for k, v in answer.items() if k not in ("errorName", "errorMessage")}
    failure = {} if passed else {"errorName": "AssertionError", "errorMessage": "AssertionError"}
    return {
        **fields,
        **failure,
        "eventId": str(uuid.uuid4()),
        "eventTime": at.isoformat(),
        "cellIndex": 5,
        "cellId": "c5",
        "code": "grader.check('q1')",
        "hasError": not passed,
        "tests": [{"question": "q1", "passed": passed, "kind": "otter"}],
    }


def class_hours(students: int, hours: float, rng: random.Random) -> list[dict[str, Any]]:
    """A run per student about every 90 s, a few failing streaks and help requests."""
    end = datetime.now(timezone.utc)
    start = end - timedelta(hours=hours)
    out = []
    for i in range(students):
        t = start + timedelta(seconds=rng.uniform(0, 90))
        cell = 0
        while t < end:
            failed = rng.random() < 0.2
            out.append(
                event(
                    **student_identity(i),
                    notebookPath=NOTEBOOK,
                    cellIndex=cell,
                    cellId=f"c{cell}",
                    code=f"step_{cell}()",
                    hasError=failed,
                    errorName="ValueError" if failed else None,
                    errorMessage="ValueError: bad" if failed else None,
                    eventTime=t.isoformat(),
                )
            )
            if not failed:
                cell = min(cell + 1, 39)
            if rng.random() < 0.01:
                out.append(event(eventType="help", **student_identity(i), eventTime=t.isoformat()))
            t += timedelta(seconds=rng.uniform(45, 135))
    return out


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"p50 {statistics.median(values):.0f} ms, p95 {p95:.0f} ms"


def time_clusters(
    client: Any, what: str, params: dict[str, Any], args: argparse.Namespace, noun: str
) -> None:
    """Time GET /api/v1/clusters for `params`; every attempt must be in a cluster."""
    first, response = timed_get(client, "/api/v1/clusters", params)
    body = response.json()
    sizes = [c["size"] for c in body["clusters"]]
    assert body["attempts"] == args.attempts, body["attempts"]
    assert sum(sizes) == args.attempts
    timings = [timed_get(client, "/api/v1/clusters", params)[0] for _ in range(args.requests)]
    print(
        f"clusters of {what}, {args.attempts} {noun} → {len(sizes)} clusters "
        f"(largest {max(sizes)}): first {first:.0f} ms, then {percentiles(timings)}"
    )


def timed_get(client: Any, path: str, params: dict[str, Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    response = client.get(path, params=params, timeout=120)
    elapsed = (time.perf_counter() - began) * 1000
    response.raise_for_status()
    return elapsed, response


@contextmanager
def class_server(pg_admin_url: str | None) -> Iterator[ServerProcess]:
    """`cell-monitor serve` on a throwaway SQLite file, or on a fresh PostgreSQL database."""
    if pg_admin_url is None:
        with server_with_class(0) as server:
            yield server
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ingest import fresh_database  # created, then dropped

    with (
        fresh_database("postgresql", pg_admin_url) as url,
        tempfile.TemporaryDirectory() as data,
    ):
        assert url is not None
        env = {
            "CELL_MONITOR_DATA_DIR": data,
            "DATABASE_URL": url,
            "CELL_MONITOR_LOG_LEVEL": "WARNING",
        }
        server = ServerProcess(env, migrate=True).wait_ready(60)
        try:
            yield server
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=500, help="students attempting the cell")
    parser.add_argument("--students", type=int, default=200, help="students in the replay")
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true", help="skip the replay step")
    parser.add_argument(
        "--pg-admin-url", help="run on a fresh database of this PostgreSQL server, not SQLite"
    )
    args = parser.parse_args()
    rng = random.Random(7)
    with class_server(args.pg_admin_url) as server, sync_api_client(server.url) as client:
        now = datetime.now(timezone.utc)
        attempts = [attempt(i, rng, now - timedelta(minutes=5)) for i in range(args.attempts)]
        tests = [test_run(a, now - timedelta(minutes=4)) for a in attempts]
        history = class_hours(args.students, args.hours, rng)
        posted = attempts + tests + history
        for batch in range(0, len(posted), 500):
            post_events(client, posted[batch : batch + 500])
        for what, params, noun in (
            ("one cell", {"notebook": NOTEBOOK, "cell": 4}, "attempts"),
            ("one question", {"notebook": NOTEBOOK, "question": "q1"}, "answers"),
        ):
            time_clusters(client, what, params, args, noun)
        start = (now - timedelta(hours=args.hours)).isoformat()
        replay_ms, response = timed_get(
            client, "/api/v1/replay", {"start": start, "end": now.isoformat(), "notebook": NOTEBOOK}
        )
        replay = response.json()
        assert len(replay["students"]) >= args.students, len(replay["students"])
        print(
            f"replay of {args.students} students x {args.hours:g} h ({len(history)} events): "
            f"{replay_ms:.0f} ms, {len(response.content) / 1e6:.1f} MB, "
            f"{len(replay['frames'])} frames, {len(replay['cells'])} cell changes"
        )
        if not args.no_browser:
            expected = {"students": len(replay["students"])}
            steps = replay_steps(server.url, start, now, args.hours, args.requests, expected)
            print(
                f"one replay step in Chromium ({args.students} students, "
                f"{expected['students']} shown): {percentiles(steps)}"
            )


def replay_steps(
    url: str, start: str, now: datetime, hours: float, count: int, expected: dict[str, int]
) -> list[float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = dashboard_context(browser, url, viewport={"width": 1920, "height": 1080}).new_page()
        open_dashboard(page, url, view="replay")
        page.locator(f"#replay-notebook option[value='{NOTEBOOK}']").wait_for(state="attached")
        local = "%Y-%m-%dT%H:%M"
        page.fill("#replay-start", datetime.fromisoformat(start).astimezone().strftime(local))
        page.fill("#replay-end", (now + timedelta(minutes=1)).astimezone().strftime(local))
        page.select_option("#replay-notebook", NOTEBOOK)
        page.click("#replay-form button[type=submit]")
        page.locator("#replay-summary").filter(has_text="students").wait_for(timeout=120_000)
        # The page shows the replay the API gave (same window: the form's minutes).
        summary = page.locator("#replay-summary").inner_text()
        shown = int(summary.split(" students")[0])
        assert shown == expected["students"], (summary, expected)
        span = hours * 3600 * 1000
        base = datetime.fromisoformat(start).timestamp() * 1000
        steps = page.evaluate(
            """([base, span, count]) => {
                const slider = document.getElementById('replay-slider');
                const out = [];
                for (let i = 1; i <= count; i++) {
                    const began = performance.now();
                    slider.value = String(base + span * i / (count + 1));
                    slider.dispatchEvent(new Event('input', {bubbles: true}));
                    document.body.getBoundingClientRect();  // include layout
                    out.push(performance.now() - began);
                }
                return out;
            }""",
            [base, span, count],
        )
        browser.close()
    return list(steps)


if __name__ == "__main__":
    main()
