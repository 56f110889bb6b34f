"""Code insight in real Chromium: clusters of attempts and of a question's answers (with a
message to one), a diff, run history, class replay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.dashboard_support import open_dashboard, post_events, sync_api_client
from tests.e2e.test_dashboard_a11y_e2e import audit
from tests.support import ServerProcess, event, eventually_sync

pytestmark = pytest.mark.e2e

T0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=50)


def attempt(who: str, minute: float, code: str, error: str | None = None) -> dict[str, Any]:
    return event(
        emailAddress=f"{who}@example.org",
        userName=who.title(),
        teamName="A",
        notebookPath="lesson1.ipynb",
        cellIndex=3,
        cellId="c3",
        eventTime=(T0 + timedelta(minutes=minute)).isoformat(),
        code=code,
        hasError=error is not None,
        errorName=error,
        errorMessage=f"{error}: wrong" if error else None,
    )


@pytest.fixture
def server(class_server: Callable[..., ServerProcess]) -> ServerProcess:
    server = class_server()
    with sync_api_client(server.url) as client:
        post_events(
            client,
            [
                attempt("ada", 1, "def f(x):\n    return x + 1", "AssertionError"),
                attempt("ada", 5, "def f(x):\n    return x * 2"),
                attempt("bob", 2, "def f(y):\n    return y + 1", "AssertionError"),
                attempt("cy", 3, "def f(n):\n    # add one\n    return n + 1", "AssertionError"),
                attempt("dee", 4, "def f(x):\n    return x*2"),
                event(
                    eventType="help",
                    emailAddress="bob@example.org",
                    userName="Bob",
                    eventTime=(T0 + timedelta(minutes=10)).isoformat(),
                ),
            ],
        )
    return server


def test_clusters_show_the_shared_wrong_attempt_its_students_and_a_diff(
    server: ServerProcess, page: Any
) -> None:
    open_dashboard(page, server.url)
    page.keyboard.press("5")
    page.locator("#code-notebook option[value='lesson1.ipynb']").wait_for(state="attached")
    page.select_option("#code-notebook", "lesson1.ipynb")
    page.fill("#code-cell", "3")
    page.click("#code-form button[type=submit]")
    first = page.locator("#clusters .cluster").first
    first.wait_for()
    assert "4 students" in page.locator("#code-summary").inner_text()
    # The common wrong attempt leads: Bob and Cy wrote ada's first idea differently.
    assert first.locator(".cluster-size").inner_text() == "2"
    assert "AssertionError" in first.locator("summary").inner_text()
    first.locator("summary").click()
    names = first.locator(".cluster-member button.link").all_inner_texts()
    assert sorted(names) == ["Bob (A)", "Cy (A)"]
    differs = first.locator(".cluster-member", has_text="Cy").get_by_role(
        "button", name="How it differs"
    )
    if differs.count() == 0:  # Cy's code is the representative: compare Bob's instead
        differs = first.locator(".cluster-member", has_text="Bob").get_by_role(
            "button", name="How it differs"
        )
    differs.click()
    diff = first.locator(".diff")
    diff.wait_for()
    assert diff.locator(".diff-added").count() >= 1 and diff.locator(".diff-removed").count() >= 1


def graded(who: str, minute: float, passed: bool) -> dict[str, Any]:
    """A run of q1's test cell (cell 4, below the answer cell 3)."""
    return {
        **attempt(who, minute, "grader.check('q1')", None if passed else "AssertionError"),
        "cellIndex": 4,
        "cellId": "c4",
        "tests": [{"question": "q1", "passed": passed, "kind": "otter"}],
    }


