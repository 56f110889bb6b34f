"""Pseudonymization, export and erasure on real databases, Redis and InfluxDB.

The CLI runs as a real subprocess against the same database, Redis channel and
InfluxDB database as a running server; afterwards every table of the store and
every InfluxDB measurement is searched for what was erased.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from cell_monitor.privacy.pseudonyms import pseudonym
from cell_monitor.storage.models import Base
from tests.dashboard_client import dashboard
from tests.influx_support import InfluxProcess, influx_url, query, rows
from tests.integration.test_cli import output_of, run_cli
from tests.integration.test_health_metrics import value
from tests.support import (
    event,
    eventually,
    instructor_client,
    live_server,
    make_settings,
    missing_service,
    query_sql,
)

pytestmark = pytest.mark.slow

URL = "/api/v1/events"
KEY = "privacy-test-key-0123456789"
ADA, BOB = "ada@example.org", "bob@example.org"
# Tables that hold no student data: schema version, sink position, instructor accounts.
NOT_STUDENT_DATA = {"alembic_version", "sink_positions", "users", "login_sessions", "ingest_tokens"}
MISMATCH = "ingest_identity_mismatch_total"
ALIAS = pseudonym(KEY.encode(), ADA)
BOB_ALIAS = pseudonym(KEY.encode(), BOB)


def cli_env(settings: Settings) -> dict[str, str]:
    """The configuration of `settings` as the CLI reads it from the environment."""
    env = {"DATABASE_URL": str(settings.database_url)}
    if settings.pseudonymize and settings.pseudonym_key is not None:
        env["CELL_MONITOR_PSEUDONYMIZE"] = "1"
        env["CELL_MONITOR_PSEUDONYM_KEY"] = settings.pseudonym_key.get_secret_value()
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
        env["CELL_MONITOR_REDIS_CHANNEL"] = settings.redis_channel
    if settings.influxdb_url:
        env["INFLUXDB_URL"] = settings.influxdb_url
        env["INFLUXDB_BUCKET"] = settings.influxdb_bucket
    return env


async def cli(settings: Settings, tmp_path: Path, *args: str) -> Any:
    # In a thread: the server under test shares this event loop.
    return await asyncio.to_thread(run_cli, *args, cwd=tmp_path, env=cli_env(settings))


def ada_events() -> list[dict[str, Any]]:
    return [
        event(emailAddress=ADA, userName="Ada Lovelace", notebookPath="ada-notes.ipynb"),
        event(
            emailAddress=ADA,
            userName="Ada Lovelace",
            code="1/0",
            hasError=True,
            errorName="ZeroDivisionError",
            errorMessage="division by zero",
        ),
        event(emailAddress=ADA, userName="Ada Lovelace", eventType="help", code=None),
    ]


def bob_events() -> list[dict[str, Any]]:
    return [event(emailAddress=BOB, userName="Bob Builder") for _ in range(2)]


async def sql(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    # In a thread: query_sql runs its own event loop.
    return await asyncio.to_thread(query_sql, database_url, statement)


async def table_dump(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the schema, read without cell_monitor code."""
    return {
        table.name: await sql(database_url, f"SELECT * FROM {table.name}")
        for table in Base.metadata.sorted_tables
    }


async def student_pk(database_url: str, key: str) -> int:
    found = await sql(database_url, f"SELECT id FROM students WHERE student_key = '{key}'")
    assert len(found) == 1, found
    return int(found[0][0])


async def rows_of_student(database_url: str, pk: int) -> dict[str, int]:
    counts = {}
    for table in Base.metadata.sorted_tables:
        if "student_id" in table.c:
            statement = f"SELECT count(*) FROM {table.name} WHERE student_id = {pk}"
            counts[table.name] = int((await sql(database_url, statement))[0][0])
    statement = f"SELECT count(*) FROM students WHERE id = {pk}"
    counts["students"] = int((await sql(database_url, statement))[0][0])
    return counts


