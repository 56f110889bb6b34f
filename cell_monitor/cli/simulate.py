"""`cell-monitor simulate`: a realistic class sending events to a server, for demos and load."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cell_monitor.simulate import Sender


@click.command()
@click.option("--students", default=30, show_default=True, help="Students in the class.")
@click.option(
    "--server",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL of the cell-monitor server.",
)
@click.option(
    "--duration", type=float, help="Stop after this many seconds (default: when all finish)."
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second (10: a 15-minute lesson in 90 s).",
)
@click.option("--seed", type=int, help="Same seed, same class and same actions.")
@click.option("--token", envvar="CELL_MONITOR_INGEST_TOKEN", help="Ingest token, sent as Bearer.")
@click.option(
    "--struggling", default=0.1, show_default=True, help="Share of students who get stuck."
)
@click.option(
    "--wait", default=0.0, show_default=True, help="Seconds to wait for the server to answer."
)
@click.option(
    "--engagement/--no-engagement",
    default=True,
    show_default=True,
    help="Send engagement events (visibility, edit counts, active time) as JupyterLab does.",
)
def simulate(
    students: int,
    server: str,
    duration: float | None,
    speed: float,
    seed: int | None,
    token: str | None,
    struggling: float,
    wait: float,
    engagement: bool,
) -> None:
    """Drive a simulated class (progress, typical errors, help requests) against a server."""
    from cell_monitor.cli.progress import progress
    from cell_monitor.simulate import ClassProfile, Sender, Simulation
    from cell_monitor.simulate.progress import describe, short
    from cell_monitor.simulate.sender import DeliveryRefused

    if students < 1 or speed <= 0:
        raise click.BadParameter("--students must be ≥ 1 and --speed > 0")
    profile = ClassProfile(
        students=students,
        speed=speed,
        seed=seed,
        duration=duration,
        struggler_share=struggling,
        engagement=engagement,
    )

    async def _run() -> None:
        sender = Sender(server, token)
        try:
            try:
                await reachable(sender, wait)
            except Exception as exc:
                raise click.ClickException(
                    f"no cell-monitor server answers at {server} ({exc}); start one with "
                    "`cell-monitor serve` or pass --server URL"
                ) from exc
            with progress("simulate (% of the notebook)", total=100) as shown:
                final = await Simulation(profile, sender).run(
                    lambda snap: shown.update(round(snap.progress * 100), short(snap))
                )
            click.echo(describe(final))
            if sender.stats.last_error:
                click.echo(f"last delivery problem: {sender.stats.last_error}", err=True)
        except DeliveryRefused as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            await sender.aclose()

    try:
        asyncio.run(_run())
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)


async def reachable(sender: Sender, wait: float) -> None:
    """GET /health answers (retrying for up to `wait` seconds while nothing listens)."""
    import httpx

    deadline = asyncio.get_running_loop().time() + wait
    while True:
        try:
            await sender.check_server()
            return
        except httpx.TransportError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.5)
