"""staff console (issue 11): accounts, sessions, failed logins; hand-offs assigned, answered, escalated

Revision ID: 0008_staff
Revises: 0007_webhook
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0008_staff"
down_revision = "0007_webhook"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staffaccount",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(length=64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("password_changed_at", storage.db.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "staffsession",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("staffaccount.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("granted", sa.JSON(), nullable=False),
    )
    op.create_index("ix_staffsession_account_id", "staffsession", ["account_id"])
    op.create_table(
        "loginfailure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", storage.db.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_loginfailure_username", "loginfailure", ["username"])
    op.create_index("ix_loginfailure_client", "loginfailure", ["client"])
    op.create_index("ix_loginfailure_at", "loginfailure", ["at"])
    with op.batch_alter_table("handoffrequest") as batch:
        batch.add_column(sa.Column("topic", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("assigned_to", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("first_reply_at", storage.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("escalated_at", storage.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_handoffrequest_assigned_to", "staffaccount", ["assigned_to"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("handoffrequest") as batch:
        batch.drop_constraint("fk_handoffrequest_assigned_to", type_="foreignkey")
        for column in ("outcome", "escalated_at", "first_reply_at", "assigned_to", "topic"):
            batch.drop_column(column)
    op.drop_table("loginfailure")
    op.drop_index("ix_staffsession_account_id", table_name="staffsession")
    op.drop_table("staffsession")
    op.drop_table("staffaccount")
