"""the audit trail: an append-only, hash-chained record of who read or changed what

Revision ID: 0009_audit
Revises: 0008_staff
Create Date: 2026-12-01

``auditevent`` rows are chained: ``prev_hash`` is the hash of the row before, ``hash`` covers the row's
fields and ``prev_hash`` (``storage.audit``). On PostgreSQL a trigger refuses UPDATE, DELETE and
TRUNCATE on the table; SQLite has no such guard, there ``storage.audit.verify`` finds the change (it
does on PostgreSQL too).
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0009_audit"
down_revision = "0008_staff"
branch_labels = None
depends_on = None

REFUSE = """
CREATE FUNCTION auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "auditevent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_kind", sa.String(length=8), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("person", sa.String(length=32), nullable=True),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    )
    for column in ("at", "actor", "action", "person", "target"):
        op.create_index(f"ix_auditevent_{column}", "auditevent", [column])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE)
        op.execute(
            "CREATE TRIGGER auditevent_no_change BEFORE UPDATE OR DELETE ON auditevent "
            "FOR EACH ROW EXECUTE FUNCTION auditevent_append_only()"
        )
        op.execute(
            "CREATE TRIGGER auditevent_no_truncate BEFORE TRUNCATE ON auditevent "
            "FOR EACH STATEMENT EXECUTE FUNCTION auditevent_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER auditevent_no_truncate ON auditevent")
        op.execute("DROP TRIGGER auditevent_no_change ON auditevent")
        op.execute("DROP FUNCTION auditevent_append_only()")
    for column in ("target", "person", "action", "actor", "at"):
        op.drop_index(f"ix_auditevent_{column}", table_name="auditevent")
    op.drop_table("auditevent")
