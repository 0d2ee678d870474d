"""Action items the partner board proposes for a partner's next check-in.

A concern on the board (e.g. chronic absence of the partner's participants
beyond the district's alert level; see :mod:`partner_analysis.report.status`)
becomes a proposed action. Proposals wait in the records store's
``records_drafts`` table (kind ``proposed_actions``, one row per partner; no
schema change) until the next check-in: the check-in form opens with them in
its empty action-item slots, the people at the meeting add owner, side and due
date, and submitting the check-in turns them into ordinary action items and
removes them from the proposals.

Deduplication: each proposal has a stable ``key`` (partner, term, KPI); a key
already proposed is never added again, so a re-run of the reports proposes
nothing twice, and a proposal already taken into a check-in (or dismissed) is
remembered as done and not proposed again.
"""
from __future__ import annotations

import json
from typing import Iterable, Mapping

from sqlalchemy import delete, select

from ._common import now_utc

__all__ = ["propose_actions", "read_proposals", "settle_proposals", "PROPOSALS_KIND"]

PROPOSALS_KIND = "proposed_actions"


def _key(partner_id: str) -> str:
    return f"{PROPOSALS_KIND}:{partner_id}:board"


def _read(conn, partner_id: str) -> dict:
    from .tables import drafts
    row = conn.execute(select(drafts.c.answers).where(drafts.c.draft_key == _key(partner_id))).first()
    return {"open": {}, "done": []} if row is None else json.loads(row[0])


def _write(conn, partner_id: str, state: dict) -> None:
    from .tables import drafts
    conn.execute(delete(drafts).where(drafts.c.draft_key == _key(partner_id)))
    conn.execute(drafts.insert().values(draft_key=_key(partner_id), kind=PROPOSALS_KIND, answers=json.dumps(state),
                                        updated_at=now_utc()))


def propose_actions(store, proposals: Iterable[Mapping[str, str]]) -> int:
    """Store proposals (dicts with ``key``, ``partner_id``, ``description``, optional ``kpi_id``, ``term``,
    ``reasons``); return how many were new. Keys already open or done are skipped."""
    added = 0
    by_partner: dict[str, list[Mapping[str, str]]] = {}
    for p in proposals:
        by_partner.setdefault(str(p["partner_id"]), []).append(p)
    with store.transaction() as conn:
        for pid, items in by_partner.items():
            state = _read(conn, pid)
            changed = False
            for p in items:
                if p["key"] in state["open"] or p["key"] in state["done"]:
                    continue
                state["open"][p["key"]] = {k: str(p.get(k) or "") for k in ("description", "kpi_id", "term",
                                                                            "reasons")}
                added += 1
                changed = True
            if changed:
                _write(conn, pid, state)
    return added


def read_proposals(store, *, partner_id: str) -> dict[str, dict]:
    """The open proposals of a partner, ``{key: {description, kpi_id, term, reasons}}``, oldest first."""
    with store.engine.connect() as conn:
        return dict(_read(conn, str(partner_id))["open"])


def settle_proposals(conn, partner_id: str, descriptions: Iterable[str]) -> None:
    """Mark as done the open proposals whose description was taken into a check-in (inside its transaction)."""
    taken = {str(d).strip() for d in descriptions if d}
    state = _read(conn, str(partner_id))
    done = [k for k, v in state["open"].items() if v["description"].strip() in taken]
    if not done:
        return
    for k in done:
        state["open"].pop(k)
        state["done"].append(k)
    _write(conn, str(partner_id), state)
