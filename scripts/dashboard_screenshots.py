"""Screenshots of the instructor dashboard's views for docs/screenshots/.

Starts `cell-monitor serve` on a throwaway SQLite file, posts a realistic class
through the public API, and photographs each view in Debian's Chromium at
1920x1080, in the light theme, then the class view and the heatmap in the dark
theme and in projector mode. Rerun it whenever the dashboard's look changes:

    .venv/bin/python scripts/dashboard_screenshots.py [--students 160] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dashboard_support import (  # noqa: E402 - after the path is set
    dashboard_context,
    open_dashboard,
    server_with_class,
)

CHROMIUM = "/usr/bin/chromium"


def shoot(page: Any, out: Path, name: str) -> None:
    page.wait_for_timeout(600)  # let the last frame and the refetches land
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def photograph(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = dashboard_context(browser, url, viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        open_dashboard(page, url)
        page.locator(".tile").first.wait_for()
        shoot(page, out, "class-overview")
        page.select_option("#group-by", "team")
        shoot(page, out, "class-by-team")
        page.select_option("#group-by", "none")

        page.keyboard.press("2")
        page.locator("#heatmap .heatmap").wait_for()
        shoot(page, out, "progress-heatmap")
        page.select_option("#progress-mode", "aggregate")
        page.locator("#heatmap .aggregate").wait_for()
        shoot(page, out, "progress-aggregate")

        page.keyboard.press("3")
        page.locator("#hotspots .hotspot").first.wait_for()
        page.locator("#hotspots .hotspot summary").first.click()
        shoot(page, out, "error-hotspots")

        page.keyboard.press("4")
        page.locator("#activity-chart svg").wait_for()
        shoot(page, out, "activity")

        page.keyboard.press("1")
        page.locator("#help-list .attention-open").first.click()
        page.locator("#detail-runs .run").first.wait_for()
        shoot(page, out, "student-detail")
        page.keyboard.press("Escape")
        context.close()

        dark = dashboard_context(
            browser, url, viewport={"width": 1920, "height": 1080}, color_scheme="dark"
        )
        page = dark.new_page()
        open_dashboard(page, url)
        page.locator(".tile").first.wait_for()
        shoot(page, out, "class-overview-dark")
        page.keyboard.press("2")
        page.locator("#heatmap .heatmap").wait_for()
        shoot(page, out, "progress-heatmap-dark")
        page.keyboard.press("1")
        page.keyboard.press("p")  # projector mode, as shown to the room
        page.locator("html[data-projector='on']").wait_for()
        shoot(page, out, "projector-dark")
        page.keyboard.press("t")
        page.locator("html[data-theme='light']").wait_for()
        shoot(page, out, "projector")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=160)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with server_with_class(args.students) as server:
        photograph(server.url, args.out)


if __name__ == "__main__":
    main()
