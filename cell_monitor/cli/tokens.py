"""`cell-monitor token`: per-course ingest tokens for the Jupyter server extension.

Ingest is open while no token exists; once one exists (even revoked), every
event needs an active token. Each command ends by saying which state that is.
"""

from __future__ import annotations

import click

from cell_monitor.cli.database import run_with_engine

_REFRESH = "servers pick changes up within CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS"


@click.group()
def token() -> None:
    """Ingest tokens (once one exists, POST /api/v1/events needs an active one)."""


def _echo_state() -> None:
    from cell_monitor.accounts import ingest_tokens

    click.echo(ingest_tokens.describe_state(run_with_engine(ingest_tokens.list_tokens)), err=True)


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
        f"needs a valid token ({_REFRESH}).",
        err=True,
    )
    _echo_state()


@token.command()
@click.argument("token_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask before revoking the last active token.")
def revoke(token_id: int, yes: bool) -> None:
    """Revoke token TOKEN_ID (see `token list`)."""
    from cell_monitor.accounts import ingest_tokens

    tokens = run_with_engine(ingest_tokens.list_tokens)
    active = [info.id for info in tokens if info.revoked_at is None]
    if token_id not in active:
        raise click.ClickException(f"no active ingest token #{token_id}")
    if active == [token_id] and not yes:
        click.echo(
            f"#{token_id} is the last active ingest token: once it is revoked, the class "
            "server refuses every event until a token is created, or until "
            "`cell-monitor token delete --revoked` reopens ingest to anyone.",
            err=True,
        )
        click.confirm("Revoke it?", abort=True, err=True)
    if not run_with_engine(lambda e: ingest_tokens.revoke_token(e, token_id)):
        raise click.ClickException(f"no active ingest token #{token_id}")
    click.echo(f"Revoked ingest token #{token_id} ({_REFRESH}).")
    _echo_state()


@token.command()
@click.argument("token_ids", type=int, nargs=-1)
@click.option("--revoked", "all_revoked", is_flag=True, help="Delete every revoked token.")
@click.option("--yes", is_flag=True, help="Do not ask before reopening ingest.")
def delete(token_ids: tuple[int, ...], all_revoked: bool, yes: bool) -> None:
    """Forget revoked tokens; when none is left, ingest is open again.

    Give TOKEN_IDS, or --revoked for all of them. Active tokens are kept:
    revoke them first.
    """
    from cell_monitor.accounts import ingest_tokens

    if bool(token_ids) == all_revoked:
        raise click.UsageError("give TOKEN_IDS or --revoked (not both)")
    tokens = run_with_engine(ingest_tokens.list_tokens)
    by_id = {info.id: info for info in tokens}
    for token_id in token_ids:
        if token_id not in by_id:
            raise click.ClickException(f"no ingest token #{token_id}")
        if by_id[token_id].revoked_at is None:
            raise click.ClickException(
                f"ingest token #{token_id} is active: revoke it first (`cell-monitor token "
                f"revoke {token_id}`)"
            )
    doomed = set(token_ids) if token_ids else {i.id for i in tokens if i.revoked_at}
    left = [info for info in tokens if info.id not in doomed]
    if doomed and not left and not yes:
        click.echo(
            "No token will be left: ingest reopens, and anyone who can reach the class "
            "server may post events without a token.",
            err=True,
        )
        click.confirm("Delete and reopen ingest?", abort=True, err=True)
    ids = None if all_revoked else list(token_ids)
    deleted = run_with_engine(lambda e: ingest_tokens.delete_revoked(e, ids))
    if deleted:
        names = ", ".join(f"#{token_id}" for token_id in deleted)
        click.echo(f"Deleted revoked ingest token{'s' if len(deleted) != 1 else ''} {names}.")
    else:
        click.echo("No revoked ingest token to delete.")
    _echo_state()


@token.command(name="list")
def list_() -> None:
    """The state of ingest, then every token: id, course, created, revoked (never the token)."""
    from cell_monitor.accounts import ingest_tokens

    infos = run_with_engine(ingest_tokens.list_tokens)
    click.echo(ingest_tokens.describe_state(infos))
    for info in infos:
        revoked = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        click.echo(
            f"#{info.id}\t{info.course}\tcreated {info.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )
