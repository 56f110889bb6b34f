"""InfluxDB: the guide's `influx ping`, `bucket list` and `auth list`, as one ping and one
empty write (which InfluxDB answers 204, 404 for a missing database/bucket, 401/403
without write permission) through the sink's own client."""

from __future__ import annotations

from cell_monitor.doctor.findings import CheckResult, Finding, Urgency, found, ok, skipped
from cell_monitor.doctor.options import DoctorOptions

NAME = "influx"


async def check(options: DoctorOptions) -> CheckResult:
    settings = options.settings
    if not settings.influxdb_url:
        return skipped(NAME, "INFLUXDB_URL unset: time-series sink off")
    from cell_monitor.sinks.influx import api as api_module

    # The doctor only looks: it never creates the database on the operator's behalf.
    probe_settings = settings.model_copy(update={"influx_create_database": False})
    api = api_module.InfluxApi(probe_settings)
    where = api.target.describe()
    try:
        await api.ping()
        await api.write(b"")
    except api_module.Unavailable as exc:
        return found(NAME, _unreachable(where, exc))
    except api_module.Unauthorized as exc:
        return found(NAME, _unauthorized(exc))
    except api_module.Forbidden as exc:
        return found(NAME, _forbidden(exc))
    except api_module.NotFound:
        return found(NAME, _missing(where, settings.influx_create_database, api.target.noun))
    except api_module.Rejected:
        pass  # an empty body refused as malformed still proves the database takes writes
    finally:
        await api.aclose()
    return ok(NAME, f"{where} answers; the {api.target.noun} exists and accepts writes")


def _unreachable(where: str, exc: Exception) -> Finding:
    return Finding(
        id="influx.unreachable",
        urgency=Urgency.medium,
        title="InfluxDB does not answer",
        detail=str(exc),
        fix=f"Check that InfluxDB runs (`docker compose exec influxdb influx ping`, "
        f"`docker compose restart influxdb`) and INFLUXDB_URL ({where}). Events stay in the "
        "primary store; the sink catches up when InfluxDB is back.",
    )


def _unauthorized(exc: Exception) -> Finding:
    return Finding(
        id="influx.unauthorized",
        urgency=Urgency.medium,
        title="InfluxDB refused the credentials",
        detail=str(exc),
        fix="Check INFLUXDB_TOKEN (2.x: `influx auth list`) or the user:password in INFLUXDB_URL.",
    )


def _forbidden(exc: Exception) -> Finding:
    return Finding(
        id="influx.write_forbidden",
        urgency=Urgency.medium,
        title="The InfluxDB credentials may not write",
        detail=str(exc),
        fix="Give the token write access to the bucket (`influx auth create --write-bucket "
        '<id>`), or on 1.x `GRANT WRITE ON "cellmonitor" TO <user>`.',
    )


def _missing(where: str, auto_create: bool, noun: str) -> Finding:
    later = (
        "The sink tries to create it on its first write "
        "(CELL_MONITOR_INFLUX_CREATE_DATABASE=true); "
        "that needs admin rights (1.x) or write:buckets (2.x)."
        if auto_create
        else "The sink does not create it (CELL_MONITOR_INFLUX_CREATE_DATABASE=false)."
    )
    return Finding(
        id="influx.database_missing",
        urgency=Urgency.medium,
        title=f"The InfluxDB {noun} does not exist",
        detail=f"{where}: the {noun} is not there (404). {later}",
        fix="Create it: 2.x `influx bucket create --name cellmonitor --org <org>`, 1.x "
        "`influx -execute 'CREATE DATABASE \"cellmonitor\"'`; or set INFLUXDB_BUCKET to an "
        "existing one.",
    )
