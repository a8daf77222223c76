"""content studio, texts (issue 13): glossary explanations get translation statuses and versions

The German row of a term (``language == "de"``) is the master: its ``source_version`` is the term's
version, bumped when an editor changes the German note. Every other row says how far it can be trusted
(``reviewed`` / ``draft`` / ``machine``) and which master version it explains, as ``Translation`` does.

Revision ID: 0013_studio_texts
Revises: 0012_closed_loop
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = "0013_studio_texts"
down_revision = "0012_closed_loop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("glossaryterm") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="draft")
        )
        batch.add_column(
            sa.Column("source_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("reviewer", sa.String(length=64), nullable=True))
    op.execute("UPDATE glossaryterm SET status = 'source' WHERE language = 'de'")


def downgrade() -> None:
    with op.batch_alter_table("glossaryterm") as batch:
        batch.drop_column("reviewer")
        batch.drop_column("source_version")
        batch.drop_column("status")
