"""Message delivery: from the instructor's send to every addressed student's Jupyter server.

Starts `cell-monitor serve --workers 2` on a fresh PostgreSQL database with Redis,
gives S students a per-student credential each, and has each of them hold the
long-poll a student's Jupyter server holds (GET /api/v1/student/inbox?since=&wait=).
The instructor then sends M messages, alternately to the whole class and to a
hotspot (the students with one error); for each (message, addressed student)
the delay from just before the POST to the answer that carries it is measured.
The floor is the same round trip without a message to wait for (wait=0),
measured in the same run, so figures read as "how much slower than a plain GET".

    .venv/bin/python benchmarks/messages_delivery.py --students 200 --messages 20 [--json]

Everything runs on 127.0.0.1 and stops by itself (BENCH_PG_ADMIN_URL and
BENCH_REDIS_URL override the PostgreSQL and Redis it uses). Prints deliveries
expected and received (each exactly once), and latency p50/p95/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import httpx
import orjson
from live_latency import REDIS, _admin
from signin import instructor_headers, server_env

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cell_monitor.accounts.ingest_tokens import RosterEntry, create_student_credentials  # noqa: E402
from cell_monitor.config import Settings  # noqa: E402
from cell_monitor.storage.engine import create_engine  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

WAIT_SECONDS = 25
# Set whenever a student's server receives a message (the sender waits on it).
ARRIVED = asyncio.Event()
POSTS: list[float] = []  # how long each send took to answer (ms)
ERROR_EVERY = 4  # every 4th student hits the hotspot's error
# How often each worker reloads the credentials (CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS).
REFRESH_SECONDS = 1.0


def start_server(database: str, workers: int) -> ServerProcess:
    env = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": REDIS,
        "CELL_MONITOR_REDIS_CHANNEL": f"bench-{database}",
        "CELL_MONITOR_LOG_LEVEL": "WARNING",
        "CELL_MONITOR_MESSAGES_PER_MINUTE": "0",
        # The load generator checks its credentials in a tight loop at the start.
        "CELL_MONITOR_INBOX_RATE_PER_SECOND": "0",
        "CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS": str(REFRESH_SECONDS),
        **server_env(),
    }
    return ServerProcess(env, "--workers", str(workers), migrate=True).wait_ready()


async def credentials(database: str, students: int) -> list[str]:
    url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    engine = create_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    try:
        roster = [
            RosterEntry(f"student{i}@example.org", f"Student {i}", "A") for i in range(students)
        ]
        return [secret for _, _, secret in await create_student_credentials(engine, roster)]
    finally:
        await engine.dispose()


def first_event(number: int) -> dict[str, object]:
    failing = number % ERROR_EVERY == 0
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "cell_executed",
        "eventTime": datetime.now(timezone.utc).isoformat(),
        "emailAddress": f"student{number}@example.org",
        "notebookPath": "lesson1.ipynb",
        "cellIndex": 7,
        "code": "df.head()",
        "hasError": failing,
        "errorName": "NameError" if failing else None,
        "errorMessage": "NameError: name 'df' is not defined" if failing else None,
    }


class Student:
    """One simulated Jupyter server: the long-poll loop, and when each message arrived."""

    def __init__(self, number: int, secret: str) -> None:
        self.number = number
        self.headers = {"Authorization": f"Bearer {secret}"}
        self.arrived: dict[str, float] = {}
        self.duplicates = 0
        self.etag: str | None = None
        self.ready = asyncio.Event()

    async def poll(self, url: str, stop: asyncio.Event) -> None:
        # Plain HTTP/1.1 on kept-alive sockets: an HTTP client library would cost
        # this process more CPU than the server spends (200 students on 2 cores).
        polls, posts = Connection(url), Connection(url)
        auth = self.headers["Authorization"].encode()
        try:
            while not stop.is_set():
                query = f"wait={WAIT_SECONDS}" + (f"&since={self.etag}" if self.etag else "")
                path = f"/api/v1/student/inbox?{query}".encode()
                status, raw = await polls.request(b"GET", path, auth)
                if status != 200:
                    raise RuntimeError(f"inbox answered {status}: {raw[:200]!r}")
                now = time.time()
                body = orjson.loads(raw)
                self.etag = body["etag"]
                for message in body["messages"]:
                    if message["id"] not in self.arrived:
                        # Still unseen: the inbox carries it until the student answers.
                        self.arrived[message["id"]] = now
                        ARRIVED.set()
                # Seen at once, as the student's JupyterLab would: the next inbox drops it.
                seen = [
                    {**first_event(self.number), "eventType": "message_seen", "messageId": m["id"]}
                    for m in body["messages"]
                ]
                if seen:
                    await posts.request(b"POST", b"/api/v1/events", auth, orjson.dumps(seen))
                self.ready.set()
        finally:
            polls.close()
            posts.close()


class Connection:
    """One kept-alive HTTP/1.1 connection, opened again when the server closed it."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: bytes, path: bytes, auth: bytes, body: bytes = b""
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            try:
                return await _exchange(*self.streams, method, path, auth, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                # Idle past the server's keep-alive timeout: a new connection, once.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: bytes,
    path: bytes,
    auth: bytes,
    body: bytes,
) -> tuple[int, bytes]:
    writer.write(
        b"%s %s HTTP/1.1\r\nHost: bench\r\nAuthorization: %s\r\nContent-Type: application/json"
        b"\r\nContent-Length: %d\r\n\r\n%s" % (method, path, auth, len(body), body)
    )
    await writer.drain()
    line = await reader.readline()
    if not line:
        raise ConnectionResetError("closed by the server")
    status = int(line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def known(http: httpx.AsyncClient, student: Student, timeout: float = 60) -> None:
    """Until every worker has loaded the new credentials.

    Answers alone cannot show that: a kept-alive connection stays with one worker,
    and a new one goes to whichever accepts it. But each worker reloads every
    REFRESH_SECONDS, so once one worker accepts the credentials (they are in the
    database) every other has them a reload later.
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = await http.get(
            "/api/v1/student/inbox", params={"wait": 0}, headers=student.headers
        )
        if answer.status_code == 200:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the credentials are not accepted: {answer.status_code} {answer.text}"
            )
        await asyncio.sleep(0.2)
    await asyncio.sleep(2 * REFRESH_SECONDS)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


async def floor_ms(http: httpx.AsyncClient, students: list[Student]) -> float:
    """A plain inbox round trip (wait=0), one per student: what delivery cannot beat."""
    times = []
    for student in students:
        started = time.perf_counter()
        (
            await http.get("/api/v1/student/inbox", params={"wait": 0}, headers=student.headers)
        ).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(url: str, secrets: list[str], messages: int, gap: float) -> dict[str, object]:
    students = [Student(i, s) for i, s in enumerate(secrets)]
    limits = httpx.Limits(
        max_connections=len(students) + 20, max_keepalive_connections=len(students) + 20
    )
    async with httpx.AsyncClient(base_url=url, timeout=WAIT_SECONDS + 30, limits=limits) as http:
        await known(http, students[-1])
        for s in students:
            (
                await http.post("/api/v1/events", json=[first_event(s.number)], headers=s.headers)
            ).raise_for_status()
        stop = asyncio.Event()
        polls = [asyncio.create_task(s.poll(url, stop)) for s in students]
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in students)), 60)
        floor = await floor_ms(http, students)
        instructor = httpx.AsyncClient(base_url=url, timeout=30, headers=instructor_headers(url))
        sent: dict[str, tuple[float, set[int]]] = {}
        hotspot = {
            "kind": "hotspot",
            "notebook": "lesson1.ipynb",
            "cellIndex": 7,
            "errorName": "NameError",
        }
        async with instructor:
            for i in range(messages):
                audience = {"kind": "class"} if i % 2 == 0 else hotspot
                addressed = {
                    s.number
                    for s in students
                    if audience is not hotspot or s.number % ERROR_EVERY == 0
                }
                started = time.time()
                answer = await instructor.post(
                    "/api/v1/messages",
                    json={
                        "requestId": str(uuid.uuid4()),
                        "body": f"hint {i}",
                        "audience": audience,
                    },
                )
                answer.raise_for_status()
                POSTS.append((time.time() - started) * 1000)
                sent[answer.json()["id"]] = (started, addressed)
                await asyncio.sleep(gap)

            def complete() -> bool:
                return all(
                    all(uid in students[n].arrived for n in who) for uid, (_, who) in sent.items()
                )

            deadline = time.monotonic() + 30
            while not complete() and (remaining := deadline - time.monotonic()) > 0:
                ARRIVED.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ARRIVED.wait(), remaining)
        stop.set()
        failed = [t.exception() for t in polls if t.done() and not t.cancelled() and t.exception()]
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
    latencies: list[float] = []
    per_message: dict[str, int] = defaultdict(int)
    for uid, (started, who) in sent.items():
        for n in who:
            if uid in students[n].arrived:
                latencies.append((students[n].arrived[uid] - started) * 1000)
                per_message[uid] += 1
    expected = sum(len(who) for _, who in sent.values())
    strays = sum(
        1 for s in students for uid in s.arrived if s.number not in sent.get(uid, (0, set()))[1]
    )
    return {
        "students": len(students),
        "messages": messages,
        "deliveries_expected": expected,
        "deliveries_received": len(latencies),
        "delivered_to_others": strays,
        "floor_ms": round(floor, 2),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "pollers_failed": len(failed),
        "first_failure": str(failed[0]) if failed else None,
        "send_p50_ms": round(statistics.median(POSTS), 1) if POSTS else None,
        "p95_over_floor": round(percentile(latencies, 95) / floor, 1) if floor else None,
    }


def run(args: argparse.Namespace) -> dict[str, object]:
    database = f"cell_monitor_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE DATABASE {database}"))
    server = start_server(database, args.workers)
    try:
        secrets = asyncio.run(credentials(database, args.students))
        result = asyncio.run(measure(server.url, secrets, args.messages, args.gap))
    finally:
        server.stop()
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
    return {"workers": args.workers, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between sends")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['students']} students, {result['workers']} workers, "
        f"{result['messages']} messages: "
        f"{result['deliveries_received']} of {result['deliveries_expected']} deliveries "
        f"({result['delivered_to_others']} to students not addressed)",
    )
    print(
        f"send -> student's Jupyter server: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms; "
        f"floor (inbox round trip) {result['floor_ms']} ms, p95 = {result['p95_over_floor']}x floor"
    )


if __name__ == "__main__":
    main()
