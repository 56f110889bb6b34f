"""/health, /health/live, /health/ready and /metrics on a healthy server."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cell_monitor import metrics
from tests.support import ServerProcess, event, is_config_variable


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_health_reports_each_backend(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["services"] == {backend: "healthy"}
    assert body["timestamp"]
    assert (await client.get("/health/live")).json() == {"status": "alive"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_metrics_count_what_happened(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    batch = [
        event(),
        event(),
        event(hasError=True, errorName="ValueError"),
        event(eventType="help"),
    ]
    await client.post("/api/v1/events", json=[*batch, {"eventType": "help"}])
    await client.post("/api/v1/events", json=batch[:1])  # a duplicate
    await client.post("/api/v1/events", content=b"{", headers={"content-type": "application/json"})
    after = (await client.get("/metrics")).text

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("events_total", event_type="cell_executed") == 3
    assert delta("events_total", event_type="help") == 1
    assert delta("cell_executions_total", outcome="error") == 1
    assert delta("events_duplicate_total") == 1
    assert delta("events_rejected_total") == 1
    assert delta("errors_total", error_type="invalid_events") == 1
    assert delta("errors_total", error_type="malformed_json") == 1
    route = {"method": "POST", "route": "/api/v1/events"}
    assert delta("request_duration_seconds_count", status="2xx", **route) == 2
    assert delta("request_duration_seconds_count", status="4xx", **route) == 1
    assert delta("db_query_duration_seconds_count", operation="insert") >= 2
    assert value(after, "active_connections", kind="http") >= 1  # this very request
    assert "ada@example.org" not in after and batch[0]["eventId"] not in after
    assert "text/plain" in (await client.get("/metrics")).headers["content-type"]


def test_metrics_show_every_declared_series_at_zero_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh server process: a first error is a step from 0, not a series appearing."""
    for name in list(os.environ):
        if is_config_variable(name):
            monkeypatch.delenv(name)
    server = ServerProcess({"CELL_MONITOR_DATA_DIR": str(tmp_path)}).wait_ready()
    try:
        found = samples(httpx.get(f"{server.url}/metrics", timeout=30).text)
    finally:
        server.stop()
    for counter, values in metrics.LABEL_VALUES.items():
        name = f"{counter._name}_total"
        (label,) = counter._labelnames
        for label_value in values:
            assert found.get((name, ((label, str(label_value)),))) == 0.0, (name, label_value)
    assert found[("errors_total", (("error_type", "storage_unavailable"),))] == 0.0


async def test_openapi_documents_the_contract(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/api/v1/events"]["post"]
    assert "requestBody" in post and "202" in post["responses"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    fields = schema["anyOf"][1]["properties"]
    for name in ("eventId", "eventType", "eventTime", "emailAddress", "executionDurationMs"):
        assert name in fields
    assert (await client.get("/docs")).status_code == 200