def test_a_question_shows_its_answers_by_outcome_and_messages_one_cluster(
    server: ServerProcess, page: Any
) -> None:
    with sync_api_client(server.url) as client:
        # ada's latest answer (x * 2) passes; bob and cy wrote ada's first idea and fail.
        post_events(client, [graded("ada", 6, True), graded("bob", 6, False)])
        post_events(client, [graded("cy", 6, False), graded("dee", 6, True)])
    open_dashboard(page, server.url)
    page.keyboard.press("5")
    page.locator("#code-question option[value='q1']").wait_for(state="attached")
    page.select_option("#code-notebook", "lesson1.ipynb")
    page.select_option("#code-question", "q1")
    assert page.locator("#code-cell").is_disabled()
    page.click("#code-form button[type=submit]")
    page.locator("#code-summary", has_text="tested q1").wait_for()
    assert "4 students tested q1" in page.locator("#code-summary").inner_text()
    first = page.locator("#clusters .cluster").first
    assert "✕ test failed: AssertionError" in first.locator("summary").inner_text()
    assert "✓ test passed" in page.locator("#clusters .cluster").nth(1).inner_text()
    first.locator("summary").click()
    names = first.locator(".cluster-member button.link").all_inner_texts()
    assert sorted(names) == ["Bob (A)", "Cy (A)"]
    assert audit(page) == []

    first.get_by_role("button", name="Message these 2 students").click()
    page.locator("#compose-dialog[open]").wait_for()
    assert "this answer to q1" in page.inner_text("#compose-audience")
    page.fill("#compose-body", "Squares, not doubles: `r ** 2`.")
    page.click("#compose-send")
    page.locator("#compose-dialog[open]").wait_for(state="detached")
    assert "sent to 2 students" in page.inner_text("#live-region")
    with sync_api_client(server.url) as client:

        def recipients() -> list[str]:
            items = client.get("/api/v1/messages").json()["items"]
            assert len(items) == 1
            detail = client.get("/api/v1/messages/detail", params={"id": items[0]["id"]})
            return sorted(r["student"] for r in detail.json()["recipients"])

        found = eventually_sync(recipients, what="the message stored")
    assert found == ["bob@example.org", "cy@example.org"]


def test_run_history_in_the_student_dialog_shows_what_changed(
    server: ServerProcess, page: Any
) -> None:
    open_dashboard(page, server.url)
    page.locator(".tile[data-student='ada@example.org']").click()
    history = page.get_by_role("button", name="All runs of this cell").first
    history.wait_for()
    history.click()
    runs = page.locator("#history-runs .history-run")
    runs.nth(1).wait_for()
    assert page.locator("#history-count").inner_text() == "2 of 2 runs"
    assert "AssertionError" in runs.nth(0).inner_text()
    changed = runs.nth(1)
    assert changed.locator(".diff-removed").inner_text().strip().endswith("return x + 1")
    assert changed.locator(".diff-added").inner_text().strip().endswith("return x * 2")
    # Keyboard: the first run has focus; Tab reaches the next one.
    assert page.evaluate("document.activeElement.classList.contains('history-run')")


def test_replay_scrubs_the_class_through_time(server: ServerProcess, page: Any) -> None:
    open_dashboard(page, server.url)
    page.keyboard.press("6")
    page.locator("#replay-notebook option[value='lesson1.ipynb']").wait_for(state="attached")
    start = T0.astimezone().strftime("%Y-%m-%dT%H:%M")
    end = (T0 + timedelta(minutes=30)).astimezone().strftime("%Y-%m-%dT%H:%M")
    page.fill("#replay-start", start)
    page.fill("#replay-end", end)
    page.select_option("#replay-notebook", "lesson1.ipynb")
    page.click("#replay-form button[type=submit]")
    page.locator("#replay-summary").filter(has_text="students").wait_for()

    def scrub(minutes: float) -> None:
        moment = (T0 + timedelta(minutes=minutes)).timestamp() * 1000
        page.locator("#replay-slider").evaluate(
            "(node, value) => { node.value = String(value);"
            " node.dispatchEvent(new Event('input', {bubbles: true})); }",
            moment,
        )

    scrub(2.5)
    tiles = page.locator("#replay-grid .replay-tile")
    assert tiles.count() == 2  # ada and bob had run something by then
    assert page.locator("#replay-heatmap td.failed").count() == 2
    scrub(12)
    assert page.locator("#replay-help li").all_inner_texts()[0].startswith("Bob")
    assert page.locator("#replay-help-count").inner_text() == "1"
    # Ada fixed her attempt at minute 5: her cell is OK in the heatmap by now.
    ada_row = page.locator("#replay-heatmap tr", has_text="Ada")
    assert ada_row.locator("td.ok").count() == 1
    page.locator("[data-replay-speed='60']").click()
    assert page.locator("[data-replay-speed='60']").get_attribute("aria-pressed") == "true"
    page.locator("[data-replay-speed='0']").click()
