"""How long a help request takes to show on the dashboard in a real browser.

Starts `cell-monitor serve` on a throwaway SQLite file with a class of S students,
opens /dashboard in Debian's Chromium, then N times: posts a help request through
the public API and waits until the needs-attention panel lists it. Prints the
times from the POST to the item on screen (p50 / p95 / max, in ms) and how many
tile elements were replaced during the run (0: updates are in place).

    .venv/bin/python benchmarks/dashboard_alert_latency.py [--students 200] [--requests 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

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


def measure(url: str, students: int, requests: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, sync_api_client(url) as client:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        context = dashboard_context(browser, url, viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        open_dashboard(page, url)
        page.wait_for_function(f"document.querySelectorAll('.tile').length === {students}")
        # Tag every tile: a re-render would replace them and lose the tag.
        page.evaluate("document.querySelectorAll('.tile').forEach(t => t.dataset.tag = '1')")
        timings = []
        for i in range(requests):
            who = student_identity(i * 7 % students)
            selector = f"#help-list .attention-item[data-student='{who['emailAddress']}']"
            client.post(f"/api/v1/students/{who['emailAddress']}/help/dismiss")
            page.locator(selector).wait_for(state="detached")
            began = time.perf_counter()
            post_events(client, [event(eventType="help", **who)])
            page.locator(selector).wait_for()
            timings.append((time.perf_counter() - began) * 1000)
        replaced = page.evaluate(
            "[...document.querySelectorAll('.tile')].filter(t => !t.dataset.tag).length"
        )
        browser.close()
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    print(
        f"help request → on screen, {requests} requests, {students} students: "
        f"p50 {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms, max {timings[-1]:.0f} ms"
    )
    print(f"tiles replaced during the run: {replaced} of {students}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with server_with_class(args.students) as server:
        measure(server.url, args.students, args.requests)


if __name__ == "__main__":
    main()
