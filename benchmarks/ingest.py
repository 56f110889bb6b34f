"""Ingest throughput and latency of cell-monitor over real HTTP, measured with wrk.

Simulated students post cell_executed events with unique eventIds to a running
`cell-monitor serve`; wrk (Debian package `wrk`) drives the load through
benchmarks/ingest.lua, because a Python load generator saturates one core near
1,000 requests/s. Each run prints events/s, requests/s
and latency p50/p95/p99, then verifies the server: every acknowledged event
must be stored (stored/acknowledged >= 1) and re-sent events must come back as
duplicates without changing the count. The same wrk command against
benchmarks/bare_app.py (FastAPI parsing the JSON body, nothing else) gives the
"bare floor" the figures are compared with.

Usage (from the repository root; docs/benchmarks.md has the figures):

    .venv/bin/python benchmarks/ingest.py                          # all, 10 s each
    .venv/bin/python benchmarks/ingest.py --backend postgresql --mode batch -d 15
    .venv/bin/python benchmarks/ingest.py --mode single --rate 3000   # paced load
    .venv/bin/python benchmarks/ingest.py --server http://127.0.0.1:8000 --mode single
    .venv/bin/python benchmarks/ingest.py --json > results.json

Besides the figures, each run reports the cores used by the server, PostgreSQL,
wrk and anything else on the machine, server CPU per event, and (from /metrics)
the events per group commit.

Without --server, every run gets its own server on a free port and a fresh
database: SQLite in a temporary CELL_MONITOR_DATA_DIR, or PostgreSQL database
cell_monitor_bench_<random> created on --pg-admin-url (trust auth), migrated
with `cell-monitor db upgrade` and dropped afterwards; started servers get an
instructor account for the verification and no ingest rate limit
(benchmarks/signin.py). With --server the database is whatever that server
uses; it must be otherwise idle for the verification to hold, have no ingest
token, and BENCH_USERNAME / BENCH_PASSWORD name an instructor account of it.
Everything stays on 127.0.0.1 and every run is bounded by wrk -d. Exit status
1 when any verification fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dedup_floor
from signin import instructor_headers, server_env

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import free_port

HERE = Path(__file__).resolve().parent
LUA_SCRIPT = HERE / "ingest.lua"
BARE_APP = HERE / "bare_app.py"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLK_TCK = os.sysconf("SC_CLK_TCK")

# One cell execution as a student's JupyterLab reports it (tests/support.py's
# event()); {{name}} tokens are filled per event by ingest.lua and event_body().
EVENT_TEMPLATE = {
    "eventId": "{{id}}",
    "eventType": "cell_executed",
    "eventTime": "{{time}}",
    "emailAddress": "student{{student}}@example.org",
    "userName": "Student {{student}}",
    "teamName": "team-{{team}}",
    "sessionId": "session-{{student}}",
    "notebookPath": "lessons/01-loops.ipynb",
    "cellId": "cell-{{cell}}",
    "cellIndex": "{{cell}}",
    "cellType": "code",
    "code": "total = 0\nfor i in range(10):\n    total += i\nprint(total)",
    "executionCount": "{{seq}}",
    "hasError": False,
    "result": "45",
    "executionDurationMs": 12.5,
}
NUMERIC_TOKENS = ("cell", "seq")


@dataclass
class Result:
    target: str  # bare, sqlite, postgresql or the --server URL
    mode: str  # single or batch
    offered_rate: float  # events/s wrk was asked for; 0 = as fast as possible
    connections: int
    batch_size: int
    duration_s: float
    requests: int
    events: int  # acknowledged: sum of "accepted" over 202 responses
    events_per_s: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # non-202 responses and socket errors
    server_cores: float | None = None
    wrk_cores: float | None = None
    db_cores: float | None = None
    other_cores: float | None = None  # anything else busy on the machine meanwhile
    # Server CPU per acknowledged event: steadier than events/s on a shared machine.
    server_us_per_event: float | None = None
    stored: int | None = None
    # From /metrics: how well group commit grouped (events per transaction).
    commits: int | None = None
    events_per_commit: float | None = None
    commit_ms: float | None = None
    resend_ok: bool | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


# --- command line -------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mode", choices=["single", "batch", "both"], default="both")
    parser.add_argument("-d", "--duration", type=int, default=10, help="seconds per run")
    parser.add_argument(
        "-c", "--connections", type=int, help="concurrent clients (default 200 single, 20 batch)"
    )
    parser.add_argument("--batch-size", type=int, default=100, help="events per batch request")
    parser.add_argument("--students", type=int, default=200, help="distinct simulated students")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk -t (shares the cores)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each run")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="offered load in events/s, paced by wrk (default: as fast as the server answers)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="setting for the started servers, e.g. CELL_MONITOR_SQLITE_SYNCHRONOUS=NORMAL",
    )
    parser.add_argument("--server", help="benchmark this running server instead of starting one")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare FastAPI floor")
    parser.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where to create and drop the benchmark databases",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        parser.error("--server-env takes NAME=VALUE")
    for url in filter(None, [args.server, args.pg_admin_url]):
        if urlsplit(url).hostname not in LOOPBACK:
            parser.error(f"{url}: only 127.0.0.1 is benchmarked (a load test is no neighbour)")
    if shutil.which("wrk") is None:
        parser.error("wrk not found; install it (Debian: apt-get install wrk)")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- events -------------------------------------------------------------------


def template_text() -> str:
    text = json.dumps(EVENT_TEMPLATE, separators=(",", ":"))
    for token in NUMERIC_TOKENS:
        text = text.replace(f'"{{{{{token}}}}}"', f"{{{{{token}}}}}")
    return text


def event_body(nonce: str, thread: int, seq: int, students: int, base_ms: int) -> str:
    """Event `seq` of wrk thread `thread`, exactly as ingest.lua built it."""
    student = seq % students
    seconds, millis = divmod(base_ms + seq, 1000)
    values = {
        "id": f"{nonce}-{thread}-{seq}",
        "student": str(student),
        "team": str(student % 8),
        "cell": str(seq % 20),
        "seq": str(seq),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z",
    }
    return re.sub(r"\{\{([a-z]+)\}\}", lambda m: values[m.group(1)], template_text())


# --- HTTP ---------------------------------------------------------------------


def http_json(
    url: str, body: bytes | None = None, timeout: float = 30, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def commit_metrics(url: str) -> dict[str, float]:
    """Group-commit totals from /metrics ({} when the server has no such metrics)."""
    wanted = {
        "commit_group_events_count": "commits",
        "commit_group_events_sum": "events",
        "commit_duration_seconds_sum": "seconds",
    }
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
            text = response.read().decode()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            found[wanted[name]] = float(value)
    return found


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{tail(log_path)}")
        try:
            if http_json(f"{url}/health/ready", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after 60 s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- processes ----------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without settings that would redirect the server."""
    prefixes = ("CELL_MONITOR_", "DATABASE_URL", "REDIS_URL", "INFLUXDB_", "PROMETHEUS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


@dataclass
class Server:
    url: str
    pid: int | None = None  # process group to measure CPU of; None for --server


@contextmanager
def server_process(command: list[str], port: int, env: dict[str, str], workdir: Path):
    """Run `command` (a server on `port`) in its own process group; always stop it."""
    log_path = workdir / "server.log"
    with log_path.open("wb") as log_file:
        # A new session, so that stopping it also stops uvicorn's worker processes.
        process = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,  # no stray .env file of the caller's directory
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, process, log_path)
            yield Server(url=url, pid=process.pid)
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group (uvicorn waits for its workers), SIGKILL it after 20 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def bare_server(workers: int) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, str(BARE_APP), "--port", str(port), "--workers", str(workers)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-bare-") as workdir,
        server_process(command, port, clean_env(), Path(workdir)) as server,
    ):
        yield server


