"""What a run's edits and active time cost the writer: statements and CPU per group write.

Writes single-run groups (one commit each, as a quiet class sends them) on a
fresh SQLite database, alternating rounds of plain runs (the floor) and runs
that carry their cell's edits and active time, and prints per group write the
SQL statements executed and the process CPU, and the second as a ratio to the
floor of the same round. A run's activity goes with its latest_runs row
(storage/report_tables.py), so both kinds should execute as many statements.

Usage (from the repository root; docs/benchmarks.md has the figures):

    .venv/bin/python benchmarks/run_activity.py                  # 4 rounds of 400 groups
    .venv/bin/python benchmarks/run_activity.py --rounds 8 --groups 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cell_monitor.config import Settings  # noqa: E402 - after the path is set
from cell_monitor.domain.records import NewEvent  # noqa: E402
from cell_monitor.domain.signals import CellActivity  # noqa: E402
from cell_monitor.storage import migrations  # noqa: E402
from cell_monitor.storage.engine import create_engine  # noqa: E402
from cell_monitor.storage.writer import write_group  # noqa: E402

STUDENTS, CELLS = 40, 20


def a_run(serial: int, carries: bool) -> NewEvent:
    at = datetime.now(timezone.utc) - timedelta(seconds=1_000_000 - serial)
    student, cell = f"s{serial % STUDENTS}@x.org", serial % CELLS
    activity = (CellActivity(f"c{cell}", cell, 3, 2000.0),) if carries else ()
    return NewEvent(
        event_id=str(uuid.uuid4()),
        event_type="cell_executed",
        event_time=at,
        received_at=at,
        student_key=student,
        email_address=student,
        notebook_path="lesson.ipynb",
        cell_index=cell,
        cell_id=f"c{cell}",
        code="x = 1",
        activity=activity,
    )


async def one_kind(
    engine: AsyncEngine, statements: list[int], groups: int, serial: int, carries: bool
) -> tuple[float, float]:
    """(statements, CPU ms) per group write of `groups` single-run groups."""
    statements[0] = 0
    start = time.process_time()
    for i in range(groups):
        async with engine.begin() as conn:
            await write_group(conn, [a_run(serial + i, carries)])
    cpu_ms = (time.process_time() - start) / groups * 1000
    return statements[0] / groups, cpu_ms


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-run-activity-") as workdir:
        settings = Settings(
            data_dir=Path(workdir), database_url=f"sqlite+aiosqlite:///{workdir}/db.sqlite"
        )
        await migrations.upgrade_async(settings)
        engine = create_engine(settings)
        statements = [0]

        def count(*_: object) -> None:
            statements[0] += 1

        sa_event.listen(engine.sync_engine, "before_cursor_execute", count)
        ratios = []
        try:
            for r in range(args.rounds):
                serial = 2 * r * args.groups
                plain = await one_kind(engine, statements, args.groups, serial, False)
                carrying = await one_kind(
                    engine, statements, args.groups, serial + args.groups, True
                )
                ratios.append(carrying[1] / plain[1])
                print(
                    f"round {r}: plain run {plain[0]:.1f} statements, {plain[1]:.2f} ms CPU; "
                    f"run with edits {carrying[0]:.1f} statements, {carrying[1]:.2f} ms CPU "
                    f"({ratios[-1]:.3f}x)"
                )
        finally:
            await engine.dispose()
        print(f"run with edits / plain run, CPU per group write: {statistics.median(ratios):.3f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--groups", type=int, default=400, help="group writes per kind and round")
    asyncio.run(main(parser.parse_args()))
