"""Ingest throughput with the InfluxDB sink off and on (a script, not a test).

    .venv/bin/python benchmarks/ingest_influx.py [--duration 10] [--rounds 2]
        [--connections 16] [--batch 10] [--database-url postgresql://...]
        [--influxdb-url http://127.0.0.1:8086]

Each run starts `cell-monitor serve` (one worker, 127.0.0.1, a fresh SQLite file
unless --database-url is given), drives POST /api/v1/events with wrk for
--duration seconds (a Lua script makes every eventId unique), and stops the
server. Runs alternate sink off / sink on, --rounds times. With the sink on it
also waits until InfluxDB holds every stored execution and reports how long
that took after the load ended. Without --influxdb-url a throwaway influxd is
started (scripts/start-influxd.sh) and stopped at the end. Every process the
script starts is stopped by it; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from signin import instructor_headers, server_env
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import ServerProcess  # noqa: E402 - after the path is set

LUA = r"""
-- POST batches of cell_executed events; every eventId is unique.
local counter = 0
local prefix = "%(prefix)s"
local batch = %(batch)d
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
end

request = function()
  local now = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ")
  local events = {}
  for i = 1, batch do
    counter = counter + 1
    local student = (counter * 7 + thread_id) %% 300
    events[i] = string.format(
      '{"eventId":"%%s-%%d-%%d","eventType":"cell_executed","eventTime":"%%s",' ..
      '"emailAddress":"student%%d@example.org","notebookPath":"lesson%%d.ipynb",' ..
      '"sessionId":"s%%d","cellIndex":%%d,"code":"x = %%d","hasError":%%s,' ..
      '"executionDurationMs":%%d.5}',
      prefix, thread_id, counter, now, student, counter %% 5, student, counter %% 40,
      counter, (counter %% 10 == 0) and "true" or "false", counter %% 900)
  end
  return wrk.format("POST", "/api/v1/events", {["Content-Type"] = "application/json"},
    "[" .. table.concat(events, ",") .. "]")
