"""What engagement signals cost: events per student-hour and server CPU per student-hour.

The same simulated class (`cell-monitor simulate`'s model, same seed, so the
same runs) works through the lesson twice against its own fresh `cell-monitor
serve`: once without engagement events (the floor) and once with them, as
students' JupyterLabs send them (src/engagement.ts: edit counts throttled to one
report per 30 s, a run carrying its own cell's, visibility changes at once).
Each run prints the events per simulated student-hour and the server's CPU
seconds (from /proc) per student-hour, net of what the idle server uses in as
much wall time (measured before the class starts: sweeps and heartbeats cost
the same with no student); the last lines give both as ratios to the floor.
Targets (issue 16): < +20 % events, < +10 % CPU. CPU seconds of a short class
move by ±10 % from run to run on a shared machine, so each run also prints the
work the server did, from its /metrics: commits and SQL statements, which do
not depend on the machine's load. `--by-kind` measures instead what one event
of each type costs the server: batches of runs, engagement reports and saves
posted in turn to one server, its CPU per event and engagement's ratio to a run.
Every event sent must be accepted (exit status 1 otherwise).

Usage (from the repository root; docs/benchmarks.md has the figures):

    .venv/bin/python benchmarks/engagement.py                    # 60 students, speed 40
    .venv/bin/python benchmarks/engagement.py --students 200 --speed 20 --repeat 3
    .venv/bin/python benchmarks/engagement.py --json
    .venv/bin/python benchmarks/engagement.py --by-kind --repeat 5   # CPU per event, by type

Without DATABASE_URL each server uses SQLite in a temporary directory; with it
(PostgreSQL), the database must be empty and migrated, and is used by both runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from signin import server_env

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cell_monitor.simulate import ClassProfile, Sender, Simulation  # noqa: E402
from tests.support import ServerProcess  # noqa: E402 - after the path is set

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    engagement: bool
    students: int
    student_hours: float
    events: int
    engagement_events: int
    accepted: int
    server_cpu_seconds: float  # net of the idle server's
    idle_cpu_seconds: float  # what the idle server used in the same wall time
    commits: int  # group commits, from the server's /metrics
    statements: int  # SQL statements executed

    @property
    def events_per_student_hour(self) -> float:
        return self.events / self.student_hours

    @property
    def cpu_ms_per_student_hour(self) -> float:
        return 1000 * self.server_cpu_seconds / self.student_hours


def server_work(url: str) -> tuple[int, int]:
    """(group commits, SQL statements) so far, from the server's /metrics."""
    commits = statements = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name == "commit_duration_seconds_count":
                commits += sample.value
            elif sample.name == "db_query_duration_seconds_count":
                statements += sample.value
    return int(commits), int(statements)


def idle_cpu_rate(pid: int, seconds: float) -> float:
    """CPU seconds per wall second of the server with no student."""
    before, started = process_cpu(pid), time.monotonic()
    time.sleep(seconds)
    return (process_cpu(pid) - before) / (time.monotonic() - started)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and its children that ended."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


async def simulate(url: str, args: argparse.Namespace, engagement: bool) -> tuple[Simulation, int]:
    profile = ClassProfile(
        students=args.students,
        speed=args.speed,
        seed=args.seed,
        engagement=engagement,
        drain_seconds=120,
    )
    sender = Sender(url, None)
    try:
        simulation = Simulation(profile, sender)
        await simulation.run()
        return simulation, sender.stats.accepted
    finally:
        await sender.aclose()


