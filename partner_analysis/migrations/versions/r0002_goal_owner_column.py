"""A goal's owner moves into ``records_goals.owner`` (was the table ``records_goal_owners``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

The owner went into a table of its own only because the store could not add a column then. Every
owner row is copied into the new column before the table is dropped; downgrade copies them back.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records_goals", sa.Column("owner", sa.String(128), nullable=True))
    op.execute("UPDATE records_goals SET owner = (SELECT o.owner FROM records_goal_owners o "
               "WHERE o.goal_id = records_goals.goal_id)")
    op.drop_table("records_goal_owners")


def downgrade() -> None:
    op.create_table(
        "records_goal_owners",
        sa.Column("goal_id", sa.String(64), sa.ForeignKey("records_goals.goal_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
    )
    op.execute("INSERT INTO records_goal_owners (goal_id, owner) SELECT goal_id, owner FROM records_goals "
               "WHERE owner IS NOT NULL")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place; a batch copy would drop and recreate records_goals, which
        # other tables reference
        op.execute("ALTER TABLE records_goals DROP COLUMN owner")
    else:
        op.drop_column("records_goals", "owner")
