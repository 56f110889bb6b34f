"""The server process freezes what exists at start out of the collector (server/app.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import gc, json
from cell_monitor.server.app import GC_THRESHOLDS, create_app, create_app_from_env
from cell_monitor.config import Settings
before = gc.get_threshold()
create_app(Settings())  # what tests build: the collector is left alone
untouched = gc.get_threshold() == before and gc.get_freeze_count() == 0
create_app_from_env()  # what `cell-monitor serve` and its workers build
print(json.dumps({"untouched": untouched, "thresholds": list(gc.get_threshold()),
                  "expected": list(GC_THRESHOLDS), "frozen": gc.get_freeze_count()}))
"""


def test_only_the_server_factory_tunes_the_collector(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELL_MONITOR_", "DATABASE_URL"))
    }
    env["CELL_MONITOR_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["untouched"]
    assert result["thresholds"] == result["expected"]
    assert result["frozen"] > 10_000  # the modules and the app, out of every pass