def pseudonymizing(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(database_url, tmp_path, pseudonymize=True, pseudonym_key=KEY, **overrides)


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    response = await client.post(URL, json=events)
    assert response.status_code == 202 and response.json()["accepted"] == len(events)


async def test_pseudonymized_store_holds_no_identity(database_url: str, tmp_path: Path) -> None:
    settings = pseudonymizing(database_url, tmp_path)
    async with live_server(settings) as base, instructor_client(base) as client:
        async with dashboard(base) as board:
            await post(client, ada_events() + bob_events())
            live_event = await board.wait_for(lambda m: m["type"] == "event")
        live = (await client.get("/api/v1/live")).json()
        students = (await client.get("/api/v1/students")).json()
    assert {s["student"] for s in live["students"]} == {ALIAS, BOB_ALIAS}
    assert live_event["event"]["student"] in {ALIAS, BOB_ALIAS}
    stored = json.dumps(await table_dump(database_url), default=str) + json.dumps(students)
    stored += json.dumps(board.messages)
    for real in ("ada@", "Ada", "Lovelace", "bob@", "Bob", KEY):
        assert real not in stored, real
    assert ALIAS in stored

    result = await cli(settings, tmp_path, "student", "pseudonym", "Ada@Example.org")
    assert result.returncode == 0, output_of(result)
    assert result.stdout.strip() == ALIAS


async def test_student_credentials_hold_pseudonyms_only(database_url: str, tmp_path: Path) -> None:
    """A roster made while pseudonymizing keeps no identity, and binds as ingest stores."""
    settings = pseudonymizing(database_url, tmp_path, ingest_token_refresh_seconds=0.1)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"student,name,team\n{ADA.upper()},Ada Lovelace,red\n{BOB},Bob Builder,\n")
    created = await cli(settings, tmp_path, "token", "create", "--roster", str(roster))
    assert created.returncode == 0, output_of(created)
    # The instructor hands each credential to its student: the roster's own names.
    rows = list(csv.DictReader(io.StringIO(created.stdout)))
    assert [(r["student"], r["name"]) for r in rows] == [
        (ADA, "Ada Lovelace"),
        (BOB, "Bob Builder"),
    ]
    stored = await sql(
        database_url, "SELECT student_key, display_name, team FROM student_credentials"
    )
    assert sorted(stored) == sorted([(ALIAS, None, "red"), (BOB_ALIAS, None, None)])
    assert ALIAS in (await cli(settings, tmp_path, "token", "list")).stdout

    credential = {"Authorization": f"Bearer {rows[0]['credential']}"}
    async with live_server(settings) as base, instructor_client(base) as client:
        before = value((await client.get("/metrics")).text, MISMATCH, action="overwritten")
        own = event(emailAddress=ADA, userName="Ada Lovelace", code="mine")
        forged = event(emailAddress=BOB, userName="Bob Builder", code="forged")
        answer = await client.post(URL, json=[own, forged], headers=credential)
        assert answer.status_code == 202, answer.text
        events = (await client.get("/api/v1/events", params={"student": ALIAS})).json()["items"]
        metrics = (await client.get("/metrics")).text
    # Both under ada's pseudonym (not a pseudonym of it); only the forgery is a mismatch.
    assert sorted(e["code"] for e in events) == ["forged", "mine"]
    assert {e["userName"] for e in events} == {ALIAS}
    assert value(metrics, MISMATCH, action="overwritten") - before == 1
    dump = json.dumps(await table_dump(database_url), default=str)
    for real in ("ada@", "ADA@", "Lovelace", "bob@", "Builder"):
        assert real not in dump, real

    revoked = await cli(settings, tmp_path, "token", "revoke", "--student", BOB)
    assert revoked.returncode == 0 and "Revoked 1" in revoked.stdout, output_of(revoked)
    deleted = await cli(settings, tmp_path, "student", "delete", ADA, "--yes")
    assert "1 student_credentials" in deleted.stdout, output_of(deleted)
    left = await sql(database_url, "SELECT student_key FROM student_credentials")
    assert left == [(BOB_ALIAS,)]


