"""`cell-monitor token`: ingest credentials for the Jupyter server extension.

A course token (`token create COURSE`) lets the body say who the events are
about ("declared identity"); a per-student credential (`token create
--student ID` or `--roster roster.csv`) names the one student its events are
stored under. Ingest is open while no token or credential exists; once one
exists (even revoked), every event needs an active one. Each command ends by
saying which state that is.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cell_monitor.cli.database import run_with_engine
from cell_monitor.cli.settings import load_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from cell_monitor.accounts.ingest_tokens import CredentialInfo, RosterEntry, TokenInfo

_STUDENT_COLUMNS = ("student", "email", "emailaddress", "userid", "id")
_NAME_COLUMNS = ("name", "username")
_TEAM_COLUMNS = ("team", "teamname")
_MAX_FIELD = 512
_REFRESH = "servers pick changes up within CELL_MONITOR_INGEST_TOKEN_REFRESH_SECONDS"


@click.group()
def token() -> None:
    """Ingest credentials (once one exists, POST /api/v1/events needs one)."""


async def _tokens_and_credentials(
    engine: AsyncEngine,
) -> tuple[list[TokenInfo], list[CredentialInfo]]:
    from cell_monitor.accounts import ingest_tokens

    return (
        await ingest_tokens.list_tokens(engine),
        await ingest_tokens.list_student_credentials(engine),
    )


def _state() -> str:
    from cell_monitor.accounts import ingest_tokens

    return ingest_tokens.describe_state(*run_with_engine(_tokens_and_credentials))


def _echo_state() -> None:
    click.echo(_state(), err=True)


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
        _echo_state()
        return
    if not course:
        raise click.UsageError("name the COURSE, or give --student / --roster")
    token_id, value = run_with_engine(lambda e: ingest_tokens.create_token(e, course))
    click.echo(value)
    click.echo(
        f"Ingest token #{token_id} for {course!r}. It is shown only now: give it to the "
        "students' Jupyter servers as CELL_MONITOR_INGEST_TOKEN. From now on every event "
        f"needs a valid token ({_REFRESH}). A course token trusts the identity each event "
        "declares; per-student credentials (--student, --roster) do not.",
        err=True,
    )
    _echo_state()


def _create_credentials(roster: list[RosterEntry], course: str) -> None:
    from cell_monitor.accounts import ingest_tokens
    from cell_monitor.accounts.identity import student_key
    from cell_monitor.privacy.pseudonyms import stored_key

    settings = load_settings()
    # Pseudonymizing: the table keeps pseudonyms, as the events are stored.
    pseudonym_of = (lambda s: stored_key(settings, s)) if settings.pseudonymize else None
    created = run_with_engine(
        lambda e: ingest_tokens.create_student_credentials(
            e, roster, course, pseudonym_of=pseudonym_of
        )
    )
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["student", "name", "team", "credential"])
    # The instructor hands each credential to its student: the roster's identity.
    for entry, (_id, _key, credential) in zip(roster, created, strict=True):
        out.writerow([student_key(entry.student), entry.name or "", entry.team or "", credential])
    click.echo(
        f"{len(created)} per-student credential(s), shown only now. Each one's events are "
        "stored under its student, whatever they say.",
        err=True,
    )


@token.command()
@click.argument("token_id", type=int, required=False)
@click.option("--student", help="Revoke every credential of this student instead.")
@click.option("--yes", is_flag=True, help="Do not ask before revoking the last active token.")
def revoke(token_id: int | None, student: str | None, yes: bool) -> None:
    """Revoke course token TOKEN_ID, or a student's credentials (see `token list`)."""
    from cell_monitor.accounts import ingest_tokens

    if student:
        from cell_monitor.privacy.pseudonyms import student_keys

        keys = student_keys(load_settings(), student)  # stored before or under pseudonyms
        count = run_with_engine(lambda e: ingest_tokens.revoke_student_credentials(e, keys=keys))
        if not count:
            raise click.ClickException(f"no active credential of {student!r}")
        click.echo(f"Revoked {count} credential(s) of {student!r} ({_REFRESH}).")
        _echo_state()
        return
    if token_id is None:
        raise click.UsageError("give TOKEN_ID or --student")
    tokens, credentials = run_with_engine(_tokens_and_credentials)
    active = [info.id for info in tokens if info.revoked_at is None]
    if token_id not in active:
        raise click.ClickException(f"no active ingest token #{token_id}")
    students = [info for info in credentials if info.revoked_at is None]
    if active == [token_id] and not students and not yes:
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

    Give TOKEN_IDS, or --revoked for all of them (revoked per-student credentials
    included). Active tokens are kept: revoke them first.
    """
    from cell_monitor.accounts import ingest_tokens

    if bool(token_ids) == all_revoked:
        raise click.UsageError("give TOKEN_IDS or --revoked (not both)")
    tokens, credentials = run_with_engine(_tokens_and_credentials)
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
    # --revoked also forgets revoked per-student credentials; active ones keep ingest closed.
    left_students = [info for info in credentials if not all_revoked or info.revoked_at is None]
    if doomed and not left and not left_students and not yes:
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
    """The state of ingest, then every token and credential (never the secret)."""
    from cell_monitor.accounts import ingest_tokens

    infos, credentials = run_with_engine(_tokens_and_credentials)
    click.echo(ingest_tokens.describe_state(infos, credentials))
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