end
"""


@dataclass
class Run:
    mode: str
    requests_per_s: float
    events_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    busy_before: float = 0.0
    server_cpu_ms_per_1000: float = 0.0
    catch_up_s: float | None = None
    points: int | None = None
    stored: int | None = None


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of CPU time (all cores) spent busy over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def wait_for_quiet(limit: float = 0.25, patience: float = 180) -> float:
    """Other work on this machine skews the figures: wait until it is (nearly) idle."""
    deadline = time.monotonic() + patience
    busy = cpu_busy()
    while busy > limit and time.monotonic() < deadline:
        print(f"machine {busy:.0%} busy; waiting before the next run", file=sys.stderr)
        time.sleep(4)
        busy = cpu_busy()
    return busy


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fresh_database(url: str | None, run_dir: Path) -> tuple[str, str | None]:
    """A new, empty database for one run: a SQLite file, or a PostgreSQL database
    created next to the one `url` names (dropped afterwards); (url, name to drop)."""
    if url is None:
        return f"sqlite:///{run_dir / 'bench.sqlite3'}", None
    name = f"cell_monitor_bench_influx_{uuid.uuid4().hex[:8]}"
    admin(url, f"CREATE DATABASE {name}")
    return str(make_url(url).set(database=name).render_as_string(hide_password=False)), name


def admin(url: str, statement: str) -> None:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def wrk(
    url: str, script: Path, duration: int, connections: int, threads: int, cpus: str | None
) -> str:
    command = [
        *(["taskset", "-c", cpus] if cpus is not None else []),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if result.returncode != 0:
        raise SystemExit(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse(output: str, mode: str, batch: int) -> Run:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # Lines of the latency distribution ("     50%   43.18ms"), not the thread stats.
    p50 = re.search(r"^\s+50%\s+(\S+)$", output, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)$", output, re.M).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Run(mode, rps, rps * batch, _ms(p50), _ms(p99), errors)


def stored_executions(base: str) -> int:
    # Generous: on a shared machine the first read after the load can be slow.
    headers = instructor_headers(base)
    stats = httpx.get(f"{base}/api/v1/stats", headers=headers, timeout=180).json()
    return int(stats["executions"])


def influx_points(influx: str, database: str) -> int:
    response = httpx.post(
        f"{influx}/query",
        params={"db": database},
        data={"q": "SELECT count(has_error) FROM cell_execution"},
        timeout=180,
    )
    series = response.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def wait_caught_up(base: str, influx: str, database: str, run: Run) -> None:
    """Until InfluxDB holds as many executions as the store (both read each time:
    requests still in flight when wrk stopped may commit a moment later)."""
    started = time.monotonic()
    points = stored = 0
    while time.monotonic() - started < 120:
        stored = stored_executions(base)
        points = influx_points(influx, database)
        if points == stored:
            run.catch_up_s = time.monotonic() - started
            break
        time.sleep(0.1)
    run.points, run.stored = points, stored


def start_server(env: dict[str, str], cpus: str | None) -> ServerProcess:
    prefix = ["taskset", "-c", cpus] if cpus is not None else []
    return ServerProcess(env, prefix=prefix, migrate=True).wait_ready()


def one_run(args: argparse.Namespace, mode: str, influx: str, work: Path) -> Run:
    run_dir = work / f"{mode}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUXDB_", "CELL_MONITOR_"))}
    env["CELL_MONITOR_DATA_DIR"] = str(run_dir)
    env["CELL_MONITOR_LOG_LEVEL"] = "WARNING"
    env.update(server_env())
    env["DATABASE_URL"], created = fresh_database(args.database_url, run_dir)
    database = f"bench_{uuid.uuid4().hex[:8]}"
    if mode == "sink on":
        env["INFLUXDB_URL"], env["INFLUXDB_BUCKET"] = influx, database
    script = run_dir / "events.lua"
    script.write_text(LUA % {"prefix": uuid.uuid4().hex[:12], "batch": args.batch})
    busy = wait_for_quiet(args.quiet_below, args.patience)
    server_cpus, load_cpus = ("0", "1") if args.pin else (None, None)
    server = start_server(env, server_cpus)
    base = server.url
    try:
        wrk(base, script, 2, args.connections, args.threads, load_cpus)  # warm-up
        cpu_before = cpu_seconds(server.process.pid)
        output = wrk(base, script, args.duration, args.connections, args.threads, load_cpus)
        cpu_used = cpu_seconds(server.process.pid) - cpu_before
        run = parse(output, mode, args.batch)
        run.busy_before = busy
        events = max(1.0, run.events_per_s * args.duration)
        run.server_cpu_ms_per_1000 = cpu_used * 1_000_000 / events
        if mode == "sink on":
            wait_caught_up(base, influx, database, run)
        return run
    finally:
        server.stop()
        if mode == "sink on":
            httpx.post(f"{influx}/query", data={"q": f'DROP DATABASE "{database}"'}, timeout=30)
        if created:
            admin(args.database_url, f"DROP DATABASE IF EXISTS {created} WITH (FORCE)")


def report(runs: list[Run], args: argparse.Namespace) -> str:
    lines = [
        "| run | sink | requests/s | events/s | p50 ms | p99 ms | errors | "
        "InfluxDB caught up after | points / stored | server CPU ms per 1000 events | "
        "CPU busy before |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for index, run in enumerate(runs, 1):
        caught = f"{run.catch_up_s:.2f} s" if run.catch_up_s is not None else "-"
        points = f"{run.points} / {run.stored}" if run.points is not None else "-"
        lines.append(
            f"| {index} | {run.mode} | {run.requests_per_s:.0f} | {run.events_per_s:.0f} | "
            f"{run.p50_ms:.1f} | {run.p99_ms:.1f} | {run.errors} | {caught} | {points} | "
            f"{run.server_cpu_ms_per_1000:.0f} | {run.busy_before:.0%} |"
        )
    off = statistics.median(r.events_per_s for r in runs if r.mode == "sink off")
    on = statistics.median(r.events_per_s for r in runs if r.mode == "sink on")
    cpu_off = statistics.median(r.server_cpu_ms_per_1000 for r in runs if r.mode == "sink off")
    cpu_on = statistics.median(r.server_cpu_ms_per_1000 for r in runs if r.mode == "sink on")
    pinned = ", server pinned to CPU 0, wrk and influxd to CPU 1" if args.pin else ""
    lines.append("")
    lines.append(
        f"Median events/s: sink off {off:.0f}, sink on {on:.0f} "
        f"({(on - off) / off * 100:+.1f} %). Median server CPU per 1000 events: "
        f"{cpu_off:.0f} ms off, {cpu_on:.0f} ms on ({(cpu_on - cpu_off) / cpu_off * 100:+.1f} %). "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"{args.batch} events per request{pinned}."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10, help="events per request")
    parser.add_argument(
        "--database-url",
        help="postgresql://… to run on PostgreSQL (a fresh database per run is created on "
        "that server); default: a fresh SQLite file per run",
    )
    parser.add_argument("--influxdb-url", help="default: a throwaway influxd")
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.25,
        help="wait until the machine's CPU is less busy than this before each run",
    )
    parser.add_argument("--patience", type=float, default=180, help="longest wait (s)")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="server on CPU 0, wrk and influxd on CPU 1 (InfluxDB as if on another machine)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="cell-monitor-bench-"))
    influx_dir = work / "influxd"
    influx = args.influxdb_url
    try:
        if influx is None:
            pin = ["taskset", "-c", "1"] if args.pin else []
            started = subprocess.run(
                [*pin, str(ROOT / "scripts" / "start-influxd.sh"), str(influx_dir)],
                capture_output=True,
                text=True,
                check=True,
            )
            influx = started.stdout.strip()
        runs = []
        for _ in range(args.rounds):
            for mode in ("sink off", "sink on"):
                runs.append(one_run(args, mode, influx, work))
                print(runs[-1], file=sys.stderr)
        print(report(runs, args))
        # The figures count only if every request was answered and, with the
        # sink on, InfluxDB ended up holding every stored execution.
        bad = [r for r in runs if r.errors or (r.mode == "sink on" and r.points != r.stored)]
        if bad:
            raise SystemExit(f"{len(bad)} run(s) failed: errors or points missing")
    finally:
        if args.influxdb_url is None:
            subprocess.run([str(ROOT / "scripts" / "start-influxd.sh"), "--stop", str(influx_dir)])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