async def test_pseudonym_command_needs_the_key(database_url: str, tmp_path: Path) -> None:
    result = await cli(make_settings(database_url, tmp_path), tmp_path, "student", "pseudonym", ADA)
    assert result.returncode != 0
    assert "CELL_MONITOR_PSEUDONYM_KEY" in output_of(result)
    on_without_key = await asyncio.to_thread(
        run_cli,
        "student",
        "pseudonym",
        ADA,
        cwd=tmp_path,
        env={"DATABASE_URL": database_url, "CELL_MONITOR_PSEUDONYMIZE": "1"},
    )
    assert on_without_key.returncode != 0
    assert "CELL_MONITOR_PSEUDONYM_KEY" in output_of(on_without_key)
    assert "Traceback" not in output_of(on_without_key)


async def test_export_has_everything_about_the_student(database_url: str, tmp_path: Path) -> None:
    settings = pseudonymizing(database_url, tmp_path)
    async with live_server(settings) as base, instructor_client(base) as client:
        await post(client, ada_events() + bob_events())
        dismissed = await client.post(f"/api/v1/students/{ALIAS}/help/dismiss")
        assert dismissed.status_code == 200, dismissed.text

    output = tmp_path / "export" / "ada.json"
    output.parent.mkdir()
    result = await cli(settings, tmp_path, "student", "export", ADA, "--output", str(output))
    assert result.returncode == 0, output_of(result)
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    data = json.loads(output.read_text())
    assert [s["student_key"] for s in data["students"]] == [ALIAS]
    assert data["students"][0]["event_count"] == 3
    assert data["students"][0]["help_since"] is None  # dismissed
    assert len(data["events"]) == 3
    assert len(data["cellExecutions"]) == 2
    assert {c["code"] for c in data["cellExecutions"]} == {"print(1)", "1/0"}
    assert [c["error_name"] for c in data["cellExecutions"] if c["has_error"]] == [
        "ZeroDivisionError"
    ]
    assert len(data["sessions"]) == 1
    assert {n["path"] for n in data["notebooks"]} == {"ada-notes.ipynb", "lesson1.ipynb"}
    # When she last ran a cell of each notebook she ran cells of (derived for the dashboard).
    ran_in = {c["notebook_id"] for c in data["cellExecutions"]}
    assert {r["notebook_id"] for r in data["notebookStudents"]} == ran_in
    assert [a["action"] for a in data["instructorActions"]] == ["dismiss_help"]
    [request] = data["helpRequests"]
    assert request["state"] == "dismissed" and request["closed_by"] == "admin"
    assert BOB_ALIAS not in output.read_text()

    # A pseudonym works as well as the real identity; stdout without --output.
    by_alias = await cli(settings, tmp_path, "student", "export", ALIAS)
    assert by_alias.returncode == 0, output_of(by_alias)
    assert json.loads(by_alias.stdout)["students"] == data["students"]

    unknown = await cli(settings, tmp_path, "student", "export", "nobody@example.org")
    assert unknown.returncode == 1 and "no student" in output_of(unknown)


async def test_export_without_pseudonyms(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)
    async with live_server(settings) as base, instructor_client(base) as client:
        await post(client, ada_events())
    result = await cli(settings, tmp_path, "student", "export", "ADA@example.org")
    assert result.returncode == 0, output_of(result)
    data = json.loads(result.stdout)
    assert [s["user_name"] for s in data["students"]] == ["Ada Lovelace"]
    assert len(data["events"]) == 3


