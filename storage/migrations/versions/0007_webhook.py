"""Telegram webhook: updates kept from the 200 until they are handled (issue 10)

Revision ID: 0007_webhook
Revises: 0006_content
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0007_webhook"
down_revision = "0006_content"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegramupdate",
        sa.Column("update_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", storage.db.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telegramupdate")
