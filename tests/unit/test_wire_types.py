"""The committed TypeScript wire types are what the contract generates today."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

from cell_monitor.contract.live import LiveMessage

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "generate_wire_types.py"
GENERATED = ("dashboard/src/wire.gen.ts", "src/wire.gen.ts")


def test_committed_wire_types_are_up_to_date(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True, cwd=ROOT)
    for name in GENERATED:
        fresh = (tmp_path / name).read_text(encoding="utf-8")
        committed = (ROOT / name).read_text(encoding="utf-8")
        assert committed == fresh, (
            f"{name} is out of date with cell_monitor/contract: run `npm run generate:types`"
        )


def test_the_dashboard_union_has_every_live_message() -> None:
    text = (ROOT / "dashboard/src/wire.gen.ts").read_text(encoding="utf-8")
    union = re.search(r"export type LiveMessage =([^;]+);", text)
    assert union is not None
    members = {name.strip() for name in union.group(1).split("|") if name.strip()}
    union_type, _ = get_args(LiveMessage)
    models = get_args(union_type)
    assert members == {model.__name__ for model in models}
    for model in models:
        kind = model.model_fields["type"].default
        assert f"type: '{kind}';" in text, kind
