"""SQLAlchemy tables of the partnership records, on the store's shared ``metadata``.

Normalised so that a check-in is one row with its attendees, goal reviews and
action items in child tables (deleted with it). Goals and check-ins have
string keys that people can see and type in CSV files (``P01-G1``,
``P01-2025-10-02``); investments and action items have integer keys.
Amounts keep the unit they were entered in; valuation to money happens when
metrics are computed, so a change of rates in ``district.yml`` revalues history.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, String, Table, Text,
                        UniqueConstraint)

from ..store_tables import metadata

__all__ = ["investments", "goals", "checkins", "checkin_attendees", "checkin_goal_reviews",
           "action_items", "audit", "drafts", "RECORD_TABLES"]

investments = Table(
    "records_investments", metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", String(64), nullable=False, index=True),
    Column("term", String(32), nullable=False, index=True),
    Column("party", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("amount", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("role", String(64), nullable=True),
    Column("description", Text, nullable=False, default=""),
    Column("entered_by", String(128), nullable=False),
    Column("entered_at", DateTime, nullable=False),
)

goals = Table(
    "records_goals", metadata,
    Column("goal_id", String(64), primary_key=True),
    Column("partner_id", String(64), nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("kpi_id", String(64), nullable=True),
    Column("population", String(32), nullable=True),
    Column("baseline", Float, nullable=True),
    Column("target", Float, nullable=True),
    Column("start_term", String(32), nullable=True),
    Column("due_term", String(32), nullable=False),
    Column("entered_by", String(128), nullable=False),
    Column("entered_at", DateTime, nullable=False),
    # who answers for the goal; until schema revision 0002 a table of its own (records_goal_owners)
    Column("owner", String(128), nullable=True),
)

checkins = Table(
    "records_checkins", metadata,
    Column("checkin_id", String(64), primary_key=True),
    Column("partner_id", String(64), nullable=False, index=True),
    Column("term", String(32), nullable=False, index=True),
    Column("date", Date, nullable=False),
    Column("data_shared", Text, nullable=False, default=""),
    Column("challenges", Text, nullable=False, default=""),
    Column("adjustments", Text, nullable=False, default=""),
    Column("entered_by", String(128), nullable=False),
    Column("entered_at", DateTime, nullable=False),
)

checkin_attendees = Table(
    "records_checkin_attendees", metadata,
    Column("checkin_id", String(64), ForeignKey("records_checkins.checkin_id", ondelete="CASCADE"),
           primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("side", String(16), nullable=False),
    Column("role", String(64), nullable=False, default=""),
)

checkin_goal_reviews = Table(
    "records_checkin_goal_reviews", metadata,
    Column("checkin_id", String(64), ForeignKey("records_checkins.checkin_id", ondelete="CASCADE"),
           primary_key=True),
    Column("goal_id", String(64), ForeignKey("records_goals.goal_id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
)

action_items = Table(
    "records_action_items", metadata,
    Column("action_id", Integer, primary_key=True, autoincrement=True),
    Column("checkin_id", String(64), ForeignKey("records_checkins.checkin_id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("owner", String(128), nullable=False),
    Column("side", String(16), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("done", Boolean, nullable=False, default=False),
    Column("done_date", Date, nullable=True),
    UniqueConstraint("checkin_id", "description", name="uq_action_per_checkin"),
)

#: one row per corrected field of a stored record: the old value is kept, with who changed it, why and when
audit = Table(
    "records_audit", metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("table_name", String(64), nullable=False),
    Column("record_id", String(64), nullable=False, index=True),
    Column("partner_id", String(64), nullable=True, index=True),
    Column("field", String(64), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("editor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_at", DateTime, nullable=False),
)

#: Table objects in dependency order (parents first), for creation, export and deletion.
RECORD_TABLES = (investments, goals, checkins, checkin_attendees, checkin_goal_reviews, action_items,
                 audit)

#: unsubmitted form answers, autosaved on every change so a refreshed Voilà page resumes where it was
drafts = Table(
    "records_drafts", metadata,
    Column("draft_key", String(300), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("answers", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
