"""InfluxDB over HTTP: write, ping, InfluxQL queries, creating the database.

Which API is used follows the configuration:
- INFLUXDB_TOKEN and INFLUXDB_ORG both set: the 2.x/3.x API,
  `POST /api/v2/write?org=&bucket=&precision=ns` with `Authorization: Token`.
- otherwise the 1.x API, `POST /write?db=&precision=ns` (2.x and 3.x serve it
  too). Credentials: `http://user:password@host:8086` (Basic auth) or
  INFLUXDB_TOKEN alone (sent as `Authorization: Token`).
InfluxQL queries go to `/query` on both (2.x maps the bucket name to a database).

Failures are exceptions whose message is the diagnosis an operator needs (the
user's guide's "bucket missing / no permission" cases) and whose `kind` is the
label of the write-error metric.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from cell_monitor.config import Settings

WRITE_PRECISION = "ns"
_DROPPED = re.compile(r"dropped=(\d+)")


class InfluxError(Exception):
    """InfluxDB did not take a request; retrying later may help."""

    kind = "error"


class Unavailable(InfluxError):
    kind = "unavailable"


class Unauthorized(InfluxError):
    kind = "unauthorized"


class Forbidden(InfluxError):
    kind = "forbidden"


class NotFound(InfluxError):
    kind = "not_found"

    def __init__(self, message: str, *, org_missing: bool = False) -> None:
        super().__init__(message)
        self.org_missing = org_missing


class TooLarge(InfluxError):
    kind = "too_large"


class Rejected(InfluxError):
    """400/422: InfluxDB refused points of the batch as malformed or conflicting.

    `partial`: InfluxDB said it stored the valid points of the batch (1.x and
    3.x "partial write", 2.x 422), so only the refused ones are lost.
    """

    kind = "rejected"

    def __init__(self, message: str, *, partial: bool, dropped: int | None) -> None:
        super().__init__(message)
        self.partial = partial
        self.dropped = dropped


@dataclass(frozen=True)
class Target:
    url: str
    database: str
    org: str | None
    token: str | None

    @property
    def v2(self) -> bool:
        return bool(self.token and self.org)

    @property
    def public_url(self) -> str:
        return str(httpx.URL(self.url).copy_with(username=None, password=None))

    def describe(self) -> str:
        if self.v2:
            api = f"2.x API, org {self.org!r}, bucket {self.database!r}"
            return f"InfluxDB at {self.public_url} ({api})"
        return f"InfluxDB at {self.public_url} (1.x API, database {self.database!r})"

    @property
    def noun(self) -> str:
        return "bucket" if self.v2 else "database"

    @classmethod
    def from_settings(cls, settings: Settings) -> Target:
        assert settings.influxdb_url, "the InfluxDB sink is only built when INFLUXDB_URL is set"
        return cls(
            url=settings.influxdb_url.rstrip("/"),
            database=settings.influxdb_bucket,
            org=settings.influxdb_org,
            token=settings.influxdb_token,
        )


def _quote_identifier(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def reason(response: httpx.Response) -> str:
    """InfluxDB's own explanation of an error answer, on one line."""
    text = ""
    try:
        data: Any = response.json()
    except (ValueError, json.JSONDecodeError):
        data = None
    if isinstance(data, dict):
        text = str(data.get("error") or data.get("message") or "")
        # 3.x lists the refused lines of a partial write under "data".
        details = data.get("data")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            first = details[0]
            text += f" (line {first.get('line_number')}: {first.get('error_message')})"
    text = text or response.headers.get("X-Influxdb-Error", "") or response.text
    text = " ".join(text.split())
    return text[:500] or f"HTTP {response.status_code}"


