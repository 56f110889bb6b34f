"""Which process drives a sink or the maintenance task: one, by a PostgreSQL advisory lock.

With several workers every one of them runs a sink object, but only the one
holding the session-level advisory lock reads the log and writes; the others
try to take the lock now and then, so one of them takes over within seconds
when the leader's process or connection dies (PostgreSQL releases the lock
with the session). The lock lives on a connection of its own in autocommit
mode: an open transaction would hold back vacuum for as long as the server runs.

Should two processes ever drive at once (a leader whose connection broke
without it noticing yet), the harm is a repeated write, and InfluxDB overwrites
points with the same series and timestamp: the result is the same.

SQLite needs no lock: it is the embedded, one-process setup. (Several workers on
one SQLite file would each drive their sink, with the same harmless repeats.)
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for sink `name`."""
    digest = hashlib.sha256(f"cell-monitor:sink:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leadership:
    def __init__(self, engine: AsyncEngine, name: str, role: str = "the InfluxDB sink") -> None:
        self._engine = engine
        self._role = role
        self._key = lock_key(name)
        self._needs_lock = engine.dialect.name == "postgresql"
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return not self._needs_lock or self._conn is not None

    async def acquire(self) -> bool:
        """True when this process drives the sink (takes the lock if it is free)."""
        if self.held:
            return True
        conn = await self._engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            query = text("SELECT pg_try_advisory_lock(:key)")
            got = bool((await conn.execute(query, {"key": self._key})).scalar_one())
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        log.info("This process now drives %s", self._role)
        return True

    async def confirm(self) -> bool:
        """Still the leader? A dead lock connection means the lock is gone."""
        if self._conn is None:
            return self.held
        try:
            await self._conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("Lost the sink lock's connection (%s); leadership is given up", exc)
            await self.release()
            return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        except Exception:
            log.debug("Unlock failed; closing the connection releases the lock anyway")
        finally:
            try:
                await conn.close()
            except Exception:
                log.debug("Closing the sink lock's connection failed", exc_info=True)
