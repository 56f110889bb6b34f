"""CSV text of the exports: times readable, and nothing a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from cell_monitor.downloads import csv_lines


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_every_formula_start_is_made_inert() -> None:
    # OWASP's list: = + - @, and tab and carriage return, which some spreadsheets skip.
    starts = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]
    assert parse(csv_lines([starts])) == [["'" + s for s in starts]]


def test_other_values_are_kept_as_they_are() -> None:
    when = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    text = csv_lines([["print('=')", "a,b", 'say "hi"', 3, 1.5, None, True, when]])
    assert parse(text) == [
        ["print('=')", "a,b", 'say "hi"', "3", "1.5", "", "True", "2026-03-01T09:30:00+00:00"]
    ]


def test_rows_end_as_the_csv_module_ends_them() -> None:
    assert csv_lines([["a"], ["b"]]) == "a\r\nb\r\n"
