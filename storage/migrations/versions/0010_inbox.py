"""inbox tools (issue 11): case managers' internal notes on hand-offs, ready-made replies

Revision ID: 0010_inbox
Revises: 0009_audit
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0010_inbox"
down_revision = "0009_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffnote",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "handoff_id",
            sa.Integer(),
            sa.ForeignKey("handoffrequest.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "person_id",
            sa.String(length=32),
            sa.ForeignKey("person.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_handoffnote_handoff_id", "handoffnote", ["handoff_id"])
    op.create_index("ix_handoffnote_person_id", "handoffnote", ["person_id"])
    op.create_table(
        "replysnippet",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(length=64), nullable=False, unique=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("replysnippet")
    op.drop_index("ix_handoffnote_person_id", table_name="handoffnote")
    op.drop_index("ix_handoffnote_handoff_id", table_name="handoffnote")
    op.drop_table("handoffnote")
