"""How tests reach the instructor dashboard and its API, signed in as the test instructor.

Every HTTP, WebSocket and browser access to instructor endpoints in the tests
goes through these helpers. Also: a realistic class of students, posted through
the public ingest API.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from tests.dashboard_client import Dashboard, dashboard
from tests.support import ServerProcess, event, instructor_headers

INGEST = "/api/v1/events"


@contextmanager
def sync_api_client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client of `base_url` signed in as the test instructor (browser tests, scripts)."""
    headers = instructor_headers(base_url)
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
        yield client


@asynccontextmanager
async def dashboard_socket(base_url: str, **params: str) -> AsyncIterator[Dashboard]:
    """/ws/dashboard of `base_url` as an instructor, after its first snapshot."""
    async with dashboard(base_url, **params) as board:
        yield board


@contextmanager
def server_with_class(students: int, ready_timeout: float = 30.0) -> Iterator[ServerProcess]:
    """`cell-monitor serve` on a throwaway SQLite file, with a realistic class posted."""
    with tempfile.TemporaryDirectory() as data:
        env = {
            "CELL_MONITOR_DATA_DIR": data,
            "DATABASE_URL": f"sqlite:///{Path(data) / 'class.sqlite3'}",
            "CELL_MONITOR_LOG_LEVEL": "WARNING",
        }
        server = ServerProcess(env).wait_ready(ready_timeout)
        try:
            with sync_api_client(server.url) as client:
                post_events(client, realistic_class(students))
            yield server
        finally:
            server.stop()


def post_events(client: httpx.Client, events: list[dict[str, Any]]) -> None:
    """Ingest `events` through the public API, in batches as a lab would send them."""
    for start in range(0, len(events), 500):
        response = client.post(INGEST, json=events[start : start + 500])
        assert response.status_code == 202, response.text
        assert not response.json()["rejected"], response.text


def dashboard_context(
    browser: Any, base_url: str, signed_in: bool = True, enforce_csp: bool = False, **options: Any
) -> Any:
    """A Playwright browser context of `base_url`, signed in as the test instructor.

    Playwright's evaluate() and wait_for_function() evaluate strings, which the
    page's Content-Security-Policy forbids: tests that do not check the policy
    itself bypass it (test_no_console_errors_under_the_servers_policy checks it).
    """
    context = browser.new_context(base_url=base_url, bypass_csp=not enforce_csp, **options)
    if signed_in:
        name, _, value = instructor_headers(base_url)["Cookie"].partition("=")
        context.add_cookies([{"name": name, "value": value, "url": base_url}])
    return context


def open_dashboard(page: Any, base_url: str, view: str = "class") -> Any:
    """Load the dashboard in a Playwright page and wait until its feed is live."""
    page.goto(f"{base_url}/dashboard#{view}")
    wait_live(page)
    return page


def wait_live(page: Any, timeout: float = 10_000) -> None:
    page.locator("#connection[data-state='live']").wait_for(timeout=timeout)


# --- A realistic class -------------------------------------------------------

FIRST = "Ada Alan Grace Linus Guido Barbara Ken Dennis Margaret Edsger Donald Frances Radia Tim "
FIRST += "Katherine Hedy Claude John Sophie Niklaus Bjarne Anita Shafi Leslie Lynn Yukihiro Rasmus"
LAST = "Lovelace Turing Hopper Torvalds Rossum Liskov Thompson Ritchie Hamilton Dijkstra Knuth "
LAST += "Allen Perlman Berners-Lee Johnson Lamarr Shannon McCarthy Wilson Wirth Stroustrup Borg"
ERRORS = [
    ("NameError", "name 'df' is not defined"),
    ("KeyError", "'price'"),
    ("TypeError", "unsupported operand type(s) for +: 'int' and 'str'"),
    ("ValueError", "could not convert string to float: 'n/a'"),
    ("IndexError", "list index out of range"),
    ("ModuleNotFoundError", "No module named 'seaborn'"),
]
NOTEBOOKS = ["lesson1-pandas.ipynb", "lesson2-plots.ipynb"]