@contextmanager
def cell_monitor_server(backend: str, args: argparse.Namespace) -> Iterator[Server]:
    """`cell-monitor serve` on a fresh database of `backend`, removed afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as workdir:
        data_dir = str(Path(workdir) / "data")
        settings = dict(item.split("=", 1) for item in args.server_env)
        env = clean_env(CELL_MONITOR_DATA_DIR=data_dir, **{**server_env(), **settings})
        with fresh_database(backend, args.pg_admin_url) as database_url:
            if database_url:
                env["DATABASE_URL"] = database_url
                cli(["db", "upgrade"], env, Path(workdir))
            command = [*cli_command(), "serve", "--port", str(port)]
            command += ["--workers", str(args.workers)]
            with server_process(command, port, env, Path(workdir)) as server:
                yield server


def cli_command() -> list[str]:
    # `cell-monitor` of this interpreter's environment, wherever it is installed.
    return [sys.executable, "-m", "cell_monitor.cli"]


def cli(arguments: list[str], env: dict[str, str], workdir: Path) -> None:
    done = subprocess.run(
        [*cli_command(), *arguments], env=env, cwd=workdir, capture_output=True, timeout=120
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise RuntimeError(f"cell-monitor {' '.join(arguments)} failed:\n{output}")


@contextmanager
def fresh_database(backend: str, admin_url: str) -> Iterator[str | None]:
    """A new PostgreSQL database (its URL), dropped afterwards; None for SQLite."""
    if backend == "sqlite":
        yield None
        return
    name = f"cell_monitor_bench_{secrets.token_hex(4)}"
    pg_admin(admin_url, f"CREATE DATABASE {name}")
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        pg_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_admin(admin_url: str, statement: str) -> None:
    import asyncpg  # the `postgres` extra; only needed for PostgreSQL runs

    async def run() -> None:
        connection = await asyncpg.connect(admin_url, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


# --- CPU accounting -----------------------------------------------------------


def cpu_seconds(match: Callable[[int, int, str, int], bool]) -> float:
    """CPU time of every process for which match(pid, pgid, comm, ppid) is true."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if match(int(entry.name), int(fields[2]), comm, int(fields[1])):
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


