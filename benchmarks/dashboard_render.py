"""How fast the dashboard draws a class, in a real browser, at 200 and 2,000 students.

For each class size S: starts `cell-monitor serve` on a throwaway SQLite file with
a realistic class of S students, opens /dashboard in Debian's Chromium at
1920x1080 and reads the page's own performance marks:

- first render: from the snapshot's arrival to the tiles drawn (JavaScript), and
  to the frame after (style, layout and paint included), with the main thread's
  script, style and layout time since the page began loading (Chrome's metrics);
- per update: N times, a status change of one student (a help request, then its
  dismissal) through the public API; the cost of the frame that shows it
  (JavaScript) and how many tiles that frame touched (a MutationObserver; the
  page's once-a-second clock is stopped, so its own text updates do not count).

    .venv/bin/python benchmarks/dashboard_render.py [--students 200 2000] [--updates 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dashboard_support import (  # noqa: E402 - after the path is set
    dashboard_context,
    open_dashboard,
    post_events,
    server_with_class,
    student_identity,
    sync_api_client,
)
from tests.support import event  # noqa: E402

# Tiles whose subtree changed since the last call (the observer runs in the page).
WATCH_TILES = """() => {
    window.__touched = new Set();
    new MutationObserver(records => {
        for (const r of records) {
            const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
            const tile = node && node.closest('.tile');
            if (tile) window.__touched.add(tile.dataset.student);
            for (const added of r.addedNodes) {
                if (added.nodeType === 1 && added.classList.contains('tile'))
                    window.__touched.add(added.dataset.student);
            }
        }
    }).observe(document.getElementById('tiles'),
               {subtree: true, childList: true, attributes: true, characterData: true});
}"""
TAKE_TOUCHED = "() => { const n = window.__touched.size; window.__touched.clear(); return n; }"
RENDERS = "() => performance.getEntriesByName('dashboard-render').map(e => e.duration)"
# The page's once-a-second clock ("3m ago", waiting times) would touch tiles on
# its own: stopped, so what a status change touches is what is counted.
NO_CLOCK = """(() => {
    const every = window.setInterval;
    window.setInterval = (fn, ms, ...rest) => ms === 1000 ? 0 : every(fn, ms, ...rest);
})();"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def first_render(page: Any, students: int) -> tuple[float, float]:
    page.wait_for_function(f"document.querySelectorAll('.tile').length === {students}")
    page.wait_for_function("performance.getEntriesByName('snapshot-painted').length > 0")
    drawn = page.evaluate("performance.getEntriesByName('snapshot-rendered')[0].duration")
    painted = page.evaluate("performance.getEntriesByName('snapshot-painted')[0].duration")
    return drawn, painted


def updates(page: Any, url: str, students: int, count: int) -> tuple[list[float], list[int]]:
    """Frame cost (ms) and tiles touched, for each status change of one student."""
    page.evaluate(WATCH_TILES)
    costs: list[float] = []
    touched: list[int] = []
    with sync_api_client(url) as client:
        for i in range(count):
            who = student_identity((i * 37 + 11) % students)
            key = who["emailAddress"]
            tile = f".tile[data-student='{key}']"
            for change in ("help", "dismiss"):
                # Let the idle sweep's re-sends and the clock tick settle first.
                page.wait_for_timeout(50)
                page.evaluate(TAKE_TOUCHED)
                before = len(page.evaluate(RENDERS))
                if change == "help":
                    post_events(client, [event(eventType="help", **who)])
                    page.locator(f"{tile}[data-status='help']").wait_for()
                else:
                    dismiss = client.post("/api/v1/students/help/dismiss", params={"student": key})
                    dismiss.raise_for_status()
                    page.locator(f"{tile}:not([data-status='help'])").wait_for()
                page.wait_for_function(
                    f"performance.getEntriesByName('dashboard-render').length > {before}"
                )
                costs.extend(page.evaluate(RENDERS)[before:])
                touched.append(page.evaluate(TAKE_TOUCHED))
    return costs, touched


def measure(students: int, count: int) -> None:
    from playwright.sync_api import sync_playwright

    with server_with_class(students, ready_timeout=120) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        context = dashboard_context(browser, server.url, viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        page.add_init_script(NO_CLOCK)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        open_dashboard(page, server.url)
        drawn, painted = first_render(page, students)
        # The main thread's work from page load to that frame, by kind (ms).
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        busy = {
            kind: metrics[name] * 1000
            for kind, name in (
                ("script", "ScriptDuration"),
                ("style", "RecalcStyleDuration"),
                ("layout", "LayoutDuration"),
            )
        }
        costs, touched = updates(page, server.url, students, count)
        browser.close()
    load = os.getloadavg()[0]
    print(
        f"[load average {load:.1f}] {students:>5} students: "
        f"first render {drawn:.0f} ms after the snapshot "
        f"({painted:.0f} ms to the painted frame; main thread since load: "
        + ", ".join(f"{kind} {ms:.0f} ms" for kind, ms in busy.items())
        + "); "
        f"per update p50 {statistics.median(costs):.1f} ms, p95 {pct(costs, 0.95):.1f} ms, "
        f"max {max(costs):.1f} ms over {len(costs)} frames; "
        f"tiles touched per status change: max {max(touched)} "
        f"(median {statistics.median(touched):.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    for students in args.students:
        measure(students, args.updates)


if __name__ == "__main__":
    main()
