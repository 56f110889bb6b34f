"""The committed TypeScript wire types are what the contract generates today."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

from cell_monitor.contract import messages
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


def test_a_changed_constant_makes_the_committed_files_stale() -> None:
    generator = _generator()
    allowlist = messages.MARKDOWN_ALLOWLIST
    wider = allowlist.model_copy(update={"tags": [*allowlist.tags, "img"]})
    for target in generator.TARGETS:
        committed = (ROOT / target.path).read_text(encoding="utf-8")
        assert generator.typescript(target) == committed
        changed = dataclasses.replace(target, constants={"MARKDOWN_ALLOWLIST": wider})
        assert generator.typescript(changed) != committed
        assert "export const MARKDOWN_ALLOWLIST: MarkdownAllowlist = {" in committed


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_wire_types", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up while they are defined.
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


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
