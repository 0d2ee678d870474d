"""The audit trail of corrected records (``records_audit``): one row per changed field, old value kept.

Corrections (:func:`partner_analysis.records.checkins.correct_checkin`) update a
stored record in place and, in the same transaction, write here what the field
held before, what it holds now, who changed it and why. Values are kept as
text: dates as ``YYYY-MM-DD``, booleans as ``true``/``false``, an empty value
as an empty string.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

import pandas as pd
from sqlalchemy import insert, inspect, select

__all__ = ["AUDIT_COLUMNS", "audit_text", "write_audit", "read_audit"]

#: columns of :func:`read_audit` and of ``audit.csv``
AUDIT_COLUMNS = ("audit_id", "table_name", "record_id", "partner_id", "field", "old_value", "new_value", "editor",
                 "reason", "changed_at")


def audit_text(value: Any) -> str:
    """A stored value as the audit keeps it (text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_audit(conn, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert audit rows (``table_name``, ``record_id``, ``partner_id``, ``field``, ``old_value``,
    ``new_value``, ``editor``, ``reason``, ``changed_at``) on an open transaction; return how many."""
    from .tables import audit
    rows = [dict(r, old_value=audit_text(r["old_value"]), new_value=audit_text(r["new_value"])) for r in rows]
    if rows:
        conn.execute(insert(audit), rows)
    return len(rows)


def read_audit(store, *, partner_id: str | Iterable[str] | None = None) -> pd.DataFrame:
    """The audit trail as a frame, oldest change first.

    Parameters
    ----------
    store : Store
    partner_id : str or iterable of str, optional
        Only changes to records of these partners.

    Returns
    -------
    DataFrame
        Columns :data:`AUDIT_COLUMNS`; ``table_name`` is the store table
        (``records_checkins``, ``records_action_items``), ``record_id`` the
        check-in id or the action item's ``action_id``, ``changed_at`` UTC.
        Empty (with the columns) when nothing was corrected, also for a store
        opened read-only that predates the audit table.
    """
    from .tables import audit
    with store.engine.connect() as conn:
        if not inspect(conn).has_table(audit.name):
            rows = []
        else:
            stmt = select(*(audit.c[c] for c in AUDIT_COLUMNS)).order_by(audit.c.changed_at, audit.c.audit_id)
            if partner_id is not None:
                ids = [partner_id] if isinstance(partner_id, str) else list(partner_id)
                stmt = stmt.where(audit.c.partner_id.in_(ids))
            rows = conn.execute(stmt).mappings().all()
    frame = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
    for c in AUDIT_COLUMNS[1:-1]:
        frame[c] = frame[c].astype("string")
    frame["changed_at"] = pd.to_datetime(frame["changed_at"])
    return frame
