"""The doctor's configuration check and its report renderers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cell_monitor.accounts.safety import UnsafeConfiguration, check_production
from cell_monitor.config import Environment, Settings
from cell_monitor.doctor.findings import CheckResult, Finding, Report, Urgency
from cell_monitor.doctor.options import DoctorOptions
from cell_monitor.doctor.render import to_json, to_text
from cell_monitor.doctor.runner import run_doctor
from tests.support import make_settings


async def _config_findings(settings: Settings) -> list[Finding]:
    report = await run_doctor(DoctorOptions(settings=settings, only=("config",)))
    return report.findings


async def test_what_production_refuses_is_a_high_finding(tmp_path: Path) -> None:
    settings = make_settings(
        "postgresql://cellmonitor_user:cellmonitor_password@postgres:5432/cellmonitor_db",
        tmp_path,
        environment="production",
        workers=4,
        influxdb_url="http://influxdb:8086",
        influxdb_token="change-me",
        cors_origins="https://hub.example.edu/lab",
    )
    findings = await _config_findings(settings)
    by_title = {f.title.split()[0]: f for f in findings}
    assert {f.urgency for f in findings} == {Urgency.high}
    assert by_title["DATABASE_URL"].id == "config.secret_unset"
    assert "POSTGRES_PASSWORD" in by_title["DATABASE_URL"].fix
    assert "token_urlsafe" in by_title["INFLUXDB_TOKEN"].fix
    assert by_title["CELL_MONITOR_CORS_ORIGINS"].id == "config.cors_origin_invalid"
    assert "REDIS_URL=redis://" in by_title["4"].fix  # "4 workers without REDIS_URL"
    # The doctor names exactly what `serve` refuses.
    with pytest.raises(UnsafeConfiguration) as refused:
        check_production(settings)
    for variable in ("DATABASE_URL", "INFLUXDB_TOKEN", "CELL_MONITOR_CORS_ORIGINS"):
        assert variable in str(refused.value)

    good = make_settings(
        "postgresql://cellmonitor_user:Zq0o1lJ9v2r8s7t6u5@postgres:5432/cellmonitor_db",
        tmp_path,
        environment="production",
    )
    assert await _config_findings(good) == []
    development = settings.model_copy(update={"environment": Environment.development, "workers": 1})
    assert await _config_findings(development) == []

    sqlite = make_settings("", tmp_path, environment="production")
    sqlite = sqlite.model_copy(update={"database_url": None})
    assert [f.id for f in await _config_findings(sqlite)] == ["config.sqlite_in_production"]


async def test_unusable_urls(tmp_path: Path) -> None:
    settings = make_settings("mysql://db/x", tmp_path, redis_url="http://redis:6379")
    found = {f.id: f for f in await _config_findings(settings)}
    assert "postgresql://" in found["config.database_url_invalid"].fix
    assert found["config.redis_url_invalid"].urgency == Urgency.high


def test_text_report_groups_by_urgency_and_json_has_counts() -> None:
    def finding(id_: str, urgency: Urgency) -> Finding:
        return Finding(id=id_, urgency=urgency, title=id_, detail="why", fix="do this")

    report = Report(
        version="1",
        results=[
            CheckResult(check="a", findings=[finding("a.low", Urgency.low)]),
            CheckResult(check="b", findings=[finding("b.high", Urgency.high)]),
            CheckResult(check="c", summary="all good"),
        ],
    )
    text = to_text(report)
    assert text.index("HIGH urgency") < text.index("[b.high]") < text.index("LOW urgency")
    assert "ok c: all good" in text and "needs attention now" in text
    data = json.loads(to_json(report))
    assert data["counts"] == {"high": 1, "medium": 0, "low": 1} and data["healthy"] is False
    assert data["results"][1]["findings"][0]["fix"] == "do this"


def test_unloadable_configuration_is_a_high_finding_even_in_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cell_monitor.cli import main

    env = {"INFLUXDB_URL": "influx.internal:8086", "CELL_MONITOR_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["doctor", "--json"], env=env)
    assert result.exit_code == 1
    data = json.loads(result.output)
    finding = data["results"][0]["findings"][0]
    assert finding["id"] == "config.invalid" and "INFLUXDB_URL" in finding["detail"]
