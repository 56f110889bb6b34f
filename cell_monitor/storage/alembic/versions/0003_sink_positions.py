"""Sink positions: how far each sink (InfluxDB) has read the event log.

Written by hand. One small table, no change to existing ones, so upgrading a
live database takes no lock on `events`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sink_positions",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("last_event_pk", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sink_positions"),
    )


def downgrade() -> None:
    op.drop_table("sink_positions")
