"""Every script in benchmarks/ runs: a few seconds each on a tiny data set.

Each benchmark is started as its users start it (a subprocess of the
repository's Python, from the repository root) with tiny arguments; the test
checks that it exits 0 and that the counts it prints verify (what was stored
against what was sent). Timings are never checked. Scripts that need wrk,
influxd, Chromium, PostgreSQL or Redis run where those are present (.ci/run
installs them) and are skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import PG_ENV, answers, free_port, wait_started

pytestmark = pytest.mark.benchmarks

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
# Every benchmark script (a file with a __main__ block) and the test that runs it.
SMOKE_TESTS = {
    "bare_app.py": "test_bare_app_answers_like_the_server",
    "dashboard_alert_latency.py": "test_dashboard_alert_latency",
    "dashboard_queries.py": "test_dashboard_queries",
    "help_inbox.py": "test_help_inbox",
    "engagement.py": "test_engagement",
    "dashboard_render.py": "test_dashboard_render",
    "hub_identity.py": "test_hub_identity",
    "ingest.py": "test_ingest",
    "ingest_influx.py": "test_ingest_influx",
    "insight.py": "test_insight",
    "live_latency.py": "test_live_latency",
    "messages_delivery.py": "test_messages_delivery",
    "partitions.py": "test_partitions",
    "pseudonyms.py": "test_pseudonyms",
    "run_activity.py": "test_run_activity",
    "write_path.py": "test_write_path",
}


def run(script: str, *args: str, timeout: float = 600, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set")
    return url


def need(tool: str) -> None:
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed")


def test_every_benchmark_script_has_a_smoke_test() -> None:
    scripts = {
        path.name
        for path in BENCHMARKS.glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    }
    assert scripts == set(SMOKE_TESTS)
    assert all(name in globals() for name in SMOKE_TESTS.values())


def test_bare_app_answers_like_the_server() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "bare_app.py"), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        ready = lambda: answers(f"{url}/health/ready", timeout=1)  # noqa: E731
        wait_started(server, ready, "bare_app.py", timeout=60)
        answer = httpx.post(f"{url}/api/v1/events", json=[{}, {}, {}], timeout=10)
        assert answer.status_code == 202
        assert answer.json() == {"accepted": 3, "duplicates": 0, "truncated": 0, "rejected": []}
    finally:
        server.terminate()
        server.wait(30)


def test_dashboard_queries() -> None:
    out = run(
        "dashboard_queries.py", "--students", "4", "--executions", "30", "--cells", "5",
        "--repeat", "2",
    )  # fmt: skip
    assert "posted 120 executions" in out
    stored = re.search(r"^stored: .*$", out, re.M)
    assert stored, out
    for figure in ("events 120 of 120", "executions 120 of 120", "students 4 of 4"):
        assert figure in stored.group(0)
    assert re.search(r"errors (\d+) of \1\b", stored.group(0))
    timed = [line.split()[0] for line in out.splitlines() if line.startswith("/api/")]
    assert "/api/v1/stats" in timed and "/api/v1/progress?notebook=lesson.ipynb" in timed
    assert len(timed) == 12


@pytest.mark.postgres
def test_partitions() -> None:
    out = run(
        "partitions.py", "--pg-admin-url", pg_admin_url(), "--events", "20000",
        "--students", "20", "--months", "2", "--repeat", "1",
    )  # fmt: skip
    stored = re.findall(r"^stored: .*$", out, re.M)
    assert len(stored) == 1, out
    for figure in ("events 20,000 of", "students' events 20,000 of", "events per type 20,000 of"):
        assert f"{figure} 20,000" in stored[0]
    assert "| progress heatmap |" in out and "| stats |" in out
    assert re.search(r"partitioned: .*prune of the oldest month .*\(\d[\d,]* events", out)


def test_hub_identity() -> None:
    out = run("hub_identity.py", "--events", "20", "--rounds", "3", "--tokens", "10")
    assert "bound 20 of 20 events to the credential's student" in out, out
    assert re.search(r"bind 20 events: median [\d.]+ µs", out), out
    assert "hub token lookup from the cache (10 students known)" in out, out


def test_pseudonyms() -> None:
    out = run("pseudonyms.py", "--events", "50", "--rounds", "2")
    assert out.count("validated 50 of 50, 50 pseudonymized") == 2, out


def test_engagement() -> None:
    out = run(
        "engagement.py", "--students", "3", "--speed", "400", "--seed", "3", "--idle-seconds", "1"
    )
    floor, signals = (line for line in out.splitlines() if "events/student-hour" in line)
    assert floor.startswith("floor (no engagement): 3 students") and "(0 engagement)" in floor
    assert signals.startswith("with engagement: 3 students")
    assert re.search(r"\(\d+ engagement\)", signals)
    assert re.search(r"^events per student-hour: \d\.\d{3}x the floor", out, re.M), out
    assert re.search(r"^server CPU per student-hour: \d\.\d{3}x the floor", out, re.M), out
    # The work counts come from the server's /metrics: a commit per group at least.
    for line in (floor, signals):
        commits, statements = map(int, re.findall(r"(\d+) commits, (\d+) SQL statements", line)[0])
        assert 0 < commits < statements, line
    assert re.search(r"^SQL statements: \d\.\d{3}x the floor", out, re.M), out
    assert "every event sent was accepted" in out
    by_kind = run("engagement.py", "--by-kind", "--repeat", "1", "--batches", "2")
    assert re.search(
        r"^round 0: cell_executed \d+ µs, engagement \d+ µs, notebook_saved", by_kind, re.M
    )
    assert re.search(r"^an engagement event costs \d\.\d{3}x a run", by_kind, re.M), by_kind


@pytest.mark.postgres
def test_ingest() -> None:
    need("wrk")
    pg = pg_admin_url()
    args = ["--backend", "both", "--mode", "both", "-d", "2", "--warmup", "0"]
    out = run("ingest.py", *args, "--students", "5", "--pg-admin-url", pg)
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]
    measured = [row for row in rows if not row.startswith(("| bare ", "| dedup floor "))]
    assert len(measured) == 4, out  # sqlite and postgresql, single and batch
    for row in measured:
        cells = [c.strip() for c in row.strip("|").split("|")]
        stored, acknowledged = (int(n) for n in cells[8].split("/"))
        assert stored >= acknowledged > 0 and cells[-1] == "ok", row
    # PostgreSQL's own dedup-insert floor, measured in the same run, verified.
    floor = next(row for row in rows if row.startswith("| dedup floor "))
    assert floor.rstrip(" |").endswith("ok") and re.search(r"\| [1-9][\d]* rows \|", floor), floor
    postgres_batch = next(row for row in measured if row.startswith("| postgresql | batch"))
    assert "of dedup floor" in postgres_batch, postgres_batch


def test_ingest_influx() -> None:
    need("wrk")
    need("influxd")
    out = run(
        "ingest_influx.py", "--duration", "2", "--rounds", "1", "--connections", "2",
        "--patience", "0",
    )  # fmt: skip
    on = next(line for line in out.splitlines() if "| sink on |" in line)
    points, stored = re.search(r"\| (\d+) / (\d+) \|", on).groups()  # type: ignore[union-attr]
    assert points == stored and int(stored) > 0, out


@pytest.mark.postgres
def test_live_latency() -> None:
    redis = os.environ.get("CELL_MONITOR_TEST_REDIS_URL")
    if not redis:
        pytest.skip("CELL_MONITOR_TEST_REDIS_URL is not set")
    out = run(
        "live_latency.py", "--students", "4", "--dashboards", "2", "--rate", "40",
        "--duration", "2", "--workers", "1", "--generators", "1", "--json",
        BENCH_PG_ADMIN_URL=pg_admin_url(), BENCH_REDIS_URL=redis,
    )  # fmt: skip
    result = json.loads(out)
    assert result["events_stored"] >= result["events_acknowledged"] > 0
    assert result["events_per_dashboard_min"] > 0


@pytest.mark.postgres
def test_messages_delivery() -> None:
    redis = os.environ.get("CELL_MONITOR_TEST_REDIS_URL")
    if not redis:
        pytest.skip("CELL_MONITOR_TEST_REDIS_URL is not set")
    out = run(
        "messages_delivery.py", "--students", "6", "--messages", "2", "--gap", "0.2", "--json",
        BENCH_PG_ADMIN_URL=pg_admin_url(), BENCH_REDIS_URL=redis,
    )  # fmt: skip
    result = json.loads(out)
    # A class message reaches all 6, the hotspot one the 2 with the error; nobody else.
    assert result["deliveries_expected"] == result["deliveries_received"] == 8, out
    assert result["delivered_to_others"] == 0 and result["pollers_failed"] == 0, out


def test_dashboard_alert_latency() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed")
    out = run("dashboard_alert_latency.py", "--students", "3", "--requests", "2")
    assert "2 requests, 3 students" in out
    assert "tiles replaced during the run: 0 of 3" in out


def test_insight() -> None:
    # The script asserts its own counts (attempts clustered, students replayed, and
    # in Chromium the students the replay view shows).
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed")
    args = ["--attempts", "20", "--students", "3", "--hours", "0.2", "--requests", "2"]
    out = run("insight.py", *args)
    assert "clusters of one cell, 20 attempts" in out
    assert "clusters of one question, 20 answers" in out
    assert "replay of 3 students" in out
    assert re.search(r"one replay step in Chromium \(3 students, \d+ shown\)", out), out


def test_help_inbox() -> None:
    redis = os.environ.get("CELL_MONITOR_TEST_REDIS_URL")
    if not redis:
        pytest.skip("CELL_MONITOR_TEST_REDIS_URL is not set")
    out = run(
        "help_inbox.py", "--students", "6", "--workers", "2", "--connections", "1",
        "--ingest-seconds", "1", "--pace", "0", "--claims", "6", "--claim-pace", "0",
        "--rounds", "1", "--json",
        BENCH_PG_ADMIN_URL=pg_admin_url(), BENCH_REDIS_URL=redis,
    )  # fmt: skip
    result = json.loads(out)
    # Every student saw their request open and then claimed (none missed).
    assert result["ask"] == {**result["ask"], "count": 6, "missed": 0}
    assert result["claim"] == {**result["claim"], "count": 6, "missed": 0}
    assert result["ingest_events_per_s_without_polls"] > 0
    assert result["ingest_events_per_s_with_polls"] > 0
    # The server's CPU was read for each round, with and without the long-polls.
    assert len(result["server_us_per_event_without_polls"]) == 1
    assert all(u > 0 for u in result["server_us_per_event_with_polls"])


def test_dashboard_render() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed")
    out = run("dashboard_render.py", "--students", "3", "--updates", "2")
    # Every tile drawn (the script waits for 3), every status change seen in a frame.
    found = re.search(r"\b3 students: first render .* over (\d+) frames; tiles touched", out)
    assert found and int(found.group(1)) >= 4, out  # 2 updates x (help, dismissal)


@pytest.mark.postgres
def test_write_path() -> None:
    args = ["--groups", "2", "--group-size", "50", "--students", "5"]
    out = run("write_path.py", *args, "--pg-admin-url", pg_admin_url())
    assert "stored: events 150 of 150, per-type counters 150 of 150" in out, out
    assert "| report: latest_runs |" in out and "cell_executions) |" in out
    assert "PostgreSQL backend CPU:" in out, out
    out = run("write_path.py", *args, "--backend", "sqlite")
    assert "stored: events 150 of 150, per-type counters 150 of 150" in out, out


def test_run_activity() -> None:
    out = run("run_activity.py", "--rounds", "1", "--groups", "5")
    found = re.search(r"plain run ([\d.]+) statements, .* run with edits ([\d.]+) statements", out)
    # A run's edits ride its latest_runs row: no statement of their own.
    assert found and found.group(1) == found.group(2), out
