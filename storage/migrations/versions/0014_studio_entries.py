"""content studio (issue 13): the edit history of FAQ entries and versions prepared ahead

Revision ID: 0014_studio_entries
Revises: 0013_studio_texts
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0014_studio_entries"
down_revision = "0013_studio_texts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faqrevision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_key", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", storage.db.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_faqrevision_entry_key", "faqrevision", ["entry_key"])
    op.create_table(
        "faqpendingversion",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_key", sa.String(length=80), nullable=False, unique=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("faqpendingversion")
    op.drop_index("ix_faqrevision_entry_key", table_name="faqrevision")
    op.drop_table("faqrevision")