def student_identity(i: int) -> dict[str, str]:
    first = FIRST.split()[i % len(FIRST.split())]
    last = LAST.split()[(i * 7) % len(LAST.split())]
    return {
        "emailAddress": f"{first}.{last}.{i}@example.org".lower(),
        "userName": f"{first} {last}",
        "teamName": f"Team {chr(ord('A') + i % 8)}",
        "sessionId": f"session-{i}",
    }


def realistic_class(
    students: int = 120, cells: int = 14, seed: int = 7, now: datetime | None = None
) -> list[dict[str, Any]]:
    """A class at work: students at different cells, some failing, some stuck, a few asking."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    events: list[dict[str, Any]] = []
    for i in range(students):
        who = student_identity(i)
        notebook = NOTEBOOKS[0] if i % 5 else NOTEBOOKS[1]
        start = now - timedelta(minutes=rng.uniform(20, 50))
        reached = max(1, min(cells, int(rng.gauss(cells * 0.6, cells * 0.25))))
        t = start
        work = [_event(who, "notebook_opened", t, notebookPath=notebook)]
        for cell in range(reached):
            t += timedelta(seconds=rng.uniform(20, 150))
            fails = rng.random() < 0.18 or (cell == 7 and rng.random() < 0.4)
            for _ in range(rng.choice([1, 2, 3]) if fails else 0):
                name, message = ERRORS[0] if cell == 7 else rng.choice(ERRORS)
                work.append(_execution(who, notebook, cell, t, (name, message)))
                t += timedelta(seconds=rng.uniform(5, 40))
            work.append(_execution(who, notebook, cell, t, None))
        # The work so far ends a few minutes ago (or long ago, for idle students).
        shift = t - (now - timedelta(minutes=rng.uniform(3, 30)))
        for body in work:
            body["eventTime"] = (datetime.fromisoformat(body["eventTime"]) - shift).isoformat()
        events.extend(work)
        _finish(events, rng, who, notebook, reached, now, i)
    return events


def _finish(
    events: list[dict[str, Any]],
    rng: random.Random,
    who: dict[str, str],
    notebook: str,
    reached: int,
    now: datetime,
    i: int,
) -> None:
    """The student's last minutes: stuck, asking for help, failing, working or gone idle."""
    recent = now - timedelta(seconds=rng.uniform(5, 100))
    if i % 17 == 3:  # stuck on the same error
        name, message = ERRORS[0]
        for k in range(4):
            events.append(
                _execution(who, notebook, reached, recent + timedelta(seconds=k), (name, message))
            )
    if i % 23 == 5:  # asking for help
        since = now - timedelta(seconds=rng.uniform(30, 400))
        events.append(_event(who, "help", since, notebookPath=notebook))
    elif i % 11 == 4:  # the last run failed
        events.append(_execution(who, notebook, reached, recent, rng.choice(ERRORS)))
    elif i % 3 == 0:  # idle: nothing for a while
        return
    else:
        events.append(_execution(who, notebook, max(0, reached - 1), recent, None))


def _event(who: dict[str, str], kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    body = event(eventType=kind, eventTime=at.isoformat(), eventId=str(uuid.uuid4()), **who)
    for key in ("cellId", "cellIndex", "cellType", "code", "executionCount", "hasError"):
        body.pop(key, None)
    body.pop("result", None)
    body.pop("executionDurationMs", None)
    body.update(fields)
    return body


def _execution(
    who: dict[str, str],
    notebook: str,
    cell: int,
    at: datetime,
    error: tuple[str, str] | None,
) -> dict[str, Any]:
    code = f"df = load('data.csv')\ndf.head({cell})" if cell != 7 else "df.groupby('team').mean()"
    fields: dict[str, Any] = {
        "eventTime": at.isoformat(),
        "notebookPath": notebook,
        "cellIndex": cell,
        "cellId": f"cell-{cell}",
        "code": code,
        "hasError": error is not None,
        "executionDurationMs": 20.0 + (cell * 37) % 400,
        "result": None if error else f"<DataFrame with {cell + 3} rows>",
    }
    if error:
        fields["errorName"], fields["errorMessage"] = error
    return event(eventId=str(uuid.uuid4()), **who, **fields)
