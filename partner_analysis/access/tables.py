"""SQLAlchemy tables of invitations, on the store's shared ``metadata`` (schema revisions 0003, 0004).

An invitation is one respondent's way into one app: the fit survey of one partnership in one wave, or
the records forms of one partnership (a partner coordinator) or of a list of partnerships (a district
coordinator). Only the SHA-256 hash of its link's token is stored; the token itself is shown once.
"""
from __future__ import annotations

from sqlalchemy import (CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)

from ..store_tables import metadata

__all__ = ["invitations", "invitation_partners", "FORMS", "ROLES"]

#: the apps an invitation opens
FORMS = ("survey", "records")
#: the side a respondent answers for
ROLES = ("district", "partner")

_TS = DateTime(timezone=True)

invitations = Table(
    "invitations", metadata,
    Column("invitation_id", Integer, primary_key=True, autoincrement=True),
    Column("form", String(16), nullable=False),
    Column("role", String(20), nullable=False),
    # the survey round (survey invitations only)
    Column("wave", String(50), nullable=True),
    Column("email", String(320), nullable=False),
    Column("name", Text, nullable=True),
    # hex SHA-256 of the link's token; the token is never stored
    Column("token_hash", String(64), nullable=False),
    Column("created_at", _TS, nullable=False),
    Column("expires_at", _TS, nullable=False),
    Column("revoked_at", _TS, nullable=True),
    # first time the link opened an app
    Column("opened_at", _TS, nullable=True),
    # last time a link was e-mailed (a reminder issues a fresh token), and how many reminders were sent
    Column("sent_at", _TS, nullable=True),
    Column("reminders", Integer, nullable=False, default=0),
    # the respondent's language (``es``): their pages, refusal page and reminders; NULL: the link's
    # ``?lang=`` or the browser's preference, else English (revision 0004)
    Column("lang", String(16), nullable=True),
    UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    CheckConstraint("form IN ('survey', 'records')", name="ck_invitations_form"),
    CheckConstraint("role IN ('district', 'partner')", name="ck_invitations_role"),
    Index("ix_invitations_form_wave", "form", "wave"),
)

#: the partnerships an invitation may see: exactly one for the survey and partner coordinators
invitation_partners = Table(
    "invitation_partners", metadata,
    Column("invitation_id", Integer, ForeignKey("invitations.invitation_id", ondelete="CASCADE"),
           primary_key=True),
    Column("partner_id", String(100), primary_key=True),
)