def busy_seconds() -> float:
    """CPU time processes of the whole machine used (/proc/stat: user, nice, system).

    Interrupt time is left out: loopback TCP of the benchmark itself lands there.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:3]) / CLK_TCK


class CpuMeter:
    """Cores used by the server's process group, PostgreSQL, wrk and everything else.

    "other" is the machine's busy time minus the three: on a shared machine it
    says how much the figures were disturbed.
    """

    def __init__(self, server: Server, backend: str) -> None:
        self.server_pgid = server.pid
        self.watch_db = backend == "postgresql"

    def sample(self) -> dict[str, float]:
        # wrk is the only child reaped during a run, so children's time is wrk's.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        sample = {
            "wrk": children.ru_utime + children.ru_stime,
            "time": time.monotonic(),
            "busy": busy_seconds(),
        }
        if self.server_pgid:
            sample["server"] = cpu_seconds(lambda pid, pgid, comm, ppid: pgid == self.server_pgid)
        if self.watch_db:
            sample["db"] = cpu_seconds(lambda pid, pgid, comm, ppid: comm.startswith("postgres"))
        return sample

    @staticmethod
    def cores(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        elapsed = after["time"] - before["time"]
        cores = {k: (after[k] - before[k]) / elapsed for k in after if k != "time"}
        cores["other"] = cores.pop("busy") - sum(cores.values())
        return {k: round(max(v, 0.0), 2) for k, v in cores.items()}


# --- wrk ----------------------------------------------------------------------


def wrk_command(url: str, args: argparse.Namespace, load: Load, seconds: int) -> list[str]:
    return [
        "wrk", f"-t{args.wrk_threads}", f"-c{load.connections}", f"-d{seconds}s",
        "--timeout", "10s", "--latency", "-s", str(LUA_SCRIPT), f"{url}/api/v1/events",
        "--", load.nonce, str(load.batch_size), str(args.students), str(load.base_ms),
        str(load.template_path), f"{load.rate / load.batch_size / args.wrk_threads:.3f}",
    ]  # fmt: skip


@dataclass
class Load:
    mode: str
    connections: int
    batch_size: int
    nonce: str
    base_ms: int
    template_path: Path
    rate: float  # offered events/s; 0 = closed loop (saturation)


def new_load(mode: str, args: argparse.Namespace, template_path: Path) -> Load:
    batch_size = 1 if mode == "single" else args.batch_size
    connections = args.connections or (200 if mode == "single" else 20)
    # Room for every wrk thread to own at least one connection.
    connections = max(connections, args.wrk_threads)
    nonce, base_ms = secrets.token_hex(6), int(time.time() * 1000)
    return Load(mode, connections, batch_size, nonce, base_ms, template_path, args.rate)


def run_wrk(url: str, args: argparse.Namespace, load: Load, seconds: int) -> dict[str, Any]:
    command = wrk_command(url, args, load, seconds)
    log("  $ " + " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"wrk gave no BENCH_JSON line:\n{done.stdout}\n{done.stderr}")


# --- verification -------------------------------------------------------------


def stored_counts(url: str) -> tuple[int, int]:
    """(events by the students' counters, rows of the events table) from /api/v1/stats."""
    status, stats = http_json(f"{url}/api/v1/stats", headers=instructor_headers(url))
    if status != 200:
        raise RuntimeError(f"GET /api/v1/stats answered {status}: {stats}")
    return int(stats["events"]), sum(stats["eventsByType"].values())


def settled_counts(url: str, timeout: float = 30) -> tuple[int, int]:
    """Counts once requests still in flight when wrk stopped have been committed."""
    deadline = time.monotonic() + timeout
    previous, same = stored_counts(url), 0
    while same < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        current = stored_counts(url)
        same = same + 1 if current == previous else 0
        previous = current
    return previous


def check_stored(result: Result, load_stats: dict[str, Any], before: tuple[int, int], url: str):
    after = settled_counts(url)
    stored, rows = after[0] - before[0], after[1] - before[1]
    result.stored = rows
    acknowledged, sent = result.events, load_stats["events_sent"]
    if rows < acknowledged:
        result.failures.append(f"{acknowledged - rows} acknowledged events are NOT stored")
    if rows > sent:
        result.failures.append(f"{rows} events stored but only {sent} sent")
    if stored != rows:
        result.failures.append(f"stats.events grew by {stored}, the events table by {rows}")
    if load_stats["duplicate_events"]:
        n = load_stats["duplicate_events"]
        result.failures.append(f"{n} fresh events were reported as duplicates")
    return after


def check_resend(
    result: Result, load: Load, args: argparse.Namespace, url: str, counts: tuple[int, int]
):
    """Re-send early events of wrk thread 1: all duplicates, nothing stored."""
    size = 20 if load.mode == "single" else load.batch_size
    # Its first request (events 1..batch size) was only built to check the script.
    first = load.batch_size + 1
    seqs = range(first, first + size)
    events = [event_body(load.nonce, 1, seq, args.students, load.base_ms) for seq in seqs]
    bodies = events if load.mode == "single" else ["[" + ",".join(events) + "]"]
    duplicates = 0
    for body in bodies:
        status, answer = http_json(f"{url}/api/v1/events", body.encode())
        if status != 202 or answer["accepted"]:
            result.failures.append(f"re-sent events answered {status}: {answer}")
            break
        duplicates += answer["duplicates"]
    unchanged = stored_counts(url) == counts
    result.resend_ok = duplicates == size and unchanged
    if not result.resend_ok:
        result.failures.append(
            f"re-sent {size} events: {duplicates} duplicates, count unchanged: {unchanged}"
        )


# --- one run ------------------------------------------------------------------


def measure(target: str, server: Server, mode: str, args: argparse.Namespace, verify: bool):
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        template_path = Path(tmp) / "event.json"
        template_path.write_text(template_text())
        if args.warmup:
            run_wrk(server.url, args, new_load(mode, args, template_path), args.warmup)
        load = new_load(mode, args, template_path)
        before = settled_counts(server.url) if verify else (0, 0)
        commits_before = commit_metrics(server.url) if verify else {}
        meter = CpuMeter(server, target)
        start = meter.sample()
        stats = run_wrk(server.url, args, load, args.duration)
        cores = CpuMeter.cores(start, meter.sample())
        result = to_result(target, load, stats, cores)
        if verify:
            counts = check_stored(result, stats, before, server.url)
            add_commit_figures(result, commits_before, commit_metrics(server.url))
            check_resend(result, load, args, server.url, counts)
        return result


def add_commit_figures(result: Result, before: dict[str, float], after: dict[str, float]):
    if len(before) < 3 or len(after) < 3 or after["commits"] == before["commits"]:
        return
    commits = after["commits"] - before["commits"]
    result.commits = int(commits)
    result.events_per_commit = round((after["events"] - before["events"]) / commits, 1)
    result.commit_ms = round((after["seconds"] - before["seconds"]) / commits * 1000, 2)


def to_result(target: str, load: Load, stats: dict[str, Any], cores: dict[str, float]):
    seconds = stats["duration_us"] / 1e6
    # errors_status counts >= 400 answers, already in other_responses.
    socket_errors = sum(
        v for k, v in stats.items() if k.startswith("errors_") and k != "errors_status"
    )
    result = Result(
        target=target,
        mode=load.mode,
        offered_rate=load.rate,
        connections=load.connections,
        batch_size=load.batch_size,
        duration_s=round(seconds, 2),
        requests=stats["completed"],
        events=stats["accepted_events"],
        events_per_s=round(stats["accepted_events"] / seconds, 1),
        requests_per_s=round(stats["completed"] / seconds, 1),
        p50_ms=stats["p50_us"] / 1000,
        p95_ms=stats["p95_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        max_ms=stats["max_us"] / 1000,
        errors=stats["other_responses"] + socket_errors,
        server_cores=cores.get("server"),
        wrk_cores=cores.get("wrk"),
        db_cores=cores.get("db"),
        other_cores=cores.get("other"),
    )
    if result.server_cores is not None and result.events_per_s:
        result.server_us_per_event = round(result.server_cores / result.events_per_s * 1e6, 1)
    if result.errors:
        result.failures.append(
            f"{stats['other_responses']} non-202 responses, {socket_errors} socket errors "
            f"(first: {stats['first_error'] or '-'})"
        )
    if stats["rejecting_responses"]:
        result.failures.append(f"{stats['rejecting_responses']} responses rejected events")
    return result


def report(result: Result) -> None:
    stored = ""
    if result.stored is not None:
        stored = f", stored/acknowledged {result.stored}/{result.events}"
    if result.commits:
        stored += (
            f"; {result.commits} commits of {result.events_per_commit} events, "
            f"{result.commit_ms} ms each"
        )
    log(
        f"  {result.target} {mode_label(result)}: {result.events_per_s:,.0f} events/s, "
        f"{result.requests_per_s:,.0f} req/s, p50/p95/p99 {result.p50_ms:.1f}/"
        f"{result.p95_ms:.1f}/{result.p99_ms:.1f} ms{stored}"
    )
    for failure in result.failures:
        log(f"  FAIL: {failure}")
    # With --server the server's own CPU is unknown and counted in "other".
    if result.server_cores is not None and (result.other_cores or 0) > 0.2:
        log(
            f"  WARNING: other processes kept {result.other_cores} cores busy during the run; "
            "these figures understate the server"
        )


# --- all runs -----------------------------------------------------------------


def targets(args: argparse.Namespace) -> list[str]:
    chosen = [] if args.no_floor else ["bare"]
    if args.server:
        return [*chosen, args.server]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    return chosen + backends


@contextmanager
def serve(target: str, args: argparse.Namespace) -> Iterator[Server]:
    if target == "bare":
        with bare_server(args.workers) as server:
            yield server
    elif target in ("sqlite", "postgresql"):
        with cell_monitor_server(target, args) as server:
            yield server
    else:
        yield Server(url=target.rstrip("/"))


def measure_dedup_floor(args: argparse.Namespace) -> Result:
    """PostgreSQL's own dedup-insert rate (benchmarks/dedup_floor.py), batches of 500."""
    with fresh_database("postgresql", args.pg_admin_url) as url:
        assert url is not None
        meter = CpuMeter(Server(url=url), "postgresql")
        start = meter.sample()
        floor = dedup_floor.run(url, args.duration, 500)
        cores = CpuMeter.cores(start, meter.sample())
        # The connection's PostgreSQL process is gone by now: its own account.
        cores["db"] = round(floor.db_cpu_s / floor.seconds, 2)
        cores["other"] = round(max(0.0, cores["other"] - cores["db"]), 2)
    result = Result(
        target="dedup floor",
        mode="batch",
        offered_rate=0,
        connections=1,
        batch_size=500,
        duration_s=round(floor.seconds, 2),
        requests=0,
        events=floor.rows,
        events_per_s=round(floor.rows_per_s, 1),
        requests_per_s=0,
        p50_ms=0,
        p95_ms=0,
        p99_ms=0,
        max_ms=0,
        errors=0,
        db_cores=cores.get("db"),
        wrk_cores=None,
        other_cores=cores.get("other"),
        stored=floor.rows,
    )
    if not floor.verified:
        result.failures.append(floor.failure)
    return result


def run_all(args: argparse.Namespace) -> list[Result]:
    modes = ["single", "batch"] if args.mode == "both" else [args.mode]
    results = []
    dedup = not args.no_floor and not args.server and args.backend != "sqlite"
    if dedup and "batch" in modes:
        log(f"dedup-insert floor (PostgreSQL, one connection, batches of 500): {args.duration} s")
        results.append(measure_dedup_floor(args))
        report(results[-1])
    for mode in modes:
        for target in targets(args):
            log(f"{target} / {mode}: {args.duration} s")
            # A fresh server and database per run: runs do not inherit each other's rows.
            with serve(target, args) as server:
                result = measure(target, server, mode, args, verify=target != "bare")
            report(result)
            results.append(result)
    return results


def mode_label(result: Result) -> str:
    paced = f" @{result.offered_rate:,.0f}/s" if result.offered_rate else ""
    return result.mode + paced


def code_under_test() -> str:
    """Where the server's cell_monitor comes from, and its git commit if any."""
    found = subprocess.run(
        [sys.executable, "-c", "import cell_monitor; print(cell_monitor.__file__)"],
        env=clean_env(),
        cwd="/",  # as the server runs: not from this checkout unless installed from it
        capture_output=True,
        text=True,
    )
    package = Path(found.stdout.strip()).parent if found.returncode == 0 else None
    if package is None:
        return "cell_monitor not importable"
    described = subprocess.run(
        ["git", "-C", str(package), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    commit = described.stdout.strip() if described.returncode == 0 else "not a git checkout"
    return f"cell_monitor from {package} ({commit})"


def floor_ratio(result: Result, results: list[Result]) -> str:
    """Of the bare FastAPI floor; PostgreSQL batches also of the dedup-insert floor."""
    if result.target in FLOORS:
        return "-"
    ratios = []
    for name in FLOORS:
        floor = next((r for r in results if r.target == name and r.mode == result.mode), None)
        if name == "dedup floor" and result.target != "postgresql":
            continue
        if floor is not None and floor.events_per_s:
            ratios.append(f"{result.events_per_s / floor.events_per_s:.2f} of {name}")
    return ", ".join(ratios) or "-"


FLOORS = ("bare", "dedup floor")


def table(results: list[Result], args: argparse.Namespace) -> str:
    header = (
        "| target | mode | conns | events/s | req/s | p50 ms | p95 ms | p99 ms "
        "| stored/acked | of floor | cores srv/db/wrk/other | srv µs/event | verified |"
    )
    lines = [header, "|" + "---|" * 13]
    for r in results:
        stored = "n/a" if r.stored is None else f"{r.stored}/{r.events}"
        used = (r.server_cores, r.db_cores, r.wrk_cores, r.other_cores)
        cores = "/".join("-" if c is None else f"{c:.2f}" for c in used)
        verified = "n/a" if r.target == "bare" else ("ok" if r.ok else "FAILED")
        if r.target == "dedup floor":
            stored = f"{r.stored} rows"
        lines.append(
            f"| {r.target} | {mode_label(r)} | {r.connections} | {r.events_per_s:,.0f} "
            f"| {r.requests_per_s:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} "
            f"| {stored} | {floor_ratio(r, results)} | {cores} | {r.server_us_per_event or '-'} "
            f"| {verified} |"
        )
    note = (
        f"wrk -t{args.wrk_threads}, {args.duration} s per run, batches of {args.batch_size}, "
        f"{args.students} students, {args.workers} server worker(s), {os.cpu_count()} cores; "
        + code_under_test()
    )
    if args.server_env:
        note += "; server settings: " + " ".join(args.server_env)
    return "\n".join([note, "", *lines])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_all(args)
    if args.json:
        print(json.dumps([{**asdict(r), "ok": r.ok} for r in results], indent=2))
    else:
        print(table(results, args))
    failed = [r for r in results if not r.ok]
    for r in failed:
        log(f"FAILED {r.target} {r.mode}: " + "; ".join(r.failures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
