"""Erasure and ingest agree on which rows an erasure deletes (PostgreSQL).

Erasure deletes a student's rows, and the notebooks that no stored row names any
more (a path may name its author). PostgreSQL's event log has no foreign key to
notebooks (revision 0016) or to students (0018), so nothing else stops a group
from storing events under a notebook or a student it has just looked up while
erasure deletes it: no cascade would delete them afterwards. So each write group
holds this transaction lock shared, and an erasure holds it exclusively: an
erasure waits for the groups in flight and its statements see every group that
committed; groups wait while a student is erased (well under a second for a
term's events) and never for each other.

Both take it before any row lock of their transaction, so it cannot close a
cycle with the row locks (a group holding a student row while it waits for the
lock, and an erasure holding the lock while it waits for that row, would
deadlock).
On SQLite a write transaction already excludes every other (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_KEY = int.from_bytes(hashlib.sha256(b"cell-monitor:notebooks").digest()[:8], "big", signed=True)
_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({_KEY})")
_EXCLUSIVE = text(f"SELECT pg_advisory_xact_lock({_KEY})")


async def writing_group(conn: AsyncConnection) -> None:
    """First statement of a write group: no notebook is deleted until it commits."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_SHARED)


async def erasing_students(conn: AsyncConnection) -> None:
    """First statement of an erasure: wait for the groups in flight, hold new ones."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_EXCLUSIVE)
