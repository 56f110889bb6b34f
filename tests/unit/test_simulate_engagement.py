"""`cell-monitor simulate`'s engagement model: what a simulated JupyterLab reports besides runs."""

from __future__ import annotations

import random
from typing import Any

from cell_monitor.contract.events import EventIn
from cell_monitor.simulate.engagement import GLANCE_SECONDS, TEST_QUESTIONS, THROTTLE_SECONDS
from cell_monitor.simulate.student import Student, make_profile


async def events_of(engagement: bool, seed: int = 5) -> tuple[list[dict[str, Any]], Student]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    student = Student(
        make_profile(1, rng, 4, 0.5), random.Random(seed), out.append, speed=1e9,
        engagement_on=engagement,
    )  # fmt: skip
    await student.run()
    return out, student


def runs(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["cellIndex"], e["hasError"], e.get("errorName"))
        for e in events
        if e["eventType"] == "cell_executed"
    ]


async def test_the_same_seed_gives_the_same_runs_with_engagement_on_or_off() -> None:
    plain, off = await events_of(False)
    signals, on = await events_of(True)
    assert runs(plain) == runs(signals)
    assert off.simulated == on.simulated  # looking away takes as long either way
    assert not [e for e in plain if e["eventType"] == "engagement"]
    assert not [e for e in plain if "edits" in e]
    reports = [e for e in signals if e["eventType"] == "engagement"]
    assert reports and all(EventIn.model_validate(e) for e in reports)


async def test_runs_carry_their_activity_and_test_cells_their_outcome() -> None:
    events, _ = await events_of(True, seed=11)
    executed = [e for e in events if e["eventType"] == "cell_executed" and e["cellType"] == "code"]
    assert all(e["edits"] >= 1 and e["activeMs"] > 0 for e in executed)
    graded = [e for e in executed if e["cellIndex"] in TEST_QUESTIONS]
    assert graded and all(
        e["tests"]
        == [
            {
                "question": TEST_QUESTIONS[e["cellIndex"]],
                "passed": not e["hasError"],
                "kind": "nbgrader",
                "maxPoints": 1,
            }
        ]
        for e in graded
    )
    for report in (e for e in events if e["eventType"] == "engagement" and e.get("editingMs")):
        assert report["editingMs"] == THROTTLE_SECONDS * 1000
        assert any(c["edits"] for c in report["cells"])


async def test_a_look_away_is_reported_only_past_a_glance_with_how_long_ago_it_began() -> None:
    for seed in range(5, 15):
        events, _ = await events_of(True, seed=seed)
        hidden = [e for e in events if e["eventType"] == "engagement" and not e["visible"]]
        shown = [e for e in events if e["eventType"] == "engagement" and e["visible"]]
        assert all(e["hiddenMs"] == GLANCE_SECONDS * 1000 for e in hidden)
        # Each reported hide is followed by coming back (the class takes as long).
        assert len(shown) >= len(hidden)
        if hidden:
            return
    raise AssertionError("no student looked away for longer than a glance in 10 seeds")
