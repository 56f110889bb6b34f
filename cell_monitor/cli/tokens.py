"""`cell-monitor token`: ingest credentials for the Jupyter server extension.

A course token (`token create COURSE`) lets the body say who the events are
about ("declared identity"); a per-student credential (`token create
--student ID` or `--roster roster.csv`) names the one student its events are
stored under.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cell_monitor.cli.database import run_with_engine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from cell_monitor.accounts.ingest_tokens import RosterEntry

_STUDENT_COLUMNS = ("student", "email", "emailaddress", "userid", "id")
_NAME_COLUMNS = ("name", "username")
_TEAM_COLUMNS = ("team", "teamname")
_MAX_FIELD = 512


@click.group()
def token() -> None:
    """Ingest credentials (once one exists, POST /api/v1/events needs one)."""


def read_roster(path: Path) -> list[RosterEntry]:
    """The students of a roster CSV: a header row naming a `student` (or `email`, `userId`)
    column, optional `name` and `team` columns."""
    from cell_monitor.accounts.ingest_tokens import RosterEntry

    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--roster"
        ) from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}

    def column(candidates: tuple[str, ...]) -> str | None:
        return next((columns[c] for c in candidates if c in columns), None)

    student_column = column(_STUDENT_COLUMNS)
    if student_column is None:
        raise click.BadParameter(
            "the first row must name the columns, one of them `student` (or `email`, `userId`)",
            param_hint="--roster",
        )
    name_column, team_column = column(_NAME_COLUMNS), column(_TEAM_COLUMNS)
    entries: list[RosterEntry] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        student = (row.get(student_column) or "").strip()
        if not student:
            continue
        if len(student) > _MAX_FIELD:
            raise click.BadParameter(
                f"line {line}: the student id is too long", param_hint="--roster"
            )
        if student.lower() in seen:
            raise click.BadParameter(
                f"line {line}: {student!r} appears twice", param_hint="--roster"
            )
        seen.add(student.lower())
        name = (row.get(name_column) or "").strip()[:_MAX_FIELD] if name_column else ""
        team = (row.get(team_column) or "").strip()[:_MAX_FIELD] if team_column else ""
        entries.append(RosterEntry(student, name or None, team or None))
    if not entries:
        raise click.BadParameter("the roster names no student", param_hint="--roster")
    return entries


@token.command()
@click.argument("course", required=False, default="")
@click.option(
    "--student",
    "students",
    multiple=True,
    help="Issue a credential that reports only as this student (email or user id); repeatable.",
)
@click.option(
    "--roster",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Issue one credential per student of this CSV (columns student[,name][,team]).",
)
def create(course: str, students: tuple[str, ...], roster: Path | None) -> None:
    """Create a course token for COURSE, or per-student credentials, and print them (only now).

    Per-student credentials are printed as CSV (student,name,team,credential) to
    hand out: each goes to one student's Jupyter server as CELL_MONITOR_INGEST_TOKEN
    (or into their cell-monitor settings).
    """
    from cell_monitor.accounts import ingest_tokens

    course = course.strip()
    if len(course) > 256:
        raise click.BadParameter("at most 256 characters", param_hint="COURSE")
    if students or roster:
        entries = read_roster(roster) if roster else []
        entries += [ingest_tokens.RosterEntry(s.strip()) for s in students if s.strip()]
        _create_credentials(entries, course)
        return
    if not course:
        raise click.UsageError("name the COURSE, or give --student / --roster")
    token_id, value = run_with_engine(lambda e: ingest_tokens.create_token(e, course))
    click.echo(value)
    click.echo(
        f"Ingest token #{token_id} for {course!r}. It is shown only now: give it to the "
        "students' Jupyter servers as CELL_MONITOR_INGEST_TOKEN. From now on every event "
        "needs a valid token (servers pick the change up within "
        "CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS). A course token trusts the identity "
        "each event declares; per-student credentials (--student, --roster) do not.",
        err=True,
    )


def _create_credentials(roster: list[RosterEntry], course: str) -> None:
    from cell_monitor.accounts import ingest_tokens

    created = run_with_engine(lambda e: ingest_tokens.create_student_credentials(e, roster, course))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["student", "name", "team", "credential"])
    for entry, (_id, key, credential) in zip(roster, created, strict=True):
        out.writerow([key, entry.name or "", entry.team or "", credential])
    click.echo(
        f"{len(created)} per-student credential(s), shown only now. Each one's events are "
        "stored under its student, whatever they say.",
        err=True,
    )


@token.command()
@click.argument("token_id", type=int, required=False)
@click.option("--student", help="Revoke every credential of this student instead.")
def revoke(token_id: int | None, student: str | None) -> None:
    """Revoke course token TOKEN_ID, or a student's credentials (see `token list`)."""
    from cell_monitor.accounts import ingest_tokens

    if student:
        count = run_with_engine(
            lambda e: ingest_tokens.revoke_student_credentials(e, student=student)
        )
        if not count:
            raise click.ClickException(f"no active credential of {student!r}")
        click.echo(f"Revoked {count} credential(s) of {student!r}.")
        return
    if token_id is None:
        raise click.UsageError("give TOKEN_ID or --student")
    if not run_with_engine(lambda e: ingest_tokens.revoke_token(e, token_id)):
        raise click.ClickException(f"no active ingest token #{token_id}")
    click.echo(f"Revoked ingest token #{token_id}.")


@token.command(name="list")
def list_() -> None:
    """Every token and credential: id, course or student, created, revoked (never the secret)."""
    from cell_monitor.accounts import ingest_tokens

    async def both(
        engine: AsyncEngine,
    ) -> tuple[list[ingest_tokens.TokenInfo], list[ingest_tokens.CredentialInfo]]:
        return (
            await ingest_tokens.list_tokens(engine),
            await ingest_tokens.list_student_credentials(engine),
        )

    infos, credentials = run_with_engine(both)
    if not infos and not credentials:
        click.echo("No ingest tokens: POST /api/v1/events is open to anyone who can reach it.")
    for info in infos:
        revoked = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        click.echo(
            f"#{info.id}\t{info.course}\tcreated {info.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )
    for credential in credentials:
        revoked = (
            f"revoked {credential.revoked_at:%Y-%m-%d %H:%M}" if credential.revoked_at else "active"
        )
        click.echo(
            f"student\t{credential.student}\t{credential.course}\t"
            f"created {credential.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )
