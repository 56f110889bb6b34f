"""`cell-monitor token`: per-course ingest tokens for the Jupyter server extension."""

from __future__ import annotations

import click

from cell_monitor.cli.database import run_with_engine


@click.group()
def token() -> None:
    """Ingest tokens (once one exists, POST /api/v1/events needs one)."""


@token.command()
@click.argument("course")
def create(course: str) -> None:
    """Create a token for COURSE and print it (only this once)."""
    from cell_monitor.accounts import ingest_tokens

    if not course.strip() or len(course) > 256:
        raise click.BadParameter("1-256 characters", param_hint="COURSE")
    token_id, value = run_with_engine(lambda e: ingest_tokens.create_token(e, course.strip()))
    click.echo(value)
    click.echo(
        f"Ingest token #{token_id} for {course!r}. It is shown only now: give it to the "
        "students' Jupyter servers as CELL_MONITOR_INGEST_TOKEN. From now on every event "
        "needs a valid token (servers pick the change up within "
        "CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS).",
        err=True,
    )


@token.command()
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `token list`)."""
    from cell_monitor.accounts import ingest_tokens

    if not run_with_engine(lambda e: ingest_tokens.revoke_token(e, token_id)):
        raise click.ClickException(f"no active ingest token #{token_id}")
    click.echo(f"Revoked ingest token #{token_id}.")


@token.command(name="list")
def list_() -> None:
    """Every token: id, course, created, revoked (never the token itself)."""
    from cell_monitor.accounts import ingest_tokens

    infos = run_with_engine(ingest_tokens.list_tokens)
    if not infos:
        click.echo("No ingest tokens: POST /api/v1/events is open to anyone who can reach it.")
    for info in infos:
        revoked = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        click.echo(
            f"#{info.id}\t{info.course}\tcreated {info.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )
