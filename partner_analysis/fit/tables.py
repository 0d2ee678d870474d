"""SQLAlchemy tables of the fit survey's responses, on the store's shared ``metadata``.

Instruments, respondents, response sets, answers and the audit of corrected answers; the functions that
read and write them are in :mod:`partner_analysis.fit.responses`. The partnership records' tables sit
in :mod:`partner_analysis.records.tables`, the invitations' in :mod:`partner_analysis.access.tables`.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..store_tables import TIMESTAMP, metadata

__all__ = ["ROLES", "STATUSES", "instruments", "respondents", "response_sets", "answers", "answer_audit", "TABLES"]

ROLES = ("district", "partner")
STATUSES = ("draft", "submitted")

def _serial() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _instrument_key() -> list[sa.Column]:
    """Which instrument (form id and version, as the XLSForm settings sheet names them)."""
    return [sa.Column("form_id", sa.String(200), nullable=False), sa.Column("version", sa.String(50), nullable=False)]


def _partner() -> sa.Column:
    return sa.Column("partner_id", sa.String(100), sa.ForeignKey("partnerships.partner_id"), nullable=False)


def _one_of(table: str, column: str, allowed: tuple[str, ...]) -> list:
    """A required text column and the check that keeps it to ``allowed``."""
    listed = ", ".join(f"'{a}'" for a in allowed)
    return [sa.Column(column, sa.String(20), nullable=False),
            sa.CheckConstraint(f"{column} IN ({listed})", name=f"ck_{table}_{column}")]


def _of_response() -> sa.Column:
    return sa.Column("response_id", sa.Integer, sa.ForeignKey("response_sets.id", ondelete="CASCADE"),
                     nullable=False)


instruments = sa.Table(
    "instruments", metadata, _serial(), *_instrument_key(),
    sa.Column("title", sa.Text),
    sa.Column("source_path", sa.Text),
    sa.Column("sha256", sa.String(64)),
    sa.Column("registered_at", TIMESTAMP, nullable=False),
    sa.UniqueConstraint("form_id", "version", name="uq_instruments_form_version"),
)

respondents = sa.Table(
    "respondents", metadata,
    sa.Column("respondent_id", sa.String(200), primary_key=True),
    _partner(), *_one_of("respondents", "role", ROLES),
    sa.Column("name", sa.Text),
    sa.Column("email", sa.Text),
)

response_sets = sa.Table(
    "response_sets", metadata, _serial(), *_instrument_key(), _partner(), *_one_of("response_sets", "role", ROLES),
    sa.Column("respondent", sa.String(200), nullable=False),
    sa.Column("wave", sa.String(50), nullable=False, default="annual"),
    *_one_of("response_sets", "status", STATUSES),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Column("submitted_at", TIMESTAMP),
    # A client-chosen token makes a retried "start"/"submit" idempotent: a second request with the
    # same token finds the first response set instead of creating a duplicate.
    sa.Column("client_token", sa.String(200), unique=True),
    sa.Index("ix_response_sets_lookup", "form_id", "version", "partner_id", "role", "respondent", "wave"),
)

answers = sa.Table(
    "answers", metadata, _serial(), _of_response(),
    sa.Column("item", sa.String(200), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.UniqueConstraint("response_id", "item", name="uq_answers_response_item"),
)

answer_audit = sa.Table(
    "answer_audit", metadata, _serial(), _of_response(),
    sa.Column("item", sa.String(200), nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("editor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("changed_at", TIMESTAMP, nullable=False),
)

#: the survey's tables (with ``partnerships``, what makes a database a records store)
TABLES = (instruments, respondents, response_sets, answers, answer_audit)
