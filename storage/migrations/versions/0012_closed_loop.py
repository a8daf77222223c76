"""closed loop (issue 13): groups of unanswered questions, their links to entries, the follow-ups sent
to the people who asked, and their opt-out

Revision ID: 0012_closed_loop
Revises: 0010_inbox
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa

import storage.db


revision = "0012_closed_loop"
down_revision = "0010_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unansweredquestion") as batch:
        batch.add_column(sa.Column("own_words", sa.Text(), nullable=True))
    op.create_table(
        "questiongroup",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entry_key", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_questiongroup_status", "questiongroup", ["status"])
    op.create_table(
        "questiongroupmember",
        sa.Column(
            "question_id",
            sa.Integer(),
            sa.ForeignKey("unansweredquestion.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("questiongroup.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_questiongroupmember_group_id", "questiongroupmember", ["group_id"])
    op.create_table(
        "followup",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id",
            sa.String(length=32),
            sa.ForeignKey("person.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "question_id",
            sa.Integer(),
            sa.ForeignKey("unansweredquestion.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("questiongroup.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entry_key", sa.String(length=80), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("translation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "outbound_id",
            sa.Integer(),
            sa.ForeignKey("outboundmessage.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_at", storage.db.UTCDateTime(), nullable=True),
        sa.UniqueConstraint("person_id", "question_id", name="uq_followup_person_question"),
    )
    op.create_index("ix_followup_person_id", "followup", ["person_id"])
    op.create_index("ix_followup_group_id", "followup", ["group_id"])
    op.create_index("ix_followup_entry_key", "followup", ["entry_key"])
    op.create_table(
        "followupoptout",
        sa.Column(
            "person_id",
            sa.String(length=32),
            sa.ForeignKey("person.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("at", storage.db.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("followupoptout")
    op.drop_index("ix_followup_entry_key", table_name="followup")
    op.drop_index("ix_followup_group_id", table_name="followup")
    op.drop_index("ix_followup_person_id", table_name="followup")
    op.drop_table("followup")
    op.drop_index("ix_questiongroupmember_group_id", table_name="questiongroupmember")
    op.drop_table("questiongroupmember")
    op.drop_index("ix_questiongroup_status", table_name="questiongroup")
    op.drop_table("questiongroup")
    with op.batch_alter_table("unansweredquestion") as batch:
        batch.drop_column("own_words")
