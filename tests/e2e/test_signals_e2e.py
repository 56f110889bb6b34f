"""End to end: test results and engagement, from a real JupyterLab to the dashboard.

A notebook with an nbgrader-style test cell, an otter-grader check (otter-grader
from PyPI, its `grader.check` run in the kernel) and a tagged assert cell is
worked in Chromium: a failing answer, then a passing one, flips the dashboard's
heatmap (in another Chromium page, signed in as the instructor); editing
without running makes the student `quiet` in the needs-attention panel; moving
to another JupyterLab tab makes them `away`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import dashboard_context, open_dashboard
from tests.e2e.lab import JupyterLabProcess, notebook, write_json
from tests.e2e.test_lab_e2e import open_notebook, run_cell
from tests.support import ServerProcess

pytestmark = pytest.mark.e2e

STUDENT = "ada@example.org"
SETTINGS = {
    "emailAddress": STUDENT,
    "userName": "Ada",
    "teamName": "A",
    "noticeAcknowledged": True,
    "engagementReportMs": 1500,  # edits reported within seconds, not minutes
}
OTTER_TEST = """OK_FORMAT = True

test = {
    "name": "q2",
    "points": 1,
    "suites": [
        {
            "cases": [{"code": ">>> answer == 2\\nTrue", "hidden": False, "locked": False}],
            "scored": True,
            "setup": "",
            "teardown": "",
            "type": "doctest",
        }
    ],
}
"""


def lesson(path: Path) -> None:
    cells = notebook(
        "answer = 1",
        "assert answer == 2, 'answer should be 2'",
        "import otter\ngrader = otter.Notebook(tests_dir='tests')",
        'grader.check("q2")',
        "assert answer > 1",
        "# scratch",
    )
    cells["cells"][0]["metadata"] = {"nbgrader": {"solution": True, "grade": False}}
    cells["cells"][1]["metadata"] = {
        "nbgrader": {"grade": True, "solution": False, "grade_id": "q1", "points": 2}
    }
    cells["cells"][4]["metadata"] = {"tags": ["test:q3"]}
    write_json(path / "lesson.ipynb", cells)
    (path / "tests").mkdir()
    (path / "tests" / "q2.py").write_text(OTTER_TEST)


@pytest.fixture
def class_server_quick(tmp_path: Path) -> Any:
    data_dir = tmp_path / "class-server"
    env = {
        "CELL_MONITOR_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'cell-monitor.sqlite3'}",
        "CELL_MONITOR_QUIET_AFTER_SECONDS": "6",
        "CELL_MONITOR_AWAY_AFTER_SECONDS": "3",
        "CELL_MONITOR_LIVE_SWEEP_SECONDS": "0.5",
    }
    server = ServerProcess(env).wait_ready()
    yield server
    server.stop()


def heat(dashboard: Any, cell: int) -> Any:
    row = dashboard.locator(f"#heatmap .hm-row[data-student='{STUDENT}']")
    return row.locator(".hm-cell").nth(cell)


def wait_heat(dashboard: Any, cell: int, state: str, timeout: float = 30_000) -> None:
    # The heatmap is redrawn on each refresh: look the cell up every time.
    dashboard.wait_for_function(
        """([student, cell, state]) => {
            const row = document.querySelector(`#heatmap .hm-row[data-student="${student}"]`);
            return row?.querySelectorAll('.hm-cell')[cell]?.classList.contains(state);
        }""",
        arg=[STUDENT, cell, state],
        timeout=timeout,
    )


def replace_source(page: Any, index: int, text: str) -> None:
    editor = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(text)


def test_failing_then_passing_answers_flip_the_heatmap_then_quiet_then_away(
    browser: Any,
    class_server_quick: ServerProcess,
    jupyter_lab: Callable[..., JupyterLabProcess],
) -> None:
    server = class_server_quick
    lab = jupyter_lab({"CELL_MONITOR_SERVER_URL": server.url}, SETTINGS)
    lesson(lab.root)
    page = open_notebook(browser, lab, "lesson.ipynb")
    board = dashboard_context(browser, server.url, viewport={"width": 1600, "height": 1000})
    dashboard = open_dashboard(board.new_page(), server.url, view="progress")

    for index in range(5):
        run_cell(page, index, index + 1)
    for cell in (1, 3, 4):  # nbgrader, otter and tagged tests fail
        wait_heat(dashboard, cell, "test-failed")
    assert heat(dashboard, 1).get_attribute("title") == "Ada, cell 1: failed q1"
    assert heat(dashboard, 3).get_attribute("title") == "Ada, cell 3: failed q2"
    assert "ran OK" in heat(dashboard, 0).get_attribute("title")

    replace_source(page, 0, "answer = 2")
    for count, index in enumerate((0, 1, 3, 4), start=6):
        run_cell(page, index, count)
    for cell in (1, 3, 4):
        wait_heat(dashboard, cell, "passed")
    dashboard.locator("#heatmap .hm-tests .hm-pass", has_text="1/1").first.wait_for()

    # Edits in a visible notebook, no run: quiet, with what the student is doing.
    dashboard.goto(f"{server.url}/dashboard#class")
    replace_source(page, 5, "# thinking")
    quiet = dashboard.locator(f"#quiet-list li[data-student='{STUDENT}']")
    # Not a wait: the student types a change every half second (edits are what
    # make quiet) until the dashboard lists them, for at most 20 s of typing.
    for keystroke in range(40):
        if quiet.count():
            break
        page.keyboard.type(f" {keystroke}")
        page.wait_for_timeout(500)
    quiet.wait_for(timeout=30_000)
    assert "editing cell 5 for" in quiet.inner_text()
    tile = dashboard.locator(f".tile[data-student='{STUDENT}']")
    assert tile.get_attribute("data-status") == "quiet"
    assert "3/3 passed" in tile.inner_text()

    # Another JupyterLab tab in front: the notebook is hidden, the student away.
    page.keyboard.press("Escape")
    page.get_by_role("menuitem", name="File").click()
    page.get_by_role("menuitem", name="New Launcher").click()
    dashboard.wait_for_function(
        f"document.querySelector(\".tile[data-student='{STUDENT}']\")?.dataset.status === 'away'",
        timeout=30_000,
    )
    assert quiet.count() == 0
    board.close()
    page.context.close()
