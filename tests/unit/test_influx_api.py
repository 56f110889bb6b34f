"""The InfluxDB client's choice of API, its diagnoses, and skipping refused points.

These talk to a scripted transport; the real InfluxDB tests are in integration/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cell_monitor.config import Settings
from cell_monitor.sinks.influx import api as influx_api
from cell_monitor.sinks.influx.api import InfluxApi
from cell_monitor.sinks.influx.batches import Point, write_points
from tests.support import make_settings

Handler = Callable[[httpx.Request], httpx.Response]


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values = {"influxdb_url": "http://u:secret@influx.test:8086", "influxdb_bucket": "cm"}
    values.update(overrides)
    return make_settings(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, **values)


def api(
    tmp_path: Path, handler: Handler, **overrides: Any
) -> tuple[InfluxApi, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    transport = httpx.MockTransport(record)
    return InfluxApi(settings(tmp_path, **overrides), transport=transport), seen


def error(status: int, message: str, key: str = "error") -> httpx.Response:
    return httpx.Response(status, json={key: message})


async def test_v1_by_default_with_basic_auth_from_the_url(tmp_path: Path) -> None:
    client, seen = api(tmp_path, lambda r: httpx.Response(204))
    await client.write(b"m x=1 1")
    request = seen[0]
    assert request.url.path == "/write"
    assert dict(request.url.params) == {"db": "cm", "precision": "ns"}
    assert request.headers["authorization"].startswith("Basic ")
    assert "secret" not in client.target.describe()
    await client.aclose()


async def test_v2_with_token_and_org(tmp_path: Path) -> None:
    client, seen = api(
        tmp_path,
        lambda r: httpx.Response(204),
        influxdb_url="http://influx.test:8086",
        influxdb_token="tok",
        influxdb_org="school",
    )
    await client.write(b"m x=1 1")
    assert seen[0].url.path == "/api/v2/write"
    assert dict(seen[0].url.params) == {"org": "school", "bucket": "cm", "precision": "ns"}
    assert seen[0].headers["authorization"] == "Token tok"
    await client.aclose()


async def test_a_token_without_org_uses_the_v1_endpoint(tmp_path: Path) -> None:
    client, seen = api(
        tmp_path, lambda r: httpx.Response(204), influxdb_url="http://h:8086", influxdb_token="t"
    )
    await client.write(b"m x=1 1")
    assert seen[0].url.path == "/write" and seen[0].headers["authorization"] == "Token t"
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "exception", "words"),
    [
        (401, influx_api.Unauthorized, ["401", "INFLUXDB_URL", "INFLUXDB_TOKEN"]),
        (403, influx_api.Forbidden, ["403", "database 'cm'", 'GRANT WRITE ON "cm"']),
        (503, influx_api.Unavailable, ["503"]),
        (413, influx_api.TooLarge, ["413"]),
    ],
)
async def test_write_errors_say_what_to_do(
    tmp_path: Path, status: int, exception: type, words: list[str]
) -> None:
    client, _ = api(tmp_path, lambda r: error(status, "nope"))
    with pytest.raises(exception) as raised:
        await client.write(b"m x=1 1")
    for word in words:
        assert word in str(raised.value)
    await client.aclose()


async def test_v2_forbidden_names_bucket_and_org(tmp_path: Path) -> None:
    client, _ = api(
        tmp_path,
        lambda r: error(403, "insufficient permissions for write", "message"),
        influxdb_token="t",
        influxdb_org="school",
    )
    with pytest.raises(influx_api.Forbidden, match="bucket 'cm' of org 'school'"):
        await client.write(b"m x=1 1")
    await client.aclose()


async def test_missing_database_is_created_once_then_written(tmp_path: Path) -> None:
    created: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/query":
            created.append(request.content.decode())
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        if not created:
            return error(404, 'database not found: "cm"')
        return httpx.Response(204)

    client, seen = api(tmp_path, handler)
    await client.write(b"m x=1 1")
    assert [r.url.path for r in seen] == ["/write", "/query", "/write"]
    assert "CREATE+DATABASE+%22cm%22" in created[0]
    await client.aclose()


async def test_missing_database_without_admin_rights(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/query":
            return error(403, "requires admin privilege")
        return error(404, 'database not found: "cm"')

    client, _ = api(tmp_path, handler)
    with pytest.raises(influx_api.Forbidden) as raised:
        await client.write(b"m x=1 1")
    message = str(raised.value)
    assert "database 'cm' does not exist" in message and "admin privilege" in message
    assert "CREATE DATABASE" in message
    await client.aclose()


async def test_missing_database_when_creation_is_off(tmp_path: Path) -> None:
    client, seen = api(
        tmp_path, lambda r: error(404, 'database not found: "cm"'), influx_create_database=False
    )
    with pytest.raises(influx_api.NotFound, match=r"does not exist .*CREATE_DATABASE=true"):
        await client.write(b"m x=1 1")
    assert len(seen) == 1
    await client.aclose()


async def test_missing_bucket_is_created_in_the_org(tmp_path: Path) -> None:
    state = {"bucket": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/orgs":
            return httpx.Response(200, json={"orgs": [{"id": "org123", "name": "school"}]})
        if request.url.path == "/api/v2/buckets":
            state["bucket"] = True
            return httpx.Response(201, json={"id": "b1"})
        if not state["bucket"]:
            return error(404, 'bucket "cm" not found', "message")
        return httpx.Response(204)

    client, seen = api(tmp_path, handler, influxdb_token="t", influxdb_org="school")
    await client.write(b"m x=1 1")
    bucket_request = next(r for r in seen if r.url.path == "/api/v2/buckets")
    assert b'"orgID":"org123"' in bucket_request.content.replace(b" ", b"")
    await client.aclose()


async def test_missing_bucket_without_permission(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/orgs":
            return httpx.Response(200, json={"orgs": [{"id": "org123"}]})
        if request.url.path == "/api/v2/buckets":
            return error(403, "write:orgs/org123/buckets is unauthorized", "message")
        return error(404, 'bucket "cm" not found', "message")

    client, _ = api(tmp_path, handler, influxdb_token="t", influxdb_org="school")
    with pytest.raises(influx_api.Forbidden) as raised:
        await client.write(b"m x=1 1")
    assert "bucket 'cm' does not exist" in str(raised.value)
    assert "write:buckets" in str(raised.value)
    await client.aclose()


async def test_unknown_org_is_not_a_missing_bucket(tmp_path: Path) -> None:
    client, seen = api(
        tmp_path,
        lambda r: error(404, 'organization name "nope" not found', "message"),
        influxdb_token="t",
        influxdb_org="nope",
    )
    with pytest.raises(influx_api.NotFound, match=r"organization 'nope' .*INFLUXDB_ORG"):
        await client.write(b"m x=1 1")
    assert len(seen) == 1
    await client.aclose()


async def test_unreachable(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client, _ = api(tmp_path, refuse)
    with pytest.raises(influx_api.Unavailable, match="unreachable: connection refused"):
        await client.ping()
    await client.aclose()


def points(*names: str) -> list[Point]:
    return [Point(f"m,n={name} x=1 1".encode(), name) for name in names]


async def test_a_batch_refused_whole_is_bisected_to_the_bad_point(tmp_path: Path) -> None:
    # 2.x refuses the whole batch for one malformed line (400, nothing stored).
    stored: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if b"bad" in request.content:
            return error(400, "unable to parse 'm,n=bad': missing fields", "message")
        stored.extend(request.content.split(b"\n"))
        return httpx.Response(204)

    client, seen = api(tmp_path, handler)
    names = [f"p{i}" for i in range(16)]
    names[11] = "bad"
    report = await write_points(client, points(*names))
    assert (report.written, report.dropped) == (15, 1)
    assert [line.split(b"=")[1].split(b" ")[0].decode() for line in stored] == [
        n for n in names if n != "bad"
    ]  # in order
    assert report.requests == len(seen) <= 2 * 4 + 1
    await client.aclose()


async def test_a_partial_write_is_not_repeated(tmp_path: Path) -> None:
    client, seen = api(
        tmp_path,
        lambda r: error(400, "partial write: field type conflict: ... dropped=2"),
    )
    report = await write_points(client, points("a", "b", "c", "d"))
    assert (report.written, report.dropped, len(seen)) == (2, 2, 1)
    await client.aclose()


async def test_a_batch_too_large_is_split(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        lines = request.content.count(b"\n") + 1
        return httpx.Response(204) if lines <= 2 else error(413, "too large")

    client, _ = api(tmp_path, handler)
    report = await write_points(client, points(*"abcdefgh"))
    assert (report.written, report.dropped) == (8, 0)
    await client.aclose()


async def test_outages_propagate_so_the_batch_is_kept(tmp_path: Path) -> None:
    client, _ = api(tmp_path, lambda r: error(503, "shutting down"))
    with pytest.raises(influx_api.Unavailable):
        await write_points(client, points("a", "b"))
    await client.aclose()


async def test_erasing_a_student_v1_drops_the_series(tmp_path: Path) -> None:
    client, seen = api(tmp_path, lambda r: httpx.Response(200, json={"results": [{}]}))
    await client.delete_series("user_id", "o'brien@example.org")
    (request,) = seen
    assert request.url.path == "/query"
    statement = httpx.QueryParams(request.content.decode())["q"]
    assert statement == "DROP SERIES WHERE \"user_id\" = 'o\\'brien@example.org'"
    await client.aclose()


async def test_erasing_a_student_v2_deletes_by_predicate(tmp_path: Path) -> None:
    client, seen = api(
        tmp_path, lambda r: httpx.Response(204), influxdb_token="tok", influxdb_org="school"
    )
    await client.delete_series("user_id", 's-abc"x')
    (request,) = seen
    assert request.url.path == "/api/v2/delete"
    assert dict(request.url.params) == {"org": "school", "bucket": "cm"}
    body = httpx.Response(200, content=request.content).json()
    assert body["predicate"] == 'user_id="s-abc\\"x"'
    assert body["start"] < "1970" and body["stop"] > "2200"  # all time
    await client.aclose()


async def test_erasing_where_nothing_was_ever_written_is_not_an_error(tmp_path: Path) -> None:
    missing = error(404, "bucket not found")
    client, _ = api(tmp_path, lambda r: missing, influxdb_token="tok", influxdb_org="school")
    await client.delete_series("user_id", "s-abc")
    await client.aclose()
    v1, _ = api(
        tmp_path,
        lambda r: httpx.Response(200, json={"results": [{"error": "database not found: cm"}]}),
    )
    await v1.delete_series("user_id", "s-abc")
    await v1.aclose()
    refused, _ = api(
        tmp_path, lambda r: error(403, "forbidden"), influxdb_token="t", influxdb_org="o"
    )
    with pytest.raises(influx_api.Forbidden):
        await refused.delete_series("user_id", "s-abc")
    await refused.aclose()
