"""How a simulated class is described: the final summary, and the live progress note."""

from __future__ import annotations

from cell_monitor.simulate.classroom import Snapshot


def describe(snap: Snapshot) -> str:
    rate = snap.accepted / snap.elapsed if snap.elapsed > 0 else 0.0
    return (
        f"[{snap.elapsed:5.0f}s] {snap.students} students: {snap.working} working, "
        f"{snap.finished} done, {snap.progress:4.0%} of the notebook | stuck {snap.stuck}, "
        f"help {snap.asking_help} | {snap.events:,} events ({snap.errors:,} errors), "
        f"{snap.accepted:,} stored, {rate:.0f}/s"
        + (f", {snap.retries} retries" if snap.retries else "")
        + (f", {snap.pending:,} waiting" if snap.pending else "")
    )


def short(snap: Snapshot) -> str:
    """What a progress display adds to the share of the notebook done."""
    return (
        f"{snap.working} working, {snap.finished} done, stuck {snap.stuck}, "
        f"help {snap.asking_help}, {snap.accepted:,} events stored"
        + (f", {snap.pending:,} waiting" if snap.pending else "")
    )
