"""Several server processes on one database, `serve --workers 2`, and SIGKILL durability."""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    ServerProcess,
    event,
    eventually_sync,
    instructor_headers,
    is_config_variable,
    missing_service,
    query_sql,
)

pytestmark = pytest.mark.slow

DEADLINE = 60.0  # generous bound for anything we poll or wait for


# --- helpers -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """ServerProcess inherits os.environ: keep the caller's configuration out of it."""
    for name in list(os.environ):
        if is_config_variable(name):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def stored_event_ids(url: str) -> Counter[str]:
    """How many rows each eventId has in the events table."""
    return Counter(row[0] for row in query_sql(url, "SELECT event_id FROM events"))


def assert_consistent(url: str) -> None:
    """Every stored event came with its side rows in the same transaction."""
    events = query_sql(url, "SELECT count(*) FROM events")[0][0]
    executions = query_sql(url, "SELECT count(*) FROM cell_executions")[0][0]
    counters = query_sql(url, "SELECT coalesce(sum(event_count), 0) FROM students")[0][0]
    assert executions == events  # every test event is a cell_executed event
    assert int(counters) == events


def post(url: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    # A fresh connection per request, so that requests spread over processes.
    response = httpx.post(f"{url}/api/v1/events", json=batch, timeout=DEADLINE)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert body["rejected"] == []
    return body


def classroom_events(count: int) -> list[dict[str, Any]]:
    """Events of several students, notebooks and sessions (so upserts contend too)."""
    return [
        event(
            eventId=f"evt-{uuid.uuid4()}",
            emailAddress=f"student{i % 7}@example.org",
            userName=f"Student {i % 7}",
            sessionId=f"session-{i % 7}",
            notebookPath=f"lesson{i % 3}.ipynb",
            cellId=f"cell-{i}",
            cellIndex=i,
        )
        for i in range(count)
    ]


def descendants(pid: int) -> list[int]:
    """Process ids below `pid` (Linux /proc), to clean up what a worker tree left."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def environment_of(pid: int) -> dict[str, str]:
    raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(): value.decode() for key, value in pairs}


def snapshot(pids: list[int]) -> dict[int, str]:
    """Process ids with their command lines, to recognise them later."""
    return {pid: command_line(pid) for pid in pids}


def kill_all(processes: dict[int, str]) -> None:
    """SIGKILL the survivors of `processes` (never a pid that was reused since)."""
    for pid, command in processes.items():
        if command and command_line(pid) == command:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def server_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CELL_MONITOR_DATA_DIR": str(tmp_path / "data"),
        # ServerProcess reads the child's output pipe only once it has exited: a
        # flood of slow-query warnings (writers queueing on SQLite's lock under
        # this load) could fill the pipe and block the server mid-test.
        "CELL_MONITOR_SLOW_QUERY_MS": "600000",
    }


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Collects ServerProcess objects; every one (and its children) is stopped at teardown.

    Request it after `database_url`, so that servers stop before their database is dropped.
    """
    started: list[ServerProcess] = []
    yield started
    for server in started:
        alive = server.process.poll() is None
        children = snapshot(descendants(server.process.pid)) if alive else {}
        server.stop()
        kill_all(children)


# --- two servers, one database ----------------------------------------------


def test_two_servers_on_one_database_store_each_event_once(
    database_url: str, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    env = server_env(database_url, tmp_path)
    servers.extend([ServerProcess(env), ServerProcess(env)])
    for server in servers:
        server.wait_ready()
    first, second = servers

    events = classroom_events(200)
    # Both servers get every event; the second one's batches straddle the first
    # one's, so most requests mix new events and events the other one stores.
    jobs = [(first.url, events[i : i + 20]) for i in range(0, 200, 20)]
    jobs += [(second.url, events[i : i + 20]) for i in range(10, 200, 20)]
    jobs += [(second.url, events[:10])]
    random.Random(7).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: post(*job), jobs))

    assert sum(r["accepted"] for r in results) == 200
    assert sum(r["duplicates"] for r in results) == 200
    for server in servers:
        stats = httpx.get(
            f"{server.url}/api/v1/stats", headers=instructor_headers(server.url), timeout=DEADLINE
        ).json()
        assert stats["events"] == 200
        assert stats["executions"] == 200
        assert stats["students"] == 7
        assert stats["notebooks"] == 3
        assert stats["sessions"] == 7

    stored = stored_event_ids(database_url)
    assert set(stored) == {e["eventId"] for e in events}
    assert set(stored.values()) == {1}
    assert_consistent(database_url)


