"""Invitations: one link per respondent (``invitations``, ``invitation_partners``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Two new tables; no existing row changes. Downgrade drops them (and with them every invitation: their
links stop working, as they would in a store of revision 0002).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "invitations",
        sa.Column("invitation_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("wave", sa.String(50), nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=False),
        sa.Column("revoked_at", ts, nullable=True),
        sa.Column("opened_at", ts, nullable=True),
        sa.Column("sent_at", ts, nullable=True),
        sa.Column("reminders", sa.Integer, nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
        sa.CheckConstraint("form IN ('survey', 'records')", name="ck_invitations_form"),
        sa.CheckConstraint("role IN ('district', 'partner')", name="ck_invitations_role"),
    )
    op.create_index("ix_invitations_form_wave", "invitations", ["form", "wave"])
    op.create_table(
        "invitation_partners",
        sa.Column("invitation_id", sa.Integer,
                  sa.ForeignKey("invitations.invitation_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("partner_id", sa.String(100), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("invitation_partners")
    op.drop_index("ix_invitations_form_wave", table_name="invitations")
    op.drop_table("invitations")
