"""`cell-monitor serve --demo` never touches the configured (real) database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from cell_monitor.storage import migrations
from tests.integration.test_simulate import demo_class
from tests.support import ServerProcess, make_settings, query_sql

REAL_STUDENT = (
    "INSERT INTO students (student_key, first_seen, last_seen) "
    "VALUES ('real@school.example', '2026-01-05 09:00:00', '2026-01-05 09:00:00')"
)


def real_class_database(path: Path) -> str:
    """A migrated SQLite database holding one real student; returns its URL."""
    url = f"sqlite:///{path}"
    migrations.upgrade(make_settings(url, path.parent))
    query_sql(url, REAL_STUDENT)
    return url


async def test_demo_ignores_database_url_in_env_file_and_exported_data_dir(
    tmp_path: Path,
) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real_url = await asyncio.to_thread(real_class_database, real_dir / "class.sqlite3")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"DATABASE_URL={real_url}\nREDIS_URL=redis://127.0.0.1:1/0\n")
    server = ServerProcess(
        {"XDG_DATA_HOME": str(tmp_path / "xdg"), "CELL_MONITOR_DATA_DIR": str(real_dir)},
        "--demo",
        cwd=project,
    )
    try:
        students = await demo_class(server)
    finally:
        await asyncio.to_thread(server.stop)
    output = server.output()
    assert len(students) == 30, output
    demo_db = tmp_path / "xdg" / "cell-monitor-demo" / "cell-monitor.sqlite3"
    assert f"demo: using its own database {demo_db}" in output
    # Quiet by default: no line per request of the simulated class.
    assert "HTTP Request:" not in output and "POST /api/v1/events" not in output
    # The real database still holds its one student and not one event.
    assert query_sql(real_url, "SELECT student_key FROM students") == [("real@school.example",)]
    assert query_sql(real_url, "SELECT count(*) FROM events") == [(0,)]
    assert not (real_dir / "cell-monitor.sqlite3").exists()


def test_demo_refuses_a_database_with_real_students_in_its_place(tmp_path: Path) -> None:
    demo_db = tmp_path / "cell-monitor-demo" / "cell-monitor.sqlite3"
    demo_db.parent.mkdir()
    url = real_class_database(demo_db)
    before = demo_db.read_bytes()
    env = {"XDG_DATA_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "cell_monitor.cli", "serve", "--demo", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "holds real class data" in result.stderr
    assert demo_db.read_bytes() == before
    assert query_sql(url, "SELECT count(*) FROM students") == [(1,)]


def test_demo_rejects_an_explicit_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cell_monitor.cli",
            "serve",
            "--demo",
            "--database-url",
            f"sqlite:///{tmp_path}/x.sqlite3",
        ],
        env={"XDG_DATA_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--demo always uses a database of its own" in result.stderr
    assert not (tmp_path / "x.sqlite3").exists()
