"""What pseudonymization adds to ingest: validating and normalizing a batch.

Times `validate_batch` (the ingest step that pseudonymizes) on the same batches
with pseudonymization off and on, for a class whose students are all new to the
cache (the worst case) and for a class of 200 sending all day (the usual case).

Usage: .venv/bin/python benchmarks/pseudonyms.py [--events 1000] [--rounds 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from cell_monitor.config import Settings
from cell_monitor.ingest.parse import validate_batch
from cell_monitor.privacy.pseudonyms import _pseudonym


def batch(size: int, students: int) -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc).isoformat()
    return [
        {
            "eventId": str(uuid.uuid4()),
            "eventType": "cell_executed",
            "eventTime": now,
            "emailAddress": f"student{i % students}@school.example",
            "userName": f"Student {i % students}",
            "notebookPath": "lesson1.ipynb",
            "cellIndex": i % 20,
            "code": "x = 40 + 2\nprint(x)",
            "result": "42",
            "executionDurationMs": 3.5,
        }
        for i in range(size)
    ]


def compare(
    plain: Settings, pseudo: Settings, items: list[dict[str, Any]], rounds: int, cold: bool
) -> tuple[float, float]:
    """Median µs per event without and with pseudonyms, rounds interleaved (a busy
    machine's drift hits both alike)."""
    off, on = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        validate_batch(items, plain)
        off.append(time.perf_counter() - started)
        if cold:
            _pseudonym.cache_clear()
        started = time.perf_counter()
        validate_batch(items, pseudo)
        on.append(time.perf_counter() - started)
    scale = 1e6 / len(items)
    return statistics.median(off) * scale, statistics.median(on) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        common: dict[str, Any] = {"_env_file": None, "data_dir": Path(tmp)}
        plain = Settings(**common)
        pseudo = Settings(**common, pseudonymize=True, pseudonym_key="k" * 32)
        for label, students, cold in (
            ("every event a new student, cold cache", args.events, True),
            ("class of 200, warm cache", 200, False),
        ):
            items = batch(args.events, students)
            checked = validate_batch(items, pseudo)
            hidden = sum(
                e.email_address != i["emailAddress"]
                for e, i in zip(checked.events, items, strict=False)
            )
            print(
                f"{label}: validated {len(checked.events)} of {len(items)}, {hidden} pseudonymized"
            )
            if len(checked.events) != len(items) or hidden != len(items):
                raise SystemExit("a batch did not validate and pseudonymize in full")
            off, on = compare(plain, pseudo, items, args.rounds, cold)
            print(
                f"{label}: {off:.2f} µs/event off, {on:.2f} µs/event on "
                f"(+{on - off:.2f} µs, +{(on / off - 1) * 100:.0f}%)"
            )


if __name__ == "__main__":
    main()
