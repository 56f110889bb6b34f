"""Per-student ingest credentials: each names the one identity it may report as.

Written by hand. One new table; nothing else changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import BigIntId, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "student_credentials",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("student_key", sa.String(512), nullable=False),
        sa.Column("display_name", sa.String(512), nullable=True),
        sa.Column("team", sa.String(512), nullable=True),
        sa.Column("course", sa.String(256), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_student_credentials"),
        sa.UniqueConstraint("token_hash", name="uq_student_credentials_token_hash"),
    )
    op.create_index("ix_student_credentials_student_key", "student_credentials", ["student_key"])


def downgrade() -> None:
    op.drop_index("ix_student_credentials_student_key", table_name="student_credentials")
    op.drop_table("student_credentials")
