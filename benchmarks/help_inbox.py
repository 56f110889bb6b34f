"""The return path under a class: S students hold the inbox long-poll; help changes reach them.

Starts `cell-monitor serve --workers W` on a fresh PostgreSQL database with Redis,
issues one per-student credential per simulated student and has each student
hold `GET /api/v1/student/inbox` as its Jupyter server does (one long-poll at a
time, the etag it holds, 25 s). Then:

1. asks: every student posts a `help` event (through ingest, with its credential);
   the latency is from just before the POST to the student's long-poll answering
   with the open request;
2. claims: instructors claim the first C requests in line (`POST /api/v1/help/claim`,
   one every `--claim-pace` s); the latency is from just before the claim to the
   student's answer with the claim. Every claim moves everyone behind up one place,
   so each one answers every waiting student's long-poll;
3. cost: ingest throughput (closed loop, course token) with no long-poll open, then
   with the S long-polls held; the ratio is the share the open connections cost.

    .venv/bin/python benchmarks/help_inbox.py --students 200 --workers 2 [--json]

Everything runs on 127.0.0.1 and stops by itself (BENCH_PG_ADMIN_URL and
BENCH_REDIS_URL override the PostgreSQL and Redis it uses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson
from ingest import cpu_seconds
from live_latency import _admin, percentile
from signin import instructor_headers, server_env

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cell_monitor.accounts import ingest_tokens  # noqa: E402 - after the path is set
from cell_monitor.accounts.ingest_tokens import RosterEntry  # noqa: E402
from cell_monitor.config import Settings  # noqa: E402
from cell_monitor.storage.engine import create_engine  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WAIT = 25.0


def database_url(database: str) -> str:
    base = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return base.rsplit("/", 1)[0] + f"/{database}"


def start_server(database: str, workers: int) -> ServerProcess:
    env = {
        "DATABASE_URL": database_url(database),
        "REDIS_URL": REDIS,
        "CELL_MONITOR_REDIS_CHANNEL": f"bench-{database}",
        "CELL_MONITOR_INBOX_CHANNEL": f"bench-{database}-inbox",
        "CELL_MONITOR_LOG_LEVEL": "WARNING",
        "CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS": "0.5",
        "CELL_MONITOR_HELP_CLAIMS_PER_MINUTE": "100000",
        **server_env(),
    }
    return ServerProcess(env, "--workers", str(workers), migrate=True).wait_ready()


async def issue_credentials(database: str, students: int) -> tuple[list[str], str]:
    settings = Settings(_env_file=None, database_url=database_url(database))  # type: ignore[call-arg]
    engine = create_engine(settings)
    try:
        roster = [
            RosterEntry(f"student{n}", f"Student {n}", f"team-{n % 10}") for n in range(students)
        ]
        created = await ingest_tokens.create_student_credentials(engine, roster, "bench")
        _, course = await ingest_tokens.create_token(engine, "bench")
    finally:
        await engine.dispose()
    return [secret for _, _, secret in created], course


class Student:
    """One simulated Jupyter server: holds the inbox long-poll, notes when its view changes."""

    def __init__(self, number: int, credential: str) -> None:
        self.key = f"student{number}"
        self.headers = {"Authorization": f"Bearer {credential}"}
        self.authorization = f"Authorization: Bearer {credential}"
        self.etag: str | None = None
        self.seen: list[tuple[float, dict[str, Any] | None]] = []  # (when, help view)
        self.changed = asyncio.Event()
        self.answers = 0
        self.refused = 0  # answers other than 200 (e.g. 429)
        self.errors = 0  # connections that broke

    async def hold(self, url: str, stop: asyncio.Event) -> None:
        """Long-poll as the Jupyter server does, on one kept-alive connection.

        Raw HTTP/1.1: 200 httpx clients would cost the machine more CPU than
        the server under test.
        """
        host, port = url.removeprefix("http://").split(":")
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError:
                self.errors += 1
                await asyncio.sleep(0.2)
                continue
            try:
                await self._poll(reader, writer, stop)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                self.errors += 1  # the connection broke: a new one, as the relay would
            finally:
                writer.close()

    async def _poll(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            query = f"wait={WAIT:g}" + (f"&since={self.etag}" if self.etag else "")
            writer.write(
                f"GET /api/v1/student/inbox?{query} HTTP/1.1\r\nHost: bench\r\n"
                f"{self.authorization}\r\n\r\n".encode()
            )
            status, body = await _answer(reader)
            if status != 200:
                self.refused += 1
                await asyncio.sleep(0.5)
                continue
            self.answers += 1
            answer = orjson.loads(body)
            if answer["etag"] != self.etag:
                self.etag = answer["etag"]
                self.seen.append((time.perf_counter(), answer["help"]))
                self.changed.set()

    async def until(self, state: str, since: float, timeout: float = 30) -> float | None:
        """Seconds from `since` until this student's view showed `state`."""
        deadline = time.perf_counter() + timeout
        while True:
            for when, view in self.seen:
                if when >= since and view is not None and view["state"] == state:
                    return when - since
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return None


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes, token: str
) -> tuple[int, bytes]:
    """One authenticated HTTP/1.1 POST on a kept-alive connection (httpx costs too much CPU)."""
    writer.write(
        b"POST /api/v1/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
        % (token.encode(), len(body), body)
    )
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def held_polls(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("inbox_waiting_polls "):
            return float(line.split()[1])
    return 0.0


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def ingest_process(url: str, course: str, connections: int, seconds: float, results) -> None:  # type: ignore[no-untyped-def]
    """Closed loop: `connections` posters send batches of 20 events back to back."""
    host, port = url.removeprefix("http://").split(":")

    async def poster(number: int, end: float) -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        accepted = 0
        try:
            while time.monotonic() < end:
                body = orjson.dumps(
                    [
                        {
                            "eventId": str(uuid.uuid4()),
                            "eventType": "cell_executed",
                            "eventTime": datetime.now(timezone.utc).isoformat(),
                            "userId": f"load{number}",
                            "notebookPath": "lesson1.ipynb",
                            "cellIndex": i,
                            "code": "print('hello')",
                        }
                        for i in range(20)
                    ]
                )
                status, answer = await _post(reader, writer, body, course)
                if status == 202:
                    accepted += orjson.loads(answer)["accepted"]
        finally:
            writer.close()
        return accepted

    async def main() -> None:
        end = time.monotonic() + seconds
        counts = await asyncio.gather(*(poster(n, end) for n in range(connections)))
        results.put(sum(counts) / seconds)

    asyncio.run(main())


def server_cpu_seconds(server_pid: int) -> float:
    """CPU time of the server process and its workers (its children), from /proc."""
    return cpu_seconds(lambda pid, pgid, comm, ppid: server_pid in (pid, ppid))


@dataclass
class Round:
    """One ingest round: events/s, and the server's CPU per stored event."""

    events_per_s: float
    server_us_per_event: float


def ingest_rate(url: str, course: str, connections: int, seconds: float, server_pid: int) -> Round:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=ingest_process, args=(url, course, connections, seconds, results))
    cpu = server_cpu_seconds(server_pid)
    process.start()
    rate = float(results.get(timeout=seconds + 60))
    cpu = server_cpu_seconds(server_pid) - cpu
    process.join()
    # The poster's start-up is outside its timed loop but inside the CPU window;
    # the server is idle then, so it adds little.
    return Round(rate, cpu / (rate * seconds) * 1e6 if rate else float("nan"))


