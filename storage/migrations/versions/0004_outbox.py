"""the outbox: every message to a person has a delivery state (issue 9: one outbound path)

Revision ID: 0004_outbox
Revises: 0002_translation, 0003_booking
Create Date: 2026-12-01

Merges the two feature heads. ``outboundmessage`` rows become the outbox: ``status`` is ``queued``
(waiting for its channel), ``sending`` (claimed by a worker; a crash leaves it detectable), ``sent``,
``failed`` (refused for good, ``failure`` says why) or ``unknown`` (the send timed out: it may have
arrived, never resent blindly). Existing rows: delivered ones are ``sent``, the rest ``queued``.
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0004_outbox"
down_revision = ("0002_translation", "0003_booking")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outboundmessage") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="queued"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", storage.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("claimed_at", storage.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("failure", sa.String(length=300), nullable=True))
        batch.create_index("ix_outboundmessage_status_channel", ["status", "channel"])
    op.execute("UPDATE outboundmessage SET status = 'sent' WHERE delivered_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("outboundmessage") as batch:
        batch.drop_index("ix_outboundmessage_status_channel")
        for column in ("failure", "claimed_at", "claimed_by", "next_attempt_at", "attempts", "status"):
            batch.drop_column(column)
