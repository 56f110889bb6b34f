"""The `cell-monitor` command; each subcommand lives in a module of its own."""

from __future__ import annotations

import click

from cell_monitor import __version__
from cell_monitor.cli.db import db
from cell_monitor.cli.doctor import doctor
from cell_monitor.cli.export import export
from cell_monitor.cli.serve import serve
from cell_monitor.cli.simulate import simulate
from cell_monitor.cli.student import student
from cell_monitor.cli.tokens import token
from cell_monitor.cli.users import user


@click.group()
@click.version_option(__version__, prog_name="cell-monitor")
def main() -> None:
    """cell-monitor: real-time learning analytics for Jupyter classrooms."""


main.add_command(serve)
main.add_command(db)
main.add_command(user)
main.add_command(token)
main.add_command(student)
main.add_command(doctor)
main.add_command(simulate)
main.add_command(export)
