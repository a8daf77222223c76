"""content truth (issue 12): deciding authorities, "valid until", scope groups, glossary glosses,
who serves a town without local case management

Revision ID: 0006_content
Revises: 0005_trust
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0006_content"
down_revision = "0005_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("municipality") as batch:
        batch.add_column(sa.Column("contact", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("served_by_office", sa.String(length=64), nullable=True))
    with op.batch_alter_table("faqentry") as batch:
        batch.add_column(sa.Column("valid_until", sa.Date(), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("glossaryterm") as batch:
        batch.add_column(sa.Column("gloss", sa.String(length=120), nullable=False, server_default=""))
    op.create_table(
        "scopegroup",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("municipalities", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("seed_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", storage.db.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("municipality") as batch:
        batch.drop_column("served_by_office")
        batch.drop_column("contact")
    op.drop_table("scopegroup")
    with op.batch_alter_table("glossaryterm") as batch:
        batch.drop_column("gloss")
    with op.batch_alter_table("faqentry") as batch:
        batch.drop_column("decided_by")
        batch.drop_column("valid_until")
