"""`cell-monitor student`: a student's pseudonym, data export and erasure."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from cell_monitor.cli.settings import load_settings
from cell_monitor.config import Settings

T = TypeVar("T")


@click.group()
def student() -> None:
    """Privacy requests about one student: pseudonym, export, delete."""


def _keys(settings: Settings, identity: str) -> list[str]:
    from cell_monitor.privacy.pseudonyms import PseudonymKeyMissing, student_keys

    if settings.pseudonymize and settings.pseudonym_key is None:
        raise click.ClickException("CELL_MONITOR_PSEUDONYM_KEY is not set")
    try:
        return student_keys(settings, identity)
    except PseudonymKeyMissing as exc:
        raise click.ClickException(str(exc)) from exc


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(engine)` against the primary store, with readable failures."""
    from cell_monitor.config import describe
    from cell_monitor.storage.engine import create_engine
    from cell_monitor.storage.startup import describe_failure

    async def _main() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_main())
    except click.ClickException:
        raise
    except Exception as exc:
        where = describe(settings.effective_database_url)
        raise click.ClickException(f"{where}: {describe_failure(exc)}") from exc


@student.command()
@click.argument("identity")
def pseudonym(identity: str) -> None:
    """Print the pseudonym of a real identity (email or user id); needs the key."""
    from cell_monitor.privacy.pseudonyms import PseudonymKeyMissing, key_of
    from cell_monitor.privacy.pseudonyms import pseudonym as pseudonym_of

    settings = load_settings()
    try:
        click.echo(pseudonym_of(key_of(settings), identity))
    except PseudonymKeyMissing as exc:
        raise click.ClickException(str(exc)) from exc


@student.command()
@click.argument("identity")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File (default: stdout).",
)
def export(identity: str, output: Path | None) -> None:
    """Write everything stored about a student as JSON (real identity or pseudonym)."""
    from cell_monitor.cli.progress import progress
    from cell_monitor.privacy.export import export_student

    settings = load_settings()
    keys = _keys(settings, identity)
    with progress("student export", unit="tables") as shown:
        data = _run(settings, lambda engine: export_student(engine, keys, shown))
        if not data["students"]:
            raise click.ClickException(f"no student is stored as {identity!r}")
        # The lookup keys would put the real identity next to its pseudonym in the file.
        data["lookedUpKeys"] = [row["student_key"] for row in data["students"]]
        encoded = orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
        shown.stop()
        if output is None:
            sys.stdout.buffer.write(encoded)
            sys.stdout.flush()
        else:
            output.write_bytes(encoded)
            output.chmod(0o600)  # personal data: readable by the operator only
        counts = ", ".join(
            f"{len(v)} {k}" for k, v in data.items() if isinstance(v, list) and k != "lookedUpKeys"
        )
        shown.finish(f"student export: wrote {output or 'stdout'}: {counts}")


@student.command()
@click.argument("identity")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(identity: str, yes: bool) -> None:
    """Erase a student from the database, live dashboards and InfluxDB."""
    from cell_monitor.privacy.erasure import erase_student

    settings = load_settings()
    keys = _keys(settings, identity)
    if not yes:
        click.confirm(
            f"Erase every record of {identity!r} from the database, dashboards and InfluxDB? "
            "This cannot be undone",
            abort=True,
        )
    from cell_monitor.cli.progress import progress

    with progress("student delete", unit="steps") as shown:
        report = _run(settings, lambda engine: erase_student(settings, engine, keys, shown))
        shown.stop()
        credentials = report.database.get("student_credentials", 0)
        if (
            not report.student_keys
            and not credentials
            and not any((report.influxdb or {}).values())
        ):
            click.echo(f"no student is stored as {identity!r}; nothing deleted")
            shown.finish("student delete: nothing to delete")
            return
        click.echo(f"erased {', '.join(report.student_keys) or identity}")
        click.echo("database: " + ", ".join(f"{n} {t}" for t, n in report.database.items()))
        click.echo(f"live dashboards: {report.live}")
        if report.influxdb_error is not None:
            raise click.ClickException(
                f"influxdb: not erased: {report.influxdb_error}; run this command again once "
                "InfluxDB answers"
            )
        if report.influxdb is None:
            click.echo("influxdb: not configured")
        else:
            click.echo(
                "influxdb: " + ", ".join(f"{n} {m} points" for m, n in report.influxdb.items())
            )
        rows = sum(report.database.values())
        shown.finish(
            f"student delete: erased {len(report.student_keys)} student record(s), "
            f"{rows:,} database rows"
        )