def figures(latencies: list[float | None]) -> dict[str, float]:
    arrived = [s * 1000 for s in latencies if s is not None]
    return {
        "count": len(latencies),
        "missed": len(latencies) - len(arrived),
        "p50_ms": round(percentile(arrived, 50), 1),
        "p95_ms": round(percentile(arrived, 95), 1),
        "p99_ms": round(percentile(arrived, 99), 1),
        "max_ms": round(max(arrived, default=float("nan")), 1),
    }


async def measure(
    url: str, students: list[Student], pace: float, claims: int, claim_pace: float
) -> dict[str, Any]:
    staff = instructor_headers(url)
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=staff) as actions:
        holders = [asyncio.create_task(s.hold(url, stop)) for s in students]
        # Everyone has their first answer (no request yet) before anything changes.
        for student in students:
            await student.changed.wait()
        asks = []
        for student in students:
            ask = {
                "eventId": str(uuid.uuid4()),
                "eventType": "help",
                "eventTime": datetime.now(timezone.utc).isoformat(),
                "userId": student.key,
                "helpRequestId": str(uuid.uuid4()),
            }
            started = time.perf_counter()
            answer = await actions.post("/api/v1/events", json=[ask], headers=student.headers)
            assert answer.status_code == 202, answer.text
            asks.append(asyncio.create_task(student.until("open", started)))
            await asyncio.sleep(pace)
        ask_latency = await asyncio.gather(*asks)
        claimed = []
        claim_posts: list[float] = []
        for student in students[:claims]:
            started = time.perf_counter()
            answer = await actions.post("/api/v1/help/claim", params={"student": student.key})
            assert answer.status_code == 200, answer.text
            claim_posts.append(time.perf_counter() - started)
            claimed.append(asyncio.create_task(student.until("claimed", started)))
            await asyncio.sleep(claim_pace)
        claim_latency = await asyncio.gather(*claimed)
        answers = sum(s.answers for s in students)
        refused = sum(s.refused for s in students)
        errors = sum(s.errors for s in students)
        stop.set()
        for task in holders:
            task.cancel()
        await asyncio.gather(*holders, return_exceptions=True)
    return {
        "ask": figures(ask_latency),
        "claim": figures(claim_latency),
        "claim_post": figures(claim_posts),
        "poll_answers": answers,
        "poll_refused": refused,
        "poll_connection_errors": errors,
    }


