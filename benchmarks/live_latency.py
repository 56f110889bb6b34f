"""End-to-end live latency: from POST /api/v1/events to arrival on dashboard WebSockets.

Starts `cell-monitor serve --workers 2` on a fresh PostgreSQL database with Redis,
connects D dashboards, and has S simulated students post events at a steady total
rate for a bounded time. Each event's eventTime is stamped just before its POST,
so every dashboard measures arrival minus that stamp (one machine, one clock).

    .venv/bin/python benchmarks/live_latency.py --students 200 --dashboards 10 \
        --rate 1000 --duration 15 [--batch 1] [--json]

Everything runs on 127.0.0.1 and stops by itself (BENCH_PG_ADMIN_URL and
BENCH_REDIS_URL override the PostgreSQL and Redis it uses). Prints events/s acknowledged,
messages received per dashboard, and latency p50/p95/p99/max.
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
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import httpx
import orjson
from signin import instructor_headers, server_env
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import ServerProcess  # noqa: E402 - after the path is set

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def start_server(database: str, workers: int) -> ServerProcess:
    env = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": REDIS,
        "CELL_MONITOR_REDIS_CHANNEL": f"bench-{database}",
        "CELL_MONITOR_LOG_LEVEL": "WARNING",
        "CELL_MONITOR_MAX_EVENTS_PER_REQUEST": "5000",
        **server_env(),
    }
    return ServerProcess(env, "--workers", str(workers), migrate=True).wait_ready()


def dashboard_process(url: str, count: int, seconds: float, ready, results) -> None:  # type: ignore[no-untyped-def]
    """Run `count` dashboards; report every event latency they measured (ms)."""
    headers = instructor_headers(url)

    async def one(latencies: list[float]) -> None:
        ws_url = url.replace("http", "ws") + "/ws/dashboard"
        async with connect(ws_url, max_size=None, max_queue=None, additional_headers=headers) as ws:
            await ws.recv()  # snapshot
            ready.put(1)
            end = time.time() + seconds
            while (remaining := end - time.time()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), remaining)
                except TimeoutError:
                    break
                arrived = time.time()
                frame = json.loads(raw)
                batch = frame["messages"] if frame["type"] == "batch" else [frame]
                for message in batch:
                    if message["type"] == "event":
                        event_time = message["event"]["eventTime"]
                        sent = datetime.fromisoformat(event_time).timestamp()
                        latencies.append((arrived - sent) * 1000)

    async def main() -> None:
        lists: list[list[float]] = [[] for _ in range(count)]
        await asyncio.gather(*(one(latencies) for latencies in lists))
        results.put(lists)

    asyncio.run(main())


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 POST on a kept-alive connection (httpx costs too much CPU here)."""
    writer.write(
        b"POST /api/v1/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def student_process(url: str, students: range, rate: float, batch: int, seconds: float, results):  # type: ignore[no-untyped-def]
    """Students, one connection each, post `rate` events/s in total, `batch` per request."""
    host, port = url.removeprefix("http://").split(":")

    async def student(number: int, queue: asyncio.Queue[int], stats: dict[str, list]) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while (count := await queue.get()) > 0:
                now = datetime.now(timezone.utc).isoformat()
                body = orjson.dumps(
                    [
                        {
                            "eventId": str(uuid.uuid4()),
                            "eventType": "cell_executed",
                            "eventTime": now,
                            "emailAddress": f"student{number}@example.org",
                            "notebookPath": "lesson1.ipynb",
                            "cellIndex": number % 20,
                            "code": "print('hello')",
                            "hasError": number % 7 == 0,
                            "executionDurationMs": 12.0,
                        }
                        for _ in range(count)
                    ]
                )
                started = time.perf_counter()
                status, answer = await _post(reader, writer, body)
                stats["post_ms"].append((time.perf_counter() - started) * 1000)
                if status == 202:
                    stats["acknowledged"].append(orjson.loads(answer)["accepted"])
        finally:
            writer.close()

    async def main() -> None:
        stats: dict[str, list] = {"post_ms": [], "acknowledged": []}
        queues = {n: asyncio.Queue[int]() for n in students}
        tasks = [asyncio.create_task(student(n, queues[n], stats)) for n in students]
        interval = batch / rate
        start = time.monotonic()
        sent = 0
        # Open loop: requests are due at a steady rate whatever the answers do.
        while (elapsed := time.monotonic() - start) < seconds:
            while sent < int(elapsed / interval) + 1:
                queues[students[sent % len(students)]].put_nowait(batch)
                sent += 1
            await asyncio.sleep(interval / 2)
        for queue in queues.values():
            queue.put_nowait(0)
        await asyncio.gather(*tasks)
        results.put((sum(stats["acknowledged"]), stats["post_ms"]))

    asyncio.run(main())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def run(args: argparse.Namespace) -> dict[str, object]:
    database = f"cell_monitor_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE DATABASE {database}"))
    server = start_server(database, args.workers)
    url = server.url
    try:
        ctx = mp.get_context("spawn")
        ready, results = ctx.Queue(), ctx.Queue()
        board = ctx.Process(
            target=dashboard_process,
            args=(url, args.dashboards, args.duration + 5, ready, results),
        )
        board.start()
        for _ in range(args.dashboards):
            ready.get(timeout=30)
        senders = []
        per_process = args.students // args.generators
        for i in range(args.generators):
            students = range(i * per_process, (i + 1) * per_process)
            share = args.rate / args.generators
            process = ctx.Process(
                target=student_process,
                args=(url, students, share, args.batch, args.duration, results),
            )
            process.start()
            senders.append(process)
        outputs = [results.get(timeout=args.duration + 60) for _ in range(args.generators + 1)]
        for process in [board, *senders]:
            process.join(30)
        stats = httpx.get(f"{url}/api/v1/stats", headers=instructor_headers(url), timeout=60)
        stored = int(stats.raise_for_status().json()["events"])
    finally:
        server.stop()
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
    sent = [o for o in outputs if isinstance(o, tuple)]
    acknowledged = sum(count for count, _ in sent)
    post_ms = [value for _, values in sent for value in values]
    boards = next(o for o in outputs if isinstance(o, list))
    latencies = [value for board_values in boards for value in board_values]
    return {
        "students": args.students,
        "dashboards": args.dashboards,
        "workers": args.workers,
        "batch": args.batch,
        "duration_s": args.duration,
        "acknowledged_events_per_s": round(acknowledged / args.duration, 1),
        "events_per_dashboard_min": min(len(b) for b in boards),
        "events_acknowledged": acknowledged,
        "events_stored": stored,
        "post_ms": {
            "p50": round(percentile(post_ms, 50), 1),
            "p99": round(percentile(post_ms, 99), 1),
        },
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1) if latencies else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--dashboards", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1000, help="events/s in total")
    parser.add_argument("--batch", type=int, default=1, help="events per POST")
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generators", type=int, default=2, help="load processes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    # Every acknowledged event must be stored (a POST that timed out may be too).
    failed = result["events_stored"] < result["events_acknowledged"]  # type: ignore[operator]
    if args.json:
        print(json.dumps(result))
        sys.exit(1 if failed else 0)
    lat = result["latency_ms"]
    print(
        f"{result['students']} students → {result['workers']} workers + Redis → "
        f"{result['dashboards']} dashboards, {args.batch} event(s)/POST, {args.duration}s\n"
        f"  acknowledged: {result['acknowledged_events_per_s']} events/s "
        f"({result['events_acknowledged']} events)\n"
        f"  stored: {result['events_stored']} of {result['events_acknowledged']} acknowledged\n"
        f"  POST answered (ms): p50 {result['post_ms']['p50']}  "  # type: ignore[index]
        f"p99 {result['post_ms']['p99']}\n"  # type: ignore[index]
        f"  received by every dashboard: >= {result['events_per_dashboard_min']} events\n"
        f"  POST → dashboard latency ms: p50 {lat['p50']}  p95 {lat['p95']}  "  # type: ignore[index]
        f"p99 {lat['p99']}  max {lat['max']}"  # type: ignore[index]
    )
    if failed:
        sys.exit("acknowledged events are missing from the store")


if __name__ == "__main__":
    main()
