"""The server extension's environment variables: one table, typed by the traits."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from cell_monitor.jupyter_ext.app import CellMonitorExtension
from cell_monitor.jupyter_ext.environment import ENVIRONMENT

SET = {
    "CELL_MONITOR_ENABLED": "off",
    "CELL_MONITOR_SERVER_URL": " http://class:8000 ",
    "CELL_MONITOR_INGEST_TOKEN": "tok",
    "JUPYTERHUB_USER": "ada",
    "CELL_MONITOR_USER_ID": "ada-os",
    "CELL_MONITOR_QUEUE_PATH": "/tmp/q.sqlite3",
    "CELL_MONITOR_MAX_QUEUE_EVENTS": "2500",
    "CELL_MONITOR_RETRY_INITIAL_SECONDS": "0.25",
    "CELL_MONITOR_RETRY_MAX_SECONDS": "9",
    "CELL_MONITOR_WARN_AFTER_SECONDS": "30",
    "CELL_MONITOR_PRIVACY_CONTACT": "privacy@school.example",
    "CELL_MONITOR_REQUIRE_CONSENT": "YES",
    "CELL_MONITOR_ENGAGEMENT": "0",
    "CELL_MONITOR_HUB_IDENTITY": "on",
    "JUPYTERHUB_API_TOKEN": "hub-token-of-ada",
}
EXPECTED = {
    "enabled": False,
    "server_url": "http://class:8000",
    "ingest_token": "tok",
    "hub_user": "ada",
    "user_id": "ada-os",
    "queue_path": "/tmp/q.sqlite3",
    "max_queue_events": 2500,
    "retry_initial_seconds": 0.25,
    "retry_max_seconds": 9.0,
    "warn_after_seconds": 30,
    "privacy_contact": "privacy@school.example",
    "require_consent": True,
    "engagement": False,
    "hub_identity": True,
    "hub_api_token": "hub-token-of-ada",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)


def test_every_variable_sets_its_trait_with_the_traits_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert set(SET) == set(ENVIRONMENT.values()), "a variable without a test"
    for variable, value in SET.items():
        monkeypatch.setenv(variable, value)
    app = CellMonitorExtension()
    assert {name: getattr(app, name) for name in EXPECTED} == EXPECTED
    assert all(type(getattr(app, n)) is type(v) for n, v in EXPECTED.items())


def test_unset_or_empty_variables_leave_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELL_MONITOR_USER_ID", "  ")
    app = CellMonitorExtension()
    assert (app.enabled, app.require_consent, app.server_url) == (True, False, "")
    assert (app.max_queue_events, app.retry_initial_seconds, app.retry_max_seconds) == (
        100_000,
        1.0,
        60.0,
    )
    assert app.warn_after_seconds == 120
    assert app.queue_path.endswith("cell_monitor/queue.sqlite3")
    assert app.user_id != "  "  # the operating-system user, not the blank variable


def test_jupyter_configuration_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CELL_MONITOR_SERVER_URL", "http://from-env:8000")
    monkeypatch.setenv("CELL_MONITOR_RETRY_MAX_SECONDS", "9")
    given = CellMonitorExtension(config=Config({"CellMonitorExtension": {"retry_max_seconds": 5}}))
    assert (given.server_url, given.retry_max_seconds) == ("http://from-env:8000", 5)
    # The extension manager loads config files after creating the app; they still win.
    later = CellMonitorExtension()
    later.update_config(Config({"CellMonitorExtension": {"server_url": "http://config:8000"}}))
    assert (later.server_url, later.retry_max_seconds) == ("http://config:8000", 9)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CELL_MONITOR_MAX_QUEUE_EVENTS", "lots", "CELL_MONITOR_MAX_QUEUE_EVENTS must be a number"),
        ("CELL_MONITOR_RETRY_MAX_SECONDS", "1m", "CELL_MONITOR_RETRY_MAX_SECONDS must be a number"),
        ("CELL_MONITOR_REQUIRE_CONSENT", "maybe", "CELL_MONITOR_REQUIRE_CONSENT must be 1 or 0"),
        ("CELL_MONITOR_ENABLED", "disabled", "CELL_MONITOR_ENABLED must be 1 or 0"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        CellMonitorExtension()
