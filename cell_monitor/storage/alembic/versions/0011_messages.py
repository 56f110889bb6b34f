"""Messages and hints to students, their read receipts and the students' replies.

Written by hand. Three new tables; nothing else changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cell_monitor.storage.models import BigIntId, UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("sender", sa.String(256), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("audience", sa.String(1024), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("uid", name="uq_messages_uid"),
        sa.UniqueConstraint("request_id", name="uq_messages_request_id"),
    )
    op.create_index("ix_messages_sent_at", "messages", ["sent_at"])
    op.create_index("ix_messages_sender_sent", "messages", ["sender", "sent_at"])
    op.create_table(
        "message_recipients",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("message_id", BigIntId, nullable=False),
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("seen_at", UtcDateTime(), nullable=True),
        sa.Column("inserted_at", UtcDateTime(), nullable=True),
        sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
        sa.Column("replies", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_recipients_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_message_recipients_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_message_recipients"),
        sa.UniqueConstraint(
            "message_id", "student_id", name="uq_message_recipients_message_id_student_id"
        ),
    )
    op.create_index(
        "ix_message_recipients_student_sent", "message_recipients", ["student_id", "sent_at"]
    )
    op.create_table(
        "message_replies",
        sa.Column("id", BigIntId, nullable=False),
        sa.Column("message_id", BigIntId, nullable=False),
        sa.Column("student_id", BigIntId, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_replies_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name="fk_message_replies_student_id_students",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_message_replies"),
    )
    op.create_index("ix_message_replies_message_id", "message_replies", ["message_id"])
    op.create_index("ix_message_replies_student_id", "message_replies", ["student_id"])


def downgrade() -> None:
    op.drop_table("message_replies")
    op.drop_table("message_recipients")
    op.drop_table("messages")
