"""An invitation's language (``invitations.lang``): the respondent's pages and reminders in it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

One new nullable column; existing invitations keep NULL (their pages follow the link's ``?lang=`` or the
browser's preference, as before). Downgrade drops the column.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invitations", sa.Column("lang", sa.String(16), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops a column in place; a batch copy would recreate the table
        op.execute("ALTER TABLE invitations DROP COLUMN lang")
    else:
        op.drop_column("invitations", "lang")