async def cost(
    url: str, server_pid: int, students: list[Student], course: str, args: argparse.Namespace
) -> tuple[list[Round], list[Round]]:
    """Ingest without and with every student's long-poll held, per round.

    The rounds alternate, so a machine that gets busier or quieter meanwhile
    weighs on both sides alike.
    """
    without: list[Round] = []
    held: list[Round] = []
    for _ in range(args.rounds):
        without.append(
            await asyncio.to_thread(
                ingest_rate, url, course, args.connections, args.ingest_seconds, server_pid
            )
        )
        stop = asyncio.Event()
        holders = [asyncio.create_task(s.hold(url, stop)) for s in students]
        await asyncio.to_thread(
            wait_until, lambda: held_polls(url) >= len(students), "every long-poll held"
        )
        held.append(
            await asyncio.to_thread(
                ingest_rate, url, course, args.connections, args.ingest_seconds, server_pid
            )
        )
        stop.set()
        for task in holders:
            task.cancel()
        await asyncio.gather(*holders, return_exceptions=True)
        await asyncio.to_thread(wait_until, lambda: held_polls(url) == 0, "the polls to end")
    return without, held


def run(args: argparse.Namespace) -> dict[str, Any]:
    database = f"cell_monitor_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE DATABASE {database}"))
    server = start_server(database, args.workers)
    try:
        credentials, course = asyncio.run(issue_credentials(database, args.students))
        # Every worker reloads its credentials every 0.5 s; a few tries reach both.
        probe = {"Authorization": f"Bearer {credentials[-1]}"}
        for _ in range(10):
            wait_until(
                lambda: (
                    httpx.get(
                        f"{server.url}/api/v1/student/inbox", headers=probe, timeout=10
                    ).status_code
                    == 200
                ),
                "the workers to know the credentials",
            )
        students = [Student(n, c) for n, c in enumerate(credentials)]

        async def both() -> tuple[dict[str, Any], tuple[list[Round], list[Round]]]:
            latency = await measure(server.url, students, args.pace, args.claims, args.claim_pace)
            return latency, await cost(server.url, server.process.pid, students, course, args)

        result, (without, held) = asyncio.run(both())
    finally:
        server.stop()
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
    floor = statistics.median(r.events_per_s for r in without)
    loaded = statistics.median(r.events_per_s for r in held)
    pairs = list(zip(without, held, strict=True))
    return {
        "students": args.students,
        "workers": args.workers,
        **result,
        # Each round's with/without pair: their spread shows the machine's noise.
        "ingest_round_ratios": [round(h.events_per_s / w.events_per_s, 3) for w, h in pairs],
        # CPU per stored event moves less with other load than events/s does.
        "server_us_per_event_without_polls": [round(w.server_us_per_event, 1) for w, _ in pairs],
        "server_us_per_event_with_polls": [round(h.server_us_per_event, 1) for _, h in pairs],
        "server_cpu_ratio_with_to_without": round(
            statistics.median(h.server_us_per_event for _, h in pairs)
            / statistics.median(w.server_us_per_event for w, _ in pairs),
            3,
        ),
        "ingest_events_per_s_without_polls": round(floor),
        "ingest_events_per_s_with_polls": round(loaded),
        "ingest_ratio_with_to_without": round(loaded / floor, 3) if floor else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between two asks")
    parser.add_argument("--claims", type=int, default=40, help="requests claimed")
    parser.add_argument("--claim-pace", type=float, default=0.5, help="seconds between two claims")
    parser.add_argument("--connections", type=int, default=8, help="ingest posters")
    parser.add_argument("--ingest-seconds", type=float, default=5.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="ingest without/with, alternating")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.students} students holding the inbox long-poll, {args.workers} workers, Redis")
    for phase in ("ask", "claim"):
        f = result[phase]
        print(
            f"  {phase:5} -> student sees it: p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, "
            f"p99 {f['p99_ms']} ms, max {f['max_ms']} ms ({f['missed']} of {f['count']} missed)"
        )
    print(
        f"  long-poll answers in all: {result['poll_answers']} "
        f"({result['poll_refused']} refused, {result['poll_connection_errors']} broken connections)"
    )
    print(
        f"  ingest: {result['ingest_events_per_s_without_polls']} events/s without the "
        f"long-polls, {result['ingest_events_per_s_with_polls']} with them "
        f"(ratio of the medians {result['ingest_ratio_with_to_without']}; "
        f"per round {', '.join(str(r) for r in result['ingest_round_ratios'])})"
    )
    print(
        "  server CPU per stored event: "
        f"{', '.join(str(u) for u in result['server_us_per_event_without_polls'])} µs without, "
        f"{', '.join(str(u) for u in result['server_us_per_event_with_polls'])} µs with "
        f"(ratio of the medians {result['server_cpu_ratio_with_to_without']})"
    )


if __name__ == "__main__":
    main()