async def test_delete_leaves_nothing_behind(
    database_url: str,
    tmp_path: Path,
    redis_url: str,
    channel: str,
    influx_server: str,
    influx_database: str,
) -> None:
    settings = pseudonymizing(
        database_url,
        tmp_path,
        redis_url=redis_url,
        redis_channel=channel,
        influxdb_url=influx_server,
        influxdb_bucket=influx_database,
        influx_flush_seconds=0.1,
    )

    def points(user: str) -> list[dict[str, Any]]:
        return [
            *rows(
                influx_server,
                influx_database,
                f"SELECT * FROM cell_execution WHERE user_id = '{user}'",
            ),
            *rows(
                influx_server,
                influx_database,
                f"SELECT * FROM student_event WHERE user_id = '{user}'",
            ),
        ]

    async with live_server(settings) as base, instructor_client(base) as client:
        await post(client, ada_events() + bob_events())
        await eventually(lambda: len(points(ALIAS)) == 3, what="ada's points in InfluxDB")
        await eventually(lambda: len(points(BOB_ALIAS)) == 2, what="bob's points in InfluxDB")
        ada_pk = await student_pk(database_url, ALIAS)
        assert sum((await rows_of_student(database_url, ada_pk)).values()) > 0
        async with dashboard(base) as board:
            result = await cli(settings, tmp_path, "student", "delete", ADA, "--yes")
            assert result.returncode == 0, output_of(result)
            removed = await board.wait_for(lambda m: m["type"] == "student_removed")
        assert removed == {"type": "student_removed", "studentId": ALIAS}
        live = (await client.get("/api/v1/live")).json()
        assert [s["student"] for s in live["students"]] == [BOB_ALIAS]

    report = output_of(result)
    assert "students" in report and "3 events" in report and "2 cell_executions" in report
    assert "1 notebooks" in report  # ada-notes.ipynb was hers alone
    assert "1 help_requests" in report
    assert "to 1 server worker(s)" in report
    assert "2 cell_execution points, 1 student_event points" in report

    remaining = await rows_of_student(database_url, ada_pk)
    assert remaining == dict.fromkeys(remaining, 0)
    stored = json.dumps(await table_dump(database_url), default=str)
    assert ALIAS not in stored and "ada-notes" not in stored
    assert BOB_ALIAS in stored and "lesson1.ipynb" in stored  # others' data stays
    assert points(ALIAS) == []
    tags = query(influx_server, 'SHOW TAG VALUES WITH KEY = "user_id"', influx_database)
    values = {value for series in tags for _, value in series["values"]}
    assert values == {BOB_ALIAS}
    assert len(points(BOB_ALIAS)) == 2

    again = await cli(settings, tmp_path, "student", "delete", ADA, "--yes")
    assert again.returncode == 0 and "nothing deleted" in output_of(again)


async def test_delete_asks_first(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)
    async with live_server(settings) as base, instructor_client(base) as client:
        await post(client, ada_events())
    declined = await cli(settings, tmp_path, "student", "delete", ADA)  # stdin is empty: no
    assert declined.returncode != 0
    assert (await sql(database_url, "SELECT count(*) FROM events"))[0][0] == 3
    deleted = await cli(settings, tmp_path, "student", "delete", ADA, "--yes")
    assert deleted.returncode == 0, output_of(deleted)
    assert "not configured" in output_of(deleted)  # no InfluxDB here
    assert "REDIS_URL is unset" in output_of(deleted)
    for name, table_rows in (await table_dump(database_url)).items():
        if name not in NOT_STUDENT_DATA:
            assert table_rows == [], name


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[InfluxProcess]:
    if not influx_url():
        missing_service("CELL_MONITOR_TEST_INFLUXDB_URL is not set")
    process = InfluxProcess(tmp_path / "influxd").start()
    try:
        yield process
    finally:
        process.stop()


