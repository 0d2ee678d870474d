"""The records store's shared table registry: the one ``metadata`` every area's tables sit on, and partnerships.

Each area defines its tables on :data:`metadata` in its own module (the fit survey's in
:mod:`partner_analysis.fit.tables`, the partnership records' in :mod:`partner_analysis.records.tables`,
the invitations' in :mod:`partner_analysis.access.tables`); :class:`partner_analysis.store.Store` loads
them all and creates them. ``partnerships`` is here because every area's rows hang on it.

This module imports no other part of the toolkit but :mod:`partner_analysis.exceptions`, so area tables
can import it without importing the store.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

import sqlalchemy as sa

from .exceptions import StoreError

__all__ = ["metadata", "TIMESTAMP", "partnerships", "ensure_partnership", "check_id", "utc_now"]

#: every table of the records store, each area's included
metadata = sa.MetaData()

#: the column type of every time stamp in the store (UTC, with time zone)
TIMESTAMP = sa.DateTime(timezone=True)

partnerships = sa.Table(
    "partnerships", metadata,
    sa.Column("partner_id", sa.String(100), primary_key=True),
    sa.Column("name", sa.Text),
)



def ensure_partnership(conn: sa.Connection, partner_id: str, name: str | None = None) -> None:
    """Create the partnership ``partner_id`` on an open transaction, or set its name when ``name`` is given."""
    row = conn.execute(sa.select(partnerships.c.name).where(partnerships.c.partner_id == partner_id)).first()
    if row is None:
        conn.execute(partnerships.insert().values(partner_id=partner_id, name=name))
    elif name is not None and row[0] != name:
        conn.execute(partnerships.update().where(partnerships.c.partner_id == partner_id).values(name=name))


def check_id(name: str, value: Any) -> str:
    """``value`` when it is a non-empty string (an id keeps its leading zeros); else :class:`StoreError`."""
    if value is None or str(value).strip() == "":
        raise StoreError(f"`{name}` must be a non-empty string, but {value!r} was passed")
    if not isinstance(value, str):
        # Ids are strings so that leading zeros survive ("0101"); refuse numbers instead of guessing.
        raise StoreError(f"`{name}` must be a string (ids keep leading zeros), but {value!r} "
                         f"({type(value).__name__}) was passed")
    return value


def utc_now() -> _dt.datetime:
    """The current time in UTC (what the store's time stamps hold)."""
    return _dt.datetime.now(_dt.timezone.utc)
