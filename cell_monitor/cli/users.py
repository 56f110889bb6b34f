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
    for username, role, created in rows:
        click.echo(f"{username}\t{role}\tcreated {created:%Y-%m-%d %H:%M} UTC")


@user.command()
@click.argument("username")
@click.confirmation_option(prompt="Delete this account and end its sessions?")
def delete(username: str) -> None:
    """Delete an account; its sessions end at once."""
    from cell_monitor.accounts import users

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
