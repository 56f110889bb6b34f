"""Upsert statements built once per database, not per group write.

An upsert with CASE expressions takes longer to construct, and to key for
SQLAlchemy's compiled cache, than to run for a few rows (~0.4-1 ms each), and
every group write runs several: the report and signal tables build theirs
here, once per dialect, from a builder that receives that dialect's insert().
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

Builder = Callable[[Callable[[Any], Any]], Any]


def upsert(conn: AsyncConnection, build: Builder) -> Any:
    """`build`'s statement for `conn`'s database (built on first use)."""
    return _built(conn.dialect.name, build)


@functools.cache
def _built(dialect: str, build: Builder) -> Any:
    return build((postgresql if dialect == "postgresql" else sqlite).insert)
