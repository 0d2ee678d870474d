"""Response tracking: where each invitation stands, and response rates per partnership and side.

An invitation is, in this order of precedence:

``revoked``
    withdrawn (``invite revoke``);
``submitted``
    its respondent submitted the survey in the invitation's wave (records invitations never are);
``expired``
    past its expiry without a submission;
``started``
    the link was opened, or a draft holds answers;
``invited``
    nothing yet.

:func:`response_rates` is the tidy table the district board shows: one row per partnership and side.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from ..fit.tables import response_sets
from ..store import Store
from .tables import invitation_partners, invitations

__all__ = ["invitation_status", "response_rates", "STATUSES", "RATE_COLUMNS"]

STATUSES = ("invited", "started", "submitted", "expired", "revoked")
#: columns of :func:`response_rates`
RATE_COLUMNS = ["wave", "partner_id", "role", "invited", "started", "submitted", "response_rate"]

_COLUMNS = ["invitation_id", "form", "role", "partners", "wave", "email", "name", "lang", "status", "created_at",
            "expires_at", "opened_at", "sent_at", "reminders"]


def _utc(value):
    if value is None or pd.isna(value):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def invitation_status(store: Store, *, form: str | None = None, wave: str | None = None,
                      now: dt.datetime | None = None) -> pd.DataFrame:
    """Every invitation (optionally of one form and wave) with its status; no token or hash.

    Returns
    -------
    DataFrame
        invitation_id, form, role, partners (``;``-joined ids), wave, email, name, lang, status, created_at,
        expires_at, opened_at, sent_at, reminders; ordered by invitation_id.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    cols = [c for c in invitations.columns if c.name != "token_hash"]
    query = sa.select(*cols).order_by(invitations.c.invitation_id)
    if form is not None:
        query = query.where(invitations.c.form == form)
    if wave is not None:
        query = query.where(invitations.c.wave == wave)
    with store.errors("read"), store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
        scope: dict[int, list[str]] = {}
        for inv_id, pid in conn.execute(sa.select(invitation_partners.c.invitation_id,
                                                  invitation_partners.c.partner_id)
                                        .order_by(invitation_partners.c.partner_id)):
            scope.setdefault(int(inv_id), []).append(pid)
        answered: dict[tuple[str, str, str, str], str] = {}
        for respondent, pid, role, rwave, status in conn.execute(
                sa.select(response_sets.c.respondent, response_sets.c.partner_id, response_sets.c.role,
                          response_sets.c.wave, response_sets.c.status)
                .where(response_sets.c.respondent.like("invitation-%"))):
            key = (respondent, pid, role, rwave)
            if answered.get(key) != "submitted":
                answered[key] = status
    out = []
    for r in rows:
        ids = scope.get(int(r["invitation_id"]), [])
        response = None
        if r["form"] == "survey" and ids:
            response = answered.get((f"invitation-{r['invitation_id']}", ids[0], r["role"], r["wave"]))
        if r["revoked_at"] is not None:
            status = "revoked"
        elif response == "submitted":
            status = "submitted"
        elif _utc(r["expires_at"]) <= now:
            status = "expired"
        elif response == "draft" or r["opened_at"] is not None:
            status = "started"
        else:
            status = "invited"
        out.append({**{k: r[k] for k in _COLUMNS if k in r}, "partners": ";".join(ids), "status": status})
    frame = pd.DataFrame(out, columns=_COLUMNS)
    for c in ("created_at", "expires_at", "opened_at", "sent_at"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def response_rates(store: Store, *, wave: str | None = None, now: dt.datetime | None = None) -> pd.DataFrame:
    """Survey response rates per wave, partnership and side (the district board's table).

    Revoked invitations are left out. ``started`` counts invitations opened or with a draft (submitted ones
    included: everyone who submitted also started); ``response_rate`` is submitted / invited.

    Returns
    -------
    DataFrame
        wave, partner_id, role, invited, started, submitted, response_rate; one row per wave, partnership and
        role that has an invitation, sorted.
    """
    frame = invitation_status(store, form="survey", wave=wave, now=now)
    frame = frame[frame["status"] != "revoked"]
    if frame.empty:
        return pd.DataFrame(columns=RATE_COLUMNS).astype({"invited": int, "started": int, "submitted": int,
                                                          "response_rate": float})
    frame = frame.assign(partner_id=frame["partners"],
                         started=frame["status"].isin(["started", "submitted"]).astype(int),
                         submitted=(frame["status"] == "submitted").astype(int))
    out = (frame.groupby(["wave", "partner_id", "role"], sort=True)
           .agg(invited=("invitation_id", "size"), started=("started", "sum"), submitted=("submitted", "sum"))
           .reset_index())
    out["response_rate"] = out["submitted"] / out["invited"]
    return out[RATE_COLUMNS]
