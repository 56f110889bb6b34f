"""`--older-than` ages of `cell-monitor db prune`."""

from __future__ import annotations

from datetime import timedelta

import click
import pytest

from cell_monitor.cli.db import parse_age


@pytest.mark.parametrize(
    ("text", "age"),
    [("180d", timedelta(days=180)), ("26w", timedelta(weeks=26)), ("12h", timedelta(hours=12)),
     ("90", timedelta(days=90)), (" 7D ", timedelta(days=7))],
)  # fmt: skip
def test_ages(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "0d", "-3d", "6 months", "1.5d", "d"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(click.BadParameter, match="180d"):
        parse_age(text)
