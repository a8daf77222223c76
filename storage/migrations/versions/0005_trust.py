"""trust and safety (issue 10): update keys stored with the message, replies linked to what they
answer, urgent hand-offs, who asked an unanswered question, erasure requests with their receipt

Revision ID: 0005_trust
Revises: 0004_outbox
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0005_trust"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inboundmessage") as batch:
        batch.add_column(sa.Column("update_key", sa.String(length=96), nullable=True))
        batch.add_column(sa.Column("claimed_at", storage.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("german", sa.Text(), nullable=True))
        batch.add_column(sa.Column("german_flags", sa.JSON(), nullable=True))
        batch.create_unique_constraint("uq_inboundmessage_update_key", ["update_key"])
    with op.batch_alter_table("outboundmessage") as batch:
        batch.add_column(sa.Column("in_reply_to", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_outboundmessage_in_reply_to", "inboundmessage", ["in_reply_to"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_outboundmessage_in_reply_to", ["in_reply_to"])
    with op.batch_alter_table("handoffrequest") as batch:
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("unansweredquestion") as batch:
        batch.add_column(sa.Column("person_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_unansweredquestion_person", "person", ["person_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_unansweredquestion_person_id", ["person_id"])
    op.create_table(
        "erasurerequest",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pseudonym", sa.String(length=32), nullable=False),
        sa.Column("requested_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("completed_at", storage.db.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_erasurerequest_pseudonym", "erasurerequest", ["pseudonym"])
    op.create_index("ix_erasurerequest_status", "erasurerequest", ["status"])


def downgrade() -> None:
    op.drop_index("ix_erasurerequest_status", table_name="erasurerequest")
    op.drop_index("ix_erasurerequest_pseudonym", table_name="erasurerequest")
    op.drop_table("erasurerequest")
    with op.batch_alter_table("unansweredquestion") as batch:
        batch.drop_index("ix_unansweredquestion_person_id")
        batch.drop_constraint("fk_unansweredquestion_person", type_="foreignkey")
        batch.drop_column("person_id")
    with op.batch_alter_table("handoffrequest") as batch:
        batch.drop_column("urgent")
    with op.batch_alter_table("outboundmessage") as batch:
        batch.drop_index("ix_outboundmessage_in_reply_to")
        batch.drop_constraint("fk_outboundmessage_in_reply_to", type_="foreignkey")
        batch.drop_column("in_reply_to")
    with op.batch_alter_table("inboundmessage") as batch:
        batch.drop_constraint("uq_inboundmessage_update_key", type_="unique")
        for column in ("german_flags", "german", "claimed_at", "update_key"):
            batch.drop_column(column)