async def test_sink_cannot_bring_erased_points_back(
    database_url: str, tmp_path: Path, redis_url: str, channel: str, influxd: InfluxProcess
) -> None:
    """Erased while InfluxDB is down and the sink holds the student's points for retry."""
    settings = pseudonymizing(
        database_url,
        tmp_path,
        redis_url=redis_url,
        redis_channel=channel,
        influxdb_url=influxd.url,
        influxdb_bucket="cellmonitor",
        influx_flush_seconds=0.1,
        influx_max_backoff_seconds=0.5,
        influx_gap_seconds=1.0,
    )

    def points(user: str) -> list[dict[str, Any]]:
        statement = f"SELECT * FROM cell_execution WHERE user_id = '{user}'"
        return rows(influxd.url, "cellmonitor", statement)

    async with live_server(settings) as base, instructor_client(base) as client:
        await post(client, bob_events())
        await eventually(lambda: len(points(BOB_ALIAS)) == 2, what="bob's points")
        influxd.stop()
        await post(client, ada_events() + bob_events())

        async def sink_failing() -> bool:
            health = (await client.get("/health")).json()
            return health["services"]["influxdb"].startswith("unhealthy")

        await eventually(sink_failing, what="the sink to hold its batch")
        result = await cli(settings, tmp_path, "student", "delete", ADA, "--yes")
        # The store is erased; InfluxDB could not be reached, which the command says.
        assert result.returncode == 1, output_of(result)
        assert "run this command again" in output_of(result)
        assert "3 events" in output_of(result)
        influxd.start()
        await eventually(lambda: len(points(BOB_ALIAS)) == 4, what="the held batch written")
        # The sink writes in log order: once a later event is in InfluxDB, no
        # earlier batch can still bring the erased student's points back.
        await post(client, bob_events()[:1])
        await eventually(lambda: len(points(BOB_ALIAS)) == 5, what="a later batch written")
        assert points(ALIAS) == []


async def test_events_after_erasing_the_newest_reach_influxdb(
    database_url: str, tmp_path: Path, influx_server: str, influx_database: str
) -> None:
    """The erased student's events were the newest: later events still get new ids.

    On SQLite a deleted newest row used to give its id to the next event, one
    the sink had already passed: that event never reached InfluxDB.
    """
    settings = make_settings(
        database_url, tmp_path, influxdb_url=influx_server, influxdb_bucket=influx_database,
        influx_flush_seconds=0.1,
    )  # fmt: skip

    def points(user: str) -> list[dict[str, Any]]:
        statement = f"SELECT * FROM cell_execution WHERE user_id = '{user}'"
        return rows(influx_server, influx_database, statement)

    async with live_server(settings) as base, instructor_client(base) as client:
        await post(client, bob_events())
        await post(client, ada_events())  # the log's newest ids
        await eventually(lambda: len(points(ADA)) == 2, what="ada's points")
        deleted = await cli(settings, tmp_path, "student", "delete", ADA, "--yes")
        assert deleted.returncode == 0, output_of(deleted)
        await post(client, bob_events())
        await eventually(lambda: len(points(BOB)) == 4, what="bob's later points")
    assert points(ADA) == []


async def test_data_from_before_pseudonymization_is_found_and_erased(
    database_url: str, tmp_path: Path, influx_server: str, influx_database: str
) -> None:
    influx = {
        "influxdb_url": influx_server,
        "influxdb_bucket": influx_database,
        "influx_flush_seconds": 0.1,
    }
    plain = make_settings(database_url, tmp_path, **influx)
    pseudo = pseudonymizing(database_url, tmp_path, **influx)

    def users() -> set[str]:
        try:
            series = query(influx_server, 'SHOW TAG VALUES WITH KEY = "user_id"', influx_database)
        except RuntimeError as exc:  # before the sink created the database
            assert "database not found" in str(exc)
            return set()
        return {value for one in series for _, value in one["values"]}

    async with live_server(plain) as base, instructor_client(base) as client:
        await post(client, ada_events()[:1])
        await eventually(lambda: users() == {ADA}, what="the point under the real identity")
    async with live_server(pseudo) as base, instructor_client(base) as client:
        await post(client, ada_events()[1:] + bob_events())
        await eventually(lambda: users() == {ADA, ALIAS, BOB_ALIAS}, what="the new points")

    exported = await cli(pseudo, tmp_path, "student", "export", ADA)
    assert exported.returncode == 0, output_of(exported)
    data = json.loads(exported.stdout)
    assert sorted(s["student_key"] for s in data["students"]) == sorted([ADA, ALIAS])
    assert len(data["events"]) == 3

    deleted = await cli(pseudo, tmp_path, "student", "delete", ADA, "--yes")
    assert deleted.returncode == 0, output_of(deleted)
    assert "2 students" in output_of(deleted)
    assert users() == {BOB_ALIAS}
    stored = json.dumps(await table_dump(database_url), default=str)
    assert "ada@" not in stored and ALIAS not in stored and "Lovelace" not in stored
