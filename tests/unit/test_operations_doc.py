"""docs/operations.md stays true to the code: every setting and every doctor finding is in it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from cell_monitor.config import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "config_reference", ROOT / "scripts" / "config_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_matches_settings() -> None:
    script = _script()
    document = DOC.read_text()
    assert script.updated(document) == document, (
        "docs/operations.md is out of date: run python scripts/config_reference.py"
    )
    table = document.split(script.START)[1].split(script.END)[0]
    for field, info in Settings.model_fields.items():
        name = env_name(field)
        assert f"| `{name}`" in table, f"{name} is missing from the configuration reference"
        assert " ".join((info.description or "").split())[:40] in table


def test_reference_changes_when_a_setting_changes() -> None:
    script = _script()
    before = script.render()
    field = Settings.model_fields["port"]
    original = field.description
    try:
        field.description = "A different description."
        assert script.render() != before
    finally:
        field.description = original


def test_every_doctor_finding_is_documented() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "cell_monitor" / "doctor").glob("*.py"))
    ids = set(re.findall(r'id="([a-z_]+\.[a-z_]+)"', source))
    assert len(ids) > 30
    document = DOC.read_text()
    troubleshooting = document.split("## Troubleshooting")[1]
    missing = sorted(i for i in ids if f"`{i}`" not in document)
    assert not missing, f"doctor findings not in docs/operations.md: {missing}"
    # The guide's symptoms map to findings in the troubleshooting table.
    for symptom_finding in ("redis.unreachable", "ports.conflict", "api.cors_origin_missing",
                            "database.slow_queries", "influx.database_missing",
                            "api.websocket_failed", "jupyter.labextension_missing"):  # fmt: skip
        assert f"`{symptom_finding}`" in troubleshooting
