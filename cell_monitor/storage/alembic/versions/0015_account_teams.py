"""The teams of a dashboard account: a TA's "my teams" without JupyterHub.

One JSON list per account in `users.teams` (empty for every existing account),
set with `cell-monitor user teams NAME TEAM...`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server default: no rewrite of the table, plain ALTER on SQLite.
    op.add_column("users", sa.Column("teams", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    op.drop_column("users", "teams")
