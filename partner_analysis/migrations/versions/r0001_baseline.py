"""Baseline: the records store as created by partner_analysis before schema versions (commit ae5988b).

Revision ID: 0001
Revises:
Create Date: 2026-11-30

The tables are frozen here as they were defined in ``store.py`` and ``records/tables.py`` at that
commit; later revisions change them, never this file. :func:`baseline_metadata` is also what a store
made before versions is checked against before it is stamped at this revision.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def baseline_metadata() -> sa.MetaData:
    """The 15 tables of revision 0001 on a new :class:`~sqlalchemy.MetaData`."""
    m = sa.MetaData()
    ts = sa.DateTime(timezone=True)
    sa.Table(
        "instruments", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("source_path", sa.Text),
        sa.Column("sha256", sa.String(64)),
        sa.Column("registered_at", ts, nullable=False),
        sa.UniqueConstraint("form_id", "version", name="uq_instruments_form_version"),
    )
    sa.Table(
        "partnerships", m,
        sa.Column("partner_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.Text),
    )
    sa.Table(
        "respondents", m,
        sa.Column("respondent_id", sa.String(200), primary_key=True),
        sa.Column("partner_id", sa.String(100), sa.ForeignKey("partnerships.partner_id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.Text),
        sa.CheckConstraint("role IN ('district', 'partner')", name="ck_respondents_role"),
    )
    sa.Table(
        "response_sets", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("partner_id", sa.String(100), sa.ForeignKey("partnerships.partner_id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("respondent", sa.String(200), nullable=False),
        sa.Column("wave", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("submitted_at", ts),
        sa.Column("client_token", sa.String(200), unique=True),
        sa.CheckConstraint("role IN ('district', 'partner')", name="ck_response_sets_role"),
        sa.CheckConstraint("status IN ('draft', 'submitted')", name="ck_response_sets_status"),
        sa.Index("ix_response_sets_lookup", "form_id", "version", "partner_id", "role", "respondent", "wave"),
    )
    sa.Table(
        "answers", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("response_id", sa.Integer, sa.ForeignKey("response_sets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.UniqueConstraint("response_id", "item", name="uq_answers_response_item"),
    )
    sa.Table(
        "answer_audit", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("response_id", sa.Integer, sa.ForeignKey("response_sets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("editor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", ts, nullable=False),
    )
    sa.Table(
        "records_investments", m,
        sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(64), nullable=False, index=True),
        sa.Column("term", sa.String(32), nullable=False, index=True),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("amount", sa.Float, nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("entered_by", sa.String(128), nullable=False),
        sa.Column("entered_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "records_goals", m,
        sa.Column("goal_id", sa.String(64), primary_key=True),
        sa.Column("partner_id", sa.String(64), nullable=False, index=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("kpi_id", sa.String(64), nullable=True),
        sa.Column("population", sa.String(32), nullable=True),
        sa.Column("baseline", sa.Float, nullable=True),
        sa.Column("target", sa.Float, nullable=True),
        sa.Column("start_term", sa.String(32), nullable=True),
        sa.Column("due_term", sa.String(32), nullable=False),
        sa.Column("entered_by", sa.String(128), nullable=False),
        sa.Column("entered_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "records_goal_owners", m,
        sa.Column("goal_id", sa.String(64), sa.ForeignKey("records_goals.goal_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
    )
    sa.Table(
        "records_checkins", m,
        sa.Column("checkin_id", sa.String(64), primary_key=True),
        sa.Column("partner_id", sa.String(64), nullable=False, index=True),
        sa.Column("term", sa.String(32), nullable=False, index=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("data_shared", sa.Text, nullable=False),
        sa.Column("challenges", sa.Text, nullable=False),
        sa.Column("adjustments", sa.Text, nullable=False),
        sa.Column("entered_by", sa.String(128), nullable=False),
        sa.Column("entered_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "records_checkin_attendees", m,
        sa.Column("checkin_id", sa.String(64), sa.ForeignKey("records_checkins.checkin_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
    )
    sa.Table(
        "records_checkin_goal_reviews", m,
        sa.Column("checkin_id", sa.String(64), sa.ForeignKey("records_checkins.checkin_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("goal_id", sa.String(64), sa.ForeignKey("records_goals.goal_id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    sa.Table(
        "records_action_items", m,
        sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("checkin_id", sa.String(64), sa.ForeignKey("records_checkins.checkin_id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("done_date", sa.Date, nullable=True),
        sa.UniqueConstraint("checkin_id", "description", name="uq_action_per_checkin"),
    )
    sa.Table(
        "records_audit", m,
        sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False, index=True),
        sa.Column("partner_id", sa.String(64), nullable=True, index=True),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.Column("editor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "records_drafts", m,
        sa.Column("draft_key", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    return m


def upgrade() -> None:
    # checkfirst: a store made before versions may already hold some of these tables (it is stamped here)
    baseline_metadata().create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    baseline_metadata().drop_all(op.get_bind())