# --- serve --workers 2 -------------------------------------------------------

_EVENTS_TOTAL = re.compile(r'^events_total\{event_type="cell_executed"\} (\S+)$', re.MULTILINE)


def redis_url() -> str:
    """CELL_MONITOR_TEST_REDIS_URL (as CI sets it), else a Redis on 127.0.0.1:6379, else skip."""
    url = os.environ.get("CELL_MONITOR_TEST_REDIS_URL")
    if url:
        return url
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        missing_service("several workers need Redis: set CELL_MONITOR_TEST_REDIS_URL")
    return "redis://127.0.0.1:6379/15"


def test_workers_share_metrics(
    database_url: str, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    # Live updates between workers go through Redis.
    env = {**server_env(database_url, tmp_path), "REDIS_URL": redis_url()}
    server = ServerProcess(env, "--workers", "2")
    servers.append(server)
    server.wait_ready()
    tree = snapshot(descendants(server.process.pid))
    workers = [pid for pid, command in tree.items() if "spawn_main" in command]
    assert len(workers) == 2
    # The CLI gave the workers a shared metrics directory; remove it afterwards.
    metrics_dir = environment_of(workers[0])["PROMETHEUS_MULTIPROC_DIR"]
    assert environment_of(workers[1])["PROMETHEUS_MULTIPROC_DIR"] == metrics_dir

    try:
        events = classroom_events(60)
        batches = [events[i : i + 3] for i in range(0, 60, 3)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda batch: post(server.url, batch), batches))
        assert sum(r["accepted"] for r in results) == 60

        # Each read may land on either worker: every one must report the sum.
        for _ in range(8):
            text = httpx.get(f"{server.url}/metrics", timeout=DEADLINE).text
            assert [float(v) for v in _EVENTS_TOTAL.findall(text)] == [60.0], text
        stats = httpx.get(
            f"{server.url}/api/v1/stats", headers=instructor_headers(server.url), timeout=DEADLINE
        ).json()
        assert stats["events"] == 60
        # Both workers keep their own counter files in the shared directory.
        assert {f"counter_{pid}.db" for pid in workers} <= set(os.listdir(metrics_dir))
    finally:
        server.stop()
        kill_all(tree)  # in case the supervisor had to be killed before its workers
        shutil.rmtree(metrics_dir, ignore_errors=True)


# --- durability: SIGKILL right after the 202s --------------------------------


def test_acknowledged_events_survive_sigkill(
    database_url: str, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    env = server_env(database_url, tmp_path)
    server = ServerProcess(env)
    servers.append(server)
    server.wait_ready()

    lock = threading.Lock()
    sent: list[list[dict[str, Any]]] = []
    acknowledged: list[str] = []
    problems: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=DEADLINE) as http:
            while not stop.is_set():
                batch = classroom_events(10)
                with lock:
                    sent.append(batch)
                try:
                    response = http.post("/api/v1/events", json=batch)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code != 202 or response.json()["accepted"] != len(batch):
                    with lock:
                        problems.append(f"{response.status_code} {response.text}")
                    return
                with lock:
                    acknowledged.extend(e["eventId"] for e in batch)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        eventually_sync(
            lambda: len(acknowledged) >= 300 or problems, DEADLINE, "300 acknowledged events",
            interval=0.005,
        )  # fmt: skip
        # No graceful shutdown: requests are still in flight when the process dies.
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(DEADLINE)
    finally:
        stop.set()
        for thread in threads:
            thread.join(DEADLINE)
    assert not problems, problems
    assert len(acknowledged) >= 300

    all_sent = {e["eventId"] for batch in sent for e in batch}
    stored = stored_event_ids(database_url)
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events were lost"
    assert set(stored) <= all_sent
    assert set(stored.values()) == {1}
    assert_consistent(database_url)

    # A new server on the same database takes the resends: only what was not
    # stored before the crash is accepted, everything else is a duplicate.
    restarted = ServerProcess(env)
    servers.append(restarted)
    restarted.wait_ready()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda batch: post(restarted.url, batch), sent))
    assert sum(r["accepted"] for r in results) == len(all_sent) - len(stored)
    assert sum(r["duplicates"] for r in results) == len(stored)
    stats = httpx.get(
        f"{restarted.url}/api/v1/stats",
        headers=instructor_headers(restarted.url),
        timeout=DEADLINE,
    ).json()
    assert stats["events"] == len(all_sent)
    assert set(stored_event_ids(database_url)) == all_sent
    assert_consistent(database_url)
