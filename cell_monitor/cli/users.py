"""`cell-monitor user`: instructor and admin accounts of the dashboard."""

from __future__ import annotations

import sys

import click

from cell_monitor.accounts.users import Role
from cell_monitor.cli.database import run_with_engine


@click.group()
def user() -> None:
    """Instructor accounts (who may open the dashboard)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command()
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.instructor.value,
    show_default=True,
    help="admin: also manages accounts (today both see the whole class).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(username: str, role: str, password_stdin: bool) -> None:
    """Create an account; asks for its password."""
    from cell_monitor.accounts import users

    try:
        users.check_username(username)
    except users.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    # Before the password prompt: nobody types a password twice to learn the name is taken.
    if run_with_engine(lambda engine: users.user_exists(engine, username)):
        raise click.ClickException(f"an account named {username!r} exists already")
    password = _read_password(password_stdin)
    run_with_engine(lambda engine: users.create_user(engine, username, password, Role(role)))
    click.echo(f"Created {role} {username!r}.")


@user.command(name="list")
def list_() -> None:
    """Every account with its role."""
    from cell_monitor.accounts import users

    rows = run_with_engine(users.list_users)
    if not rows:
        click.echo("No accounts.")
    for account in rows:
        teams = f"\tteams {', '.join(account.teams)}" if account.teams else ""
        click.echo(
            f"{account.username}\t{account.role}\t"
            f"created {account.created_at:%Y-%m-%d %H:%M} UTC{teams}"
        )


@user.command()
@click.argument("username")
@click.argument("team", nargs=-1)
@click.option("--clear", is_flag=True, help="Remove every team of the account.")
def teams(username: str, team: tuple[str, ...], clear: bool) -> None:
    """Set the teams a TA looks after ("Only mine" on the dashboard); none given: show them.

    The teams replace those the account had; in hub mode its hub groups add theirs.
    """
    from cell_monitor.accounts import users

    if clear and team:
        raise click.UsageError("give teams or --clear, not both")
    if not team and not clear:
        rows = run_with_engine(users.list_users)
        found = next((a for a in rows if a.username == username), None)
        if found is None:
            raise click.ClickException(f"no account named {username!r}")
        click.echo(", ".join(found.teams) if found.teams else f"{username!r} has no teams.")
        return
    stored = run_with_engine(lambda engine: users.set_teams(engine, username, list(team)))
    if stored:
        click.echo(f"Teams of {username!r}: {', '.join(stored)}.")
    else:
        click.echo(f"{username!r} has no teams now.")


@user.command()
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(username: str, yes: bool) -> None:
    """Delete an account; its sessions end at once."""
    from cell_monitor.accounts import users

    if not run_with_engine(lambda engine: users.user_exists(engine, username)):
        raise click.ClickException(f"no account named {username!r}")
    if not yes:
        click.confirm(f"Delete the account {username!r} and end its sessions?", abort=True)
    run_with_engine(lambda engine: users.delete_user(engine, username))
    click.echo(f"Deleted {username!r}.")


@user.command(name="set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password(username: str, password_stdin: bool) -> None:
    """Change an account's password; its sessions end (sign in again)."""
    from cell_monitor.accounts import users

    password = _read_password(password_stdin)
    run_with_engine(lambda engine: users.set_password(engine, username, password))
    click.echo(f"Password of {username!r} changed; its sessions have ended.")