def one_run(args: argparse.Namespace, engagement: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-engagement-") as workdir:
        env = {
            "CELL_MONITOR_DATA_DIR": str(Path(workdir) / "data"),
            "CELL_MONITOR_LOG_LEVEL": "WARNING",
            **server_env(),
        }
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        server = ServerProcess(env, cwd=Path(workdir)).wait_ready(60)
        try:
            idle_rate = idle_cpu_rate(server.process.pid, args.idle_seconds)
            work_before = server_work(server.url)
            before, started = process_cpu(server.process.pid), time.monotonic()
            simulation, accepted = asyncio.run(simulate(server.url, args, engagement))
            cpu = process_cpu(server.process.pid) - before
            idle = idle_rate * (time.monotonic() - started)
            work = [b - a for a, b in zip(work_before, server_work(server.url), strict=True)]
        finally:
            server.stop()
    by_type = simulation.sender.stats.by_type
    return Run(
        engagement=engagement,
        students=args.students,
        student_hours=sum(s.simulated for s in simulation.students) / 3600,
        events=sum(by_type.values()),
        engagement_events=by_type.get("engagement", 0),
        accepted=accepted,
        server_cpu_seconds=max(0.0, cpu - idle),
        idle_cpu_seconds=idle,
        commits=work[0],
        statements=work[1],
    )


def describe(run: Run) -> str:
    kind = "with engagement" if run.engagement else "floor (no engagement)"
    return (
        f"{kind}: {run.students} students, {run.student_hours:.2f} student-hours, "
        f"{run.events} events ({run.engagement_events} engagement), "
        f"{run.events_per_student_hour:.1f} events/student-hour, "
        f"server CPU {run.cpu_ms_per_student_hour:.0f} ms/student-hour "
        f"(net of {run.idle_cpu_seconds:.2f} s idle); "
        f"{run.commits} commits, {run.statements} SQL statements"
    )


BY_KIND = ("cell_executed", "engagement", "notebook_saved")
BATCH = 40  # events per request, about what the simulated class's sender posts


def kind_event(kind: str, serial: int, start: datetime) -> dict[str, object]:
    """One event of `kind`, as the JupyterLab extension sends it (120 students, 20 cells)."""
    cell = serial % 20
    event: dict[str, object] = {
        "eventId": str(uuid.uuid4()),
        "eventType": kind,
        "eventTime": (start + timedelta(milliseconds=50 * serial)).isoformat(),
        "emailAddress": f"student{serial % 120}@example.org",
        "notebookPath": "lesson.ipynb",
        "sessionId": f"session-{serial % 120}",
        "cellIndex": cell,
        "cellId": f"cell-{cell}",
    }
    if kind == "cell_executed":
        event.update(
            cellType="code",
            code="total = sum(values)\nprint(total)",
            hasError=False,
            executionCount=serial,
            executionDurationMs=5,
            edits=12,
            activeMs=40_000,
        )
    elif kind == "engagement":
        reading = {"cellId": "cell-1", "cellIndex": 1, "edits": 0, "activeMs": 30_000}
        event.update(visible=serial % 2 == 0, idle=False, cells=[reading])
    return event


def cpu_by_kind(args: argparse.Namespace) -> dict[str, list[float]]:
    """Server CPU µs per event of each kind, a round of each kind in turn."""
    start = datetime.now(timezone.utc) - timedelta(hours=6)
    per_event: dict[str, list[float]] = {kind: [] for kind in BY_KIND}
    with tempfile.TemporaryDirectory(prefix="bench-engagement-") as workdir:
        env = {
            "CELL_MONITOR_DATA_DIR": str(Path(workdir) / "data"),
            "CELL_MONITOR_LOG_LEVEL": "WARNING",
            **server_env(),
        }
        server = ServerProcess(env, cwd=Path(workdir)).wait_ready(60)
        serial = 0
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for _ in range(args.repeat):
                    for kind in BY_KIND:
                        before = process_cpu(server.process.pid)
                        for _ in range(args.batches):
                            body = [kind_event(kind, serial + i, start) for i in range(BATCH)]
                            serial += BATCH
                            answer = client.post("/api/v1/events", json=body)
                            if answer.status_code != 202 or answer.json()["accepted"] != BATCH:
                                raise SystemExit(f"{kind}: {answer.status_code} {answer.text}")
                        cpu = process_cpu(server.process.pid) - before
                        per_event[kind].append(cpu / (args.batches * BATCH) * 1e6)
        finally:
            server.stop()
    return per_event


def main_by_kind(args: argparse.Namespace) -> int:
    per_event = cpu_by_kind(args)
    for i in range(args.repeat):
        print(f"round {i}: " + ", ".join(f"{k} {v[i]:.0f} µs" for k, v in per_event.items()))
    ratio = statistics.median(
        e / r for e, r in zip(per_event["engagement"], per_event["cell_executed"], strict=True)
    )
    medians = ", ".join(f"{k} {statistics.median(v):.0f} µs" for k, v in per_event.items())
    print(f"server CPU per event, batches of {BATCH} (median of {args.repeat} rounds): {medians}")
    print(f"an engagement event costs {ratio:.3f}x a run")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--speed", type=float, default=40.0, help="simulated s per real s")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (median)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU measured")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--by-kind", action="store_true", help="CPU per event of each type")
    parser.add_argument("--batches", type=int, default=40, help="--by-kind: requests per round")
    args = parser.parse_args()
    if args.by_kind:
        return main_by_kind(args)
    runs: list[tuple[Run, Run]] = []
    for _ in range(args.repeat):
        floor, signals = one_run(args, False), one_run(args, True)
        runs.append((floor, signals))
        if not args.json:
            print(describe(floor))
            print(describe(signals))
    events = statistics.median(
        s.events_per_student_hour / f.events_per_student_hour for f, s in runs
    )
    cpu = statistics.median(s.cpu_ms_per_student_hour / f.cpu_ms_per_student_hour for f, s in runs)
    statements = statistics.median(s.statements / f.statements for f, s in runs)
    ok = all(r.accepted == r.events for pair in runs for r in pair)
    if args.json:
        pairs = [[asdict(f), asdict(s)] for f, s in runs]
        result = {
            "runs": pairs,
            "events_ratio": events,
            "cpu_ratio": cpu,
            "statements_ratio": statements,
            "all_accepted": ok,
        }
        print(json.dumps(result))
    else:
        print(
            f"events per student-hour: {events:.3f}x the floor ({events - 1:+.1%}; target < +20 %)"
        )
        print(f"server CPU per student-hour: {cpu:.3f}x the floor ({cpu - 1:+.1%}; target < +10 %)")
        print(f"SQL statements: {statements:.3f}x the floor ({statements - 1:+.1%})")
        print("every event sent was accepted" if ok else "SOME EVENTS WERE NOT ACCEPTED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