class InfluxApi:
    def __init__(
        self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.target = Target.from_settings(settings)
        self.create_missing = settings.influx_create_database
        headers = {"User-Agent": "cell-monitor"}
        if self.target.token:
            headers["Authorization"] = f"Token {self.target.token}"
        # user:password in the URL becomes Basic auth (httpx reads it from the URL).
        self._http = httpx.AsyncClient(
            base_url=self.target.url,
            headers=headers,
            timeout=settings.influx_timeout_seconds,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            raise Unavailable(
                f"{self.target.describe()} is unreachable: {detail}; the sink retries and "
                "catches up when it answers"
            ) from exc

    async def ping(self) -> None:
        response = await self._send("GET", "/ping")
        if response.status_code in (401, 403):
            raise self._auth_error(response, "ping")
        if not response.is_success:
            status = response.status_code
            raise Unavailable(f"{self.target.describe()} answered /ping with {status}")

    async def write(self, body: bytes) -> None:
        """Write line protocol; creates a missing database/bucket once when allowed."""
        try:
            await self._write(body)
        except NotFound as missing:
            if not self.create_missing or missing.org_missing:
                raise
            await self.create_database()
            await self._write(body)

    async def _write(self, body: bytes) -> None:
        if self.target.v2:
            path = "/api/v2/write"
            params = {"org": self.target.org, "bucket": self.target.database}
        else:
            path, params = "/write", {"db": self.target.database}
        response = await self._send(
            "POST",
            path,
            params={**params, "precision": WRITE_PRECISION},
            content=body,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        if response.is_success:
            return
        raise self._write_error(response)

    def _write_error(self, response: httpx.Response) -> InfluxError:
        status, why = response.status_code, reason(response)
        if status in (400, 422):
            match = _DROPPED.search(why)
            partial = status == 422 or "partial write" in why.lower()
            return Rejected(
                f"InfluxDB refused points ({status}): {why}",
                partial=partial,
                dropped=int(match.group(1)) if match else None,
            )
        if status == 413:
            return TooLarge(f"InfluxDB refused a batch as too large (413): {why}")
        if status in (401, 403):
            return self._auth_error(response, "write")
        if status == 404:
            return self._not_found(why)
        return Unavailable(f"{self.target.describe()} answered {status}: {why}")

    def _not_found(self, why: str) -> NotFound:
        noun, name = self.target.noun, self.target.database
        if "organization" in why.lower():
            return NotFound(
                f"InfluxDB organization {self.target.org!r} was not found (404: {why}): "
                "check INFLUXDB_ORG",
                org_missing=True,
            )
        hint = (
            "the sink creates it when CELL_MONITOR_INFLUX_CREATE_DATABASE=true and the "
            "credentials allow it"
            if not self.create_missing
            else "it is created on the next write"
        )
        return NotFound(
            f"InfluxDB {noun} {name!r} does not exist (404: {why}); create it or set "
            f"INFLUXDB_BUCKET to an existing one ({hint})"
        )

    def _auth_error(self, response: httpx.Response, action: str) -> InfluxError:
        why, name = reason(response), self.target.database
        if response.status_code == 401:
            credentials = (
                "INFLUXDB_TOKEN"
                if self.target.token
                else "the user and password in INFLUXDB_URL (http://user:password@host:8086) "
                "or INFLUXDB_TOKEN"
            )
            return Unauthorized(
                f"InfluxDB refused the credentials on {action} (401: {why}): check {credentials}"
            )
        if self.target.v2:
            return Forbidden(
                f"the InfluxDB token may not {action} bucket {name!r} of org {self.target.org!r} "
                f"(403: {why}): give INFLUXDB_TOKEN write access to the bucket"
            )
        return Forbidden(
            f"the InfluxDB user may not {action} database {name!r} (403: {why}): "
            f'GRANT WRITE ON "{name}" TO <user>'
        )

    async def create_database(self) -> None:
        """Create the configured database (1.x) or bucket (2.x); clear errors if not allowed."""
        if self.target.v2:
            await self._create_bucket()
        else:
            statement = f"CREATE DATABASE {_quote_identifier(self.target.database)}"
            response = await self._send("POST", "/query", data={"q": statement})
            if response.status_code in (401, 403):
                raise self._creation_refused(response, "admin privilege (CREATE DATABASE)")
            self._raise_query_error(response)

    async def _create_bucket(self) -> None:
        response = await self._send("GET", "/api/v2/orgs", params={"org": self.target.org})
        if response.status_code in (401, 403):
            raise self._creation_refused(response, "read:orgs permission")
        orgs = response.json().get("orgs") if response.is_success else None
        if not orgs:
            raise NotFound(
                f"InfluxDB organization {self.target.org!r} was not found "
                f"({response.status_code}: {reason(response)}): check INFLUXDB_ORG",
                org_missing=True,
            )
        body = {"orgID": orgs[0]["id"], "name": self.target.database, "retentionRules": []}
        response = await self._send("POST", "/api/v2/buckets", json=body)
        if response.status_code in (401, 403):
            raise self._creation_refused(response, "write:buckets permission")
        # 422 "bucket with name ... already exists": someone else created it first.
        if not response.is_success and response.status_code != 422:
            name = self.target.database
            raise Unavailable(f"creating bucket {name!r} failed: {reason(response)}")

    def _creation_refused(self, response: httpx.Response, needed: str) -> InfluxError:
        noun, name = self.target.noun, self.target.database
        how = (
            f"influx bucket create --name {name} --org {self.target.org}"
            if self.target.v2
            else f"influx -execute 'CREATE DATABASE \"{name}\"'"
        )
        error_type = Unauthorized if response.status_code == 401 else Forbidden
        return error_type(
            f"InfluxDB {noun} {name!r} does not exist and the credentials lack the {needed} "
            f"to create it ({response.status_code}: {reason(response)}): create it ({how}) "
            f"or set INFLUXDB_BUCKET to an existing {noun}"
        )

    def _raise_query_error(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code in (401, 403):
            raise self._auth_error(response, "query")
        if not response.is_success:
            raise Unavailable(f"InfluxDB query failed ({response.status_code}): {reason(response)}")
        data: dict[str, Any] = response.json()
        results = data.get("results") or [{}]
        error = data.get("error") or results[0].get("error")
        if error:
            if "database not found" in str(error):
                raise self._not_found(str(error))
            raise InfluxError(f"InfluxDB query failed: {error}")
        return dict(results[0])

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        """Run one InfluxQL statement on the configured database; its series."""
        response = await self._send(
            "POST",
            "/query",
            params={"db": self.target.database, "epoch": "ms"},
            data={"q": influxql},
        )
        result = self._raise_query_error(response)
        return list(result.get("series") or [])

    async def delete_series(self, tag: str, value: str) -> None:
        """Erase every point whose tag `tag` equals `value`, in all measurements.

        1.x: `DROP SERIES` (points and index entries); 2.x/3.x: /api/v2/delete with
        a predicate over all time (2.x cannot delete across measurements with
        InfluxQL).
        """
        if not self.target.v2:
            literal = value.replace("\\", "\\\\").replace("'", "\\'")
            with contextlib.suppress(NotFound):  # no database: nothing to erase
                await self.query(f"DROP SERIES WHERE {_quote_identifier(tag)} = '{literal}'")
            return
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        body = {
            "start": "1677-09-21T00:12:43.145224194Z",
            "stop": "2262-04-11T23:47:16.854775806Z",
            "predicate": f'{tag}="{quoted}"',
        }
        params = {"org": self.target.org, "bucket": self.target.database}
        response = await self._send("POST", "/api/v2/delete", params=params, json=body)
        if response.status_code in (401, 403):
            raise self._auth_error(response, "delete from")
        if response.status_code == 404:
            if "organization" in reason(response).lower():
                raise self._not_found(reason(response))
            return  # no bucket: nothing to erase
        if not response.is_success:
            raise Unavailable(
                f"InfluxDB delete failed ({response.status_code}): {reason(response)}"
            )
