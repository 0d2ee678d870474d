"""Quarterly check-ins: who met, which goals they reviewed, what was shared, and the actions agreed.

A check-in is one row plus three child lists (attendees, goal reviews, action
items) written in one transaction. The flag functions work on tidy frames and
take an explicit ``as_of`` date so that they are reproducible in tests and
reports:

- :func:`checkin_status`: a term with no check-in is ``overdue`` once it has
  ended (``due`` while it runs, ``upcoming`` before it starts).
- :func:`open_actions`: action items not done; ``past_due`` when the due date
  is before ``as_of``.
- :func:`goals_at_risk`: goals reviewed as at risk (or off track) in two
  consecutive terms.

A stored check-in is corrected with :func:`correct_checkin`, which keeps the
old value of every changed field in the audit trail (:mod:`.audit`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Iterable, Mapping

import pandas as pd
from sqlalchemy import insert, select, update

from ..config import DistrictConfig
from ..exceptions import StoreError
from ..i18n import N_
from ._common import (PARTIES, Problem, RecordsContext, check_choice, check_partner, check_term, check_text,
                      is_missing, now_utc, parse_date, parse_timestamp, problem, raise_problems, term_order)

#: what the discussion fields are called in messages (English msgids)
_TEXT_WHAT = {"data_shared": N_("data shared"), "challenges": N_("challenges"), "adjustments": N_("adjustments")}

__all__ = ["GOAL_STATUSES", "STATUS_LABELS", "check_checkin", "add_checkin", "read_checkin_tables",
           "set_action_done", "checkin_status", "checkin_compliance", "open_actions", "goals_at_risk",
           "normalise_status", "latest_review_per_term", "write_checkin", "correct_checkin",
           "CORRECTABLE_CHECKIN_FIELDS", "CORRECTABLE_ACTION_FIELDS"]

GOAL_STATUSES = ("met", "on_track", "at_risk", "off_track")
STATUS_LABELS = {"met": "met", "on_track": "on track", "at_risk": "at risk", "off_track": "off track"}
_AT_RISK = ("at_risk", "off_track")


def normalise_status(value: Any) -> Any:
    """``"On track"``, ``"on-track"`` and ``"on_track"`` are the same status."""
    if is_missing(value):
        return value
    return str(value).strip().lower().replace(" ", "_").replace("-", "_")


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, pd.DataFrame):
        return value.to_dict("records")
    return list(value)


def check_checkin(checkin: Mapping[str, Any], ctx: RecordsContext, *,
                  goal_ids: Iterable[str] | None = None) -> tuple[dict, list[Problem]]:
    """Check one check-in with its attendees, goal reviews and action items.

    Parameters
    ----------
    checkin : mapping
        ``partner_id``, ``term``, ``date``, ``data_shared``, ``challenges``,
        ``adjustments``, ``entered_by`` and the lists ``attendees``
        (name, side, role), ``goal_reviews`` (goal_id, status, note) and
        ``action_items`` (description, owner, side, due_date, done).
    ctx : RecordsContext
    goal_ids : iterable of str, optional
        Goals of this partner; reviews of other goals are refused.

    Returns
    -------
    (dict, list of Problem)
        The cleaned check-in and every problem found; child problems name the
        column as ``attendees[2].side`` (1-based).
    """
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    out["partner_id"] = check_partner(checkin.get("partner_id"), ctx, problems)
    term = check_term(checkin.get("term"), ctx, problems)
    out["term"] = term
    day = parse_date(checkin.get("date"), "date", problems)
    if day is not None and term is not None:
        t = ctx.config.term(term)
        if not t.contains(day):
            found = ctx.config.term_for_date(day)
            problems.append(problem("date", checkin.get("date"),
                                    N_("date {day} is outside term {term} ({start} to {end})"),
                                    N_("Correct the date or the term (the date falls in {found})")
                                    if found is not None else
                                    N_("Correct the date or the term (the date falls in no configured term)"),
                                    day=day, term=term, start=t.start, end=t.end,
                                    found=getattr(found, "id", "")))
    out["date"] = day
    for col in ("data_shared", "challenges", "adjustments"):
        out[col] = check_text(checkin.get(col), col, problems, what=_TEXT_WHAT[col], required=False) or ""
    out["entered_by"] = check_text(checkin.get("entered_by"), "entered_by", problems, what=N_("who entered it"))
    out["entered_at"] = parse_timestamp(checkin.get("entered_at"), "entered_at", problems)
    if not is_missing(checkin.get("checkin_id")):
        out["checkin_id"] = str(checkin["checkin_id"]).strip()

    attendees, seen = [], set()
    for i, a in enumerate(_as_list(checkin.get("attendees")), start=1):
        p: list[Problem] = []
        name = check_text(a.get("name"), "name", p, what=N_("the attendee's name"))
        side = check_choice(a.get("side"), "side", PARTIES, p, what=N_("side"))
        role = check_text(a.get("role"), "role", p, what=N_("the attendee's role"), required=False) or ""
        if name is not None and name in seen:
            p.append(problem("name", name, N_("attendee {name!r} is listed twice"), N_("List each person once"),
                             name=name))
        seen.add(name)
        problems += [replace(q, column=f"attendees[{i}].{q.column}") for q in p]
        attendees.append({"name": name, "side": side, "role": role})
    out["attendees"] = attendees

    known_goals = None if goal_ids is None else set(map(str, goal_ids))
    reviews, seen = [], set()
    for i, r in enumerate(_as_list(checkin.get("goal_reviews")), start=1):
        p = []
        gid = check_text(r.get("goal_id"), "goal_id", p, what=N_("the goal id"))
        if gid is not None and known_goals is not None and gid not in known_goals:
            p.append(problem("goal_id", gid, N_("unknown goal {goal!r} for this partner"),
                             N_("Use one of {allowed}, or add the goal first"), goal=gid, allowed=sorted(known_goals)))
        if gid is not None and gid in seen:
            p.append(problem("goal_id", gid, N_("goal {goal!r} is reviewed twice"), N_("Review each goal once"),
                             goal=gid))
        seen.add(gid)
        status = check_choice(normalise_status(r.get("status")), "status", GOAL_STATUSES, p, what=N_("goal status"))
        note = check_text(r.get("note"), "note", p, what=N_("a note"), required=False) or ""
        problems += [replace(q, column=f"goal_reviews[{i}].{q.column}") for q in p]
        reviews.append({"goal_id": gid, "status": status, "note": note})
    out["goal_reviews"] = reviews

    actions = []
    for i, a in enumerate(_as_list(checkin.get("action_items")), start=1):
        p = []
        desc = check_text(a.get("description"), "description", p, what=N_("a description of the action"))
        owner = a.get("owner")
        if is_missing(owner):
            p.append(problem("owner", owner, N_("the action item has no owner"),
                             N_("Name the person responsible for the action")))
            owner = None
        else:
            owner = str(owner).strip()
        side = check_choice(a.get("side"), "side", PARTIES, p, what=N_("side"))
        due = parse_date(a.get("due_date"), "due_date", p)
        if due is not None and day is not None and due < day:
            p.append(problem("due_date", a.get("due_date"), N_("due date {due} is before the check-in ({day})"),
                             N_("Set a due date on or after the check-in"), due=due, day=day))
        done = a.get("done", False)
        done = False if is_missing(done) else str(done).strip().lower() in ("true", "1", "yes", "y", "done")
        done_date = parse_date(a.get("done_date"), "done_date", p, required=False)
        problems += [replace(q, column=f"action_items[{i}].{q.column}") for q in p]
        actions.append({"description": desc, "owner": owner, "side": side, "due_date": due, "done": done,
                        "done_date": done_date})
    out["action_items"] = actions
    return out, problems


def _goal_ids(conn, partner_id: str | None) -> list[str]:
    from .tables import goals
    if partner_id is None:
        return []
    return [r[0] for r in conn.execute(select(goals.c.goal_id).where(goals.c.partner_id == partner_id))]


def add_checkin(store, ctx: RecordsContext, **checkin: Any) -> str:
    """Validate a check-in with its child lists and write it in one transaction; return its ``checkin_id``.

    The id defaults to ``<partner_id>-<date>`` (``-2``, ``-3`` ... on the same day).

    Raises
    ------
    InputDataError
        Listing every problem (``.errors``); nothing is written.
    """
    with store.engine.connect() as conn:
        known = _goal_ids(conn, None if is_missing(checkin.get("partner_id")) else str(checkin["partner_id"]))
    clean, problems = check_checkin(checkin, ctx, goal_ids=known)
    raise_problems(problems, what="check-in")
    with store.transaction() as conn:
        return write_checkin(conn, clean)


def write_checkin(conn, clean: Mapping[str, Any]) -> str:
    """Insert a cleaned check-in (from :func:`check_checkin`) on an open transaction."""
    from .tables import action_items, checkin_attendees, checkin_goal_reviews, checkins
    cid = clean.get("checkin_id")
    if cid is None:
        base = f"{clean['partner_id']}-{clean['date'].isoformat()}"
        taken = {r[0] for r in conn.execute(select(checkins.c.checkin_id)
                                            .where(checkins.c.checkin_id.like(f"{base}%")))}
        cid, n = base, 1
        while cid in taken:
            n += 1
            cid = f"{base}-{n}"
    elif conn.execute(select(checkins.c.checkin_id).where(checkins.c.checkin_id == cid)).first() is not None:
        raise StoreError(f"check-in {cid!r} already exists; give a new checkin_id or leave it empty")
    row = {k: clean[k] for k in ("partner_id", "term", "date", "data_shared", "challenges", "adjustments",
                                 "entered_by", "entered_at")}
    conn.execute(insert(checkins).values(checkin_id=cid, **row))
    if clean["attendees"]:
        conn.execute(insert(checkin_attendees), [dict(a, checkin_id=cid) for a in clean["attendees"]])
    if clean["goal_reviews"]:
        conn.execute(insert(checkin_goal_reviews), [dict(r, checkin_id=cid) for r in clean["goal_reviews"]])
    if clean["action_items"]:
        conn.execute(insert(action_items), [dict(a, checkin_id=cid) for a in clean["action_items"]])
    return cid


_CHECKIN_COLUMNS = ["checkin_id", "partner_id", "term", "date", "data_shared", "challenges", "adjustments",
                    "entered_by", "entered_at"]


def read_checkin_tables(store, *, partner_id: str | Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """Check-ins and their children as tidy frames.

    Returns
    -------
    dict of DataFrame
        ``"checkins"`` (checkin_id, partner_id, term, date, data_shared, challenges,
        adjustments, entered_by, entered_at), ``"attendees"`` (checkin_id, name,
        side, role), ``"goal_reviews"`` (checkin_id, goal_id, status, note) and
        ``"action_items"`` (action_id, checkin_id, description, owner, side,
        due_date, done, done_date). Dates are ``datetime.date`` objects.
    """
    from .tables import action_items, checkin_attendees, checkin_goal_reviews, checkins
    ids = None if partner_id is None else ([partner_id] if isinstance(partner_id, str) else list(partner_id))
    out = {}
    with store.engine.connect() as conn:
        stmt = select(checkins).order_by(checkins.c.partner_id, checkins.c.date, checkins.c.checkin_id)
        if ids is not None:
            stmt = stmt.where(checkins.c.partner_id.in_(ids))
        out["checkins"] = pd.DataFrame(conn.execute(stmt).mappings().all(), columns=_CHECKIN_COLUMNS)
        cids = list(out["checkins"]["checkin_id"])
        for key, table, order in (("attendees", checkin_attendees, checkin_attendees.c.name),
                                  ("goal_reviews", checkin_goal_reviews, checkin_goal_reviews.c.goal_id),
                                  ("action_items", action_items, action_items.c.action_id)):
            stmt = select(table).order_by(table.c.checkin_id, order)
            if ids is not None:
                stmt = stmt.where(table.c.checkin_id.in_(cids))
            out[key] = pd.DataFrame(conn.execute(stmt).mappings().all(), columns=[c.name for c in table.columns])
    for frame in out.values():
        for col in frame.columns:
            if col in ("checkin_id", "partner_id", "term", "goal_id", "status", "side", "owner", "name", "role"):
                frame[col] = frame[col].astype("string")
    out["action_items"]["done"] = out["action_items"]["done"].astype(bool)
    return out


def set_action_done(store, action_id: int, *, done: bool = True, done_date: dt.date | None = None) -> None:
    """Mark an action item done (or not done again) in one transaction."""
    from .tables import action_items
    with store.transaction() as conn:
        result = conn.execute(update(action_items).where(action_items.c.action_id == int(action_id))
                              .values(done=bool(done), done_date=(done_date or dt.date.today()) if done else None))
        if result.rowcount == 0:
            raise StoreError(f"no action item with action_id {action_id}; list them with open_actions()")


# -- corrections ------------------------------------------------------------------------------------

#: fields of a stored check-in that :func:`correct_checkin` may change
CORRECTABLE_CHECKIN_FIELDS = ("term", "date", "data_shared", "challenges", "adjustments")
#: fields of its action items that :func:`correct_checkin` may change (``done_date`` follows ``done``)
CORRECTABLE_ACTION_FIELDS = ("done", "due_date", "owner")

_TRUE = ("true", "1", "yes", "y", "done")
_FALSE = ("false", "0", "no", "n", "not done", "")


def _strict_bool(value: Any, column: str, problems: list[Problem]) -> bool | None:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE and value is not None:
        return False
    problems.append(Problem(column, value, f"expected true or false, found {value!r}",
                            "Write true (done) or false (not done)"))
    return None


def _correction_input_errors(checkin_id: str, changes: Any, editor: Any, reason: Any) -> list[Problem]:
    problems: list[Problem] = []
    if is_missing(editor):
        problems.append(Problem("editor", editor, "the correction names no editor",
                                "Pass editor= with the name of the person making the correction"))
    if is_missing(reason):
        problems.append(Problem("reason", reason, "the correction gives no reason",
                                "Pass reason= saying why the stored value was wrong"))
    if not isinstance(changes, Mapping) or not changes:
        problems.append(Problem("changes", changes, "no changes were given",
                                f"Pass a dict such as {{'challenges': '...'}} or {{'action_items': {{12: "
                                f"{{'done': True}}}}}}; fields: {list(CORRECTABLE_CHECKIN_FIELDS)}"))
        return problems
    for key, value in changes.items():
        if key == "action_items":
            if not isinstance(value, Mapping) or not value:
                problems.append(Problem("action_items", value, "action item changes must map action_id to a dict",
                                        "Write {'action_items': {12: {'done': True}}} (ids from "
                                        "read_checkin_tables()['action_items'])"))
                continue
            for aid, sub in value.items():
                if not isinstance(sub, Mapping) or not sub:
                    problems.append(Problem(f"action_items[{aid}]", sub, "no changes for this action item",
                                            f"Give a dict of {list(CORRECTABLE_ACTION_FIELDS)}"))
                    continue
                for f in sub:
                    if f not in CORRECTABLE_ACTION_FIELDS:
                        problems.append(Problem(f"action_items[{aid}].{f}", sub[f],
                                                f"action item field {f!r} cannot be corrected",
                                                f"Correct one of {list(CORRECTABLE_ACTION_FIELDS)}; to reword an "
                                                "action, mark it done and add a new one at the next check-in"))
        elif key not in CORRECTABLE_CHECKIN_FIELDS:
            why = ("is fixed once stored; delete and re-enter the check-in"
                   if key in ("checkin_id", "partner_id", "entered_by", "entered_at") else "is not a check-in field")
            problems.append(Problem(str(key), value, f"field {key!r} {why}",
                                    f"Correct one of {list(CORRECTABLE_CHECKIN_FIELDS)} or "
                                    f"'action_items' ({list(CORRECTABLE_ACTION_FIELDS)})"))
    return problems


def correct_checkin(store, checkin_id: str, changes: Mapping[str, Any], *, editor: str, reason: str,
                    ctx: RecordsContext | None = None) -> pd.DataFrame:
    """Correct a stored check-in and its action items in one transaction, auditing every changed field.

    Parameters
    ----------
    store : Store
    checkin_id : str
        The check-in to correct (its id stays the same, also when its date changes).
    changes : dict
        New values of the check-in's own fields (:data:`CORRECTABLE_CHECKIN_FIELDS`) and, under
        ``"action_items"``, a dict ``{action_id: {field: value}}`` for its action items
        (:data:`CORRECTABLE_ACTION_FIELDS`). Marking an item done sets its ``done_date`` to today; marking
        it not done clears it.
    editor : str
        Who makes the correction.
    reason : str
        Why the stored value was wrong.
    ctx : RecordsContext, optional
        What the corrected check-in is checked against; default: the embedded configuration and the
        store's partnerships (pass the session's context to use the district's own ``district.yml``).

    Returns
    -------
    DataFrame
        The audit rows written (``table_name``, ``record_id``, ``partner_id``, ``field``, ``old_value``,
        ``new_value``, ``editor``, ``reason``, ``changed_at``); empty when every value was already as given.

    Raises
    ------
    InputDataError
        Unknown fields, an empty editor or reason, or corrected values that fail the checks of entry (a
        date outside the term, a due date before the check-in, an empty owner, ...); nothing is written.
    StoreError
        No such check-in, or an action item that is not one of its items.
    """
    from .audit import write_audit
    from .tables import action_items, checkin_attendees, checkin_goal_reviews, checkins
    problems = _correction_input_errors(checkin_id, changes, editor, reason)
    raise_problems(problems, row=str(checkin_id), what=f"correction of check-in {checkin_id!r}")
    if ctx is None:
        from ..config import load_config
        from ._common import records_context
        ctx = records_context(store, load_config(None))
    editor, reason = str(editor).strip(), str(reason).strip()
    when = now_utc()
    with store.transaction() as conn:
        row = conn.execute(select(checkins).where(checkins.c.checkin_id == str(checkin_id))).mappings().first()
        if row is None:
            raise StoreError(f"no check-in with checkin_id {checkin_id!r}; list them with "
                             "read_checkin_tables()['checkins']")
        row = dict(row)
        attendees = [dict(r) for r in conn.execute(select(checkin_attendees).where(
            checkin_attendees.c.checkin_id == row["checkin_id"]).order_by(checkin_attendees.c.name)).mappings()]
        reviews = [dict(r) for r in conn.execute(select(checkin_goal_reviews).where(
            checkin_goal_reviews.c.checkin_id == row["checkin_id"])).mappings()]
        actions = [dict(r) for r in conn.execute(select(action_items).where(
            action_items.c.checkin_id == row["checkin_id"]).order_by(action_items.c.action_id)).mappings()]
        by_id = {a["action_id"]: a for a in actions}
        action_changes: dict[int, dict] = {}
        for aid, sub in (changes.get("action_items") or {}).items():
            try:
                key = int(aid)
            except (TypeError, ValueError):
                key = None
            if key not in by_id:
                raise StoreError(f"action item {aid!r} is not an action item of check-in {row['checkin_id']!r} "
                                 f"(its action_ids: {sorted(by_id)}); correct it through its own check-in")
            action_changes[key] = dict(sub)

        merged = {k: row[k] for k in ("partner_id", "term", "date", "data_shared", "challenges", "adjustments",
                                      "entered_by", "entered_at")}
        merged.update({k: v for k, v in changes.items() if k in CORRECTABLE_CHECKIN_FIELDS})
        merged["attendees"] = attendees
        merged["goal_reviews"] = reviews
        merged["action_items"] = []
        order = []
        for a in actions:
            item = dict(a)
            for f, v in action_changes.get(a["action_id"], {}).items():
                if f == "done":
                    v = _strict_bool(v, f"action_items[{a['action_id']}].done", problems)
                    if v is None:
                        continue
                item[f] = v
            merged["action_items"].append(item)
            order.append(a["action_id"])
        clean, found = check_checkin(merged, ctx, goal_ids=_goal_ids(conn, row["partner_id"]))
        for p in found:
            column = p.column
            if column.startswith("action_items["):
                i = int(column[len("action_items["):column.index("]")])
                column = f"action_items[{order[i - 1]}]" + column[column.index("]") + 1:]
            problems.append(Problem(column, p.value, p.problem, p.fix))
        raise_problems(problems, row=row["checkin_id"], what=f"correction of check-in {row['checkin_id']!r}")

        audit_rows = []

        def note(table, record_id, field, old, new):
            audit_rows.append({"table_name": table.name, "record_id": str(record_id),
                               "partner_id": row["partner_id"], "field": field, "old_value": old,
                               "new_value": new, "editor": editor, "reason": reason, "changed_at": when})

        new_values = {}
        for f in CORRECTABLE_CHECKIN_FIELDS:
            if f in changes and clean[f] != row[f]:
                new_values[f] = clean[f]
                note(checkins, row["checkin_id"], f, row[f], clean[f])
        if new_values:
            conn.execute(update(checkins).where(checkins.c.checkin_id == row["checkin_id"]).values(**new_values))
        for aid, new in zip(order, clean["action_items"]):
            if aid not in action_changes:
                continue
            old = by_id[aid]
            values = {}
            for f in CORRECTABLE_ACTION_FIELDS:
                if f in action_changes[aid] and new[f] != old[f]:
                    values[f] = new[f]
                    note(action_items, aid, f, old[f], new[f])
            if "done" in values:
                values["done_date"] = dt.date.today() if values["done"] else None
                if values["done_date"] != old["done_date"]:
                    note(action_items, aid, "done_date", old["done_date"], values["done_date"])
            if values:
                conn.execute(update(action_items).where(action_items.c.action_id == aid).values(**values))
        write_audit(conn, audit_rows)
    from .audit import AUDIT_COLUMNS, audit_text
    out = pd.DataFrame([dict(r, old_value=audit_text(r["old_value"]), new_value=audit_text(r["new_value"]))
                        for r in audit_rows], columns=list(AUDIT_COLUMNS[1:]))
    return out


# -- flags ------------------------------------------------------------------------------------------

def _as_date(value) -> dt.date:
    return pd.Timestamp(value).date()


def checkin_status(checkins: pd.DataFrame, config: DistrictConfig, *, as_of: dt.date,
                   partners: Iterable[str] | None = None, terms: Iterable[str] | None = None) -> pd.DataFrame:
    """Whether each partner held a check-in in each term.

    Parameters
    ----------
    checkins : DataFrame
        ``partner_id``, ``term``, ``date`` (from :func:`read_checkin_tables`).
    config : DistrictConfig
    as_of : date
        The day the status is judged on.
    partners : iterable of str, optional
        Default: partners present in ``checkins``.
    terms : iterable of str, optional
        Default: every configured term that has started by ``as_of``.

    Returns
    -------
    DataFrame
        One row per partner × term: ``partner_id``, ``term``, ``held`` (bool),
        ``n_checkins``, ``last_date``, ``status`` — ``"held"``; ``"overdue"``
        (term ended with no check-in); ``"due"`` (term in progress, none yet);
        ``"upcoming"`` (term not started).
    """
    as_of = _as_date(as_of)
    if partners is None:
        partners = sorted(checkins["partner_id"].dropna().astype(str).unique())
    if terms is None:
        terms = [t for t in term_order(config) if config.term(t).start <= as_of]
    rows = []
    c = checkins.assign(partner_id=checkins["partner_id"].astype(str), term=checkins["term"].astype(str))
    c = c[pd.to_datetime(c["date"]).dt.date <= as_of] if len(c) else c
    grouped = {k: g for k, g in c.groupby(["partner_id", "term"])} if len(c) else {}
    for pid in partners:
        for tid in terms:
            t = config.term(tid)
            g = grouped.get((str(pid), tid))
            n = 0 if g is None else len(g)
            if n:
                status = "held"
            elif as_of > t.end:
                status = "overdue"
            elif as_of >= t.start:
                status = "due"
            else:
                status = "upcoming"
            rows.append({"partner_id": str(pid), "term": tid, "held": n > 0, "n_checkins": n,
                         "last_date": None if not n else max(_as_date(d) for d in g["date"]), "status": status})
    return pd.DataFrame(rows, columns=["partner_id", "term", "held", "n_checkins", "last_date", "status"])


def checkin_compliance(status: pd.DataFrame) -> pd.DataFrame:
    """Share of ended (or held) terms with a check-in, per partner.

    Returns
    -------
    DataFrame
        ``partner_id``, ``terms_due`` (terms held or overdue), ``terms_held``,
        ``terms_overdue``, ``compliance`` (held / due; NaN when nothing was due).
    """
    s = status[status["status"].isin(["held", "overdue"])]
    out = (status[["partner_id"]].drop_duplicates()
           .merge(s.groupby("partner_id").agg(terms_due=("status", "size"),
                                              terms_held=("held", "sum")).reset_index(), how="left"))
    out["terms_due"] = out["terms_due"].fillna(0).astype("int64")
    out["terms_held"] = out["terms_held"].fillna(0).astype("int64")
    out["terms_overdue"] = out["terms_due"] - out["terms_held"]
    out["compliance"] = out["terms_held"] / out["terms_due"].where(out["terms_due"] > 0)
    return out.reset_index(drop=True)


def open_actions(actions: pd.DataFrame, checkins: pd.DataFrame, *, as_of: dt.date,
                 partner_id: str | None = None) -> pd.DataFrame:
    """Action items not yet done, with a past-due flag.

    Returns
    -------
    DataFrame
        ``action_id``, ``partner_id``, ``checkin_id``, ``checkin_date``,
        ``description``, ``owner``, ``side``, ``due_date``, ``days_past_due``
        (0 when not yet due), ``past_due`` (due date before ``as_of``); sorted
        with the most overdue first.
    """
    as_of = _as_date(as_of)
    cols = ["action_id", "partner_id", "checkin_id", "checkin_date", "description", "owner", "side", "due_date",
            "days_past_due", "past_due"]
    a = actions[~actions["done"].astype(bool)] if len(actions) else actions
    if not len(a):
        return pd.DataFrame(columns=cols)
    link = checkins[["checkin_id", "partner_id", "date"]].rename(columns={"date": "checkin_date"})
    a = a.merge(link, on="checkin_id", how="left")
    a = a[pd.to_datetime(a["checkin_date"]).dt.date <= as_of]
    if partner_id is not None:
        a = a[a["partner_id"].astype(str) == str(partner_id)]
    due = pd.to_datetime(a["due_date"]).dt.date
    a = a.assign(due_date=due, days_past_due=[max((as_of - d).days, 0) for d in due])
    a["past_due"] = a["days_past_due"] > 0
    return a.sort_values(["days_past_due", "due_date"], ascending=[False, True])[cols].reset_index(drop=True)


def goals_at_risk(reviews: pd.DataFrame, checkins: pd.DataFrame, config: DistrictConfig) -> pd.DataFrame:
    """Goals reviewed as at risk (or off track) in two consecutive terms.

    The status of a goal in a term is its review at the term's last check-in.
    "Consecutive" follows the configured term order; a term with no review in
    between breaks the run, since nobody looked.

    Returns
    -------
    DataFrame
        One row per goal and flagged term: ``goal_id``, ``partner_id``,
        ``previous_term``, ``term``, ``previous_status``, ``status``.
    """
    cols = ["goal_id", "partner_id", "previous_term", "term", "previous_status", "status"]
    if not len(reviews):
        return pd.DataFrame(columns=cols)
    latest = latest_review_per_term(reviews, checkins, config)
    rows = []
    for gid, g in latest.groupby("goal_id"):
        g = g.sort_values("term_rank")
        prev = None
        for r in g.itertuples():
            if (prev is not None and r.term_rank == prev.term_rank + 1 and r.status in _AT_RISK
                    and prev.status in _AT_RISK):
                rows.append({"goal_id": gid, "partner_id": r.partner_id, "previous_term": prev.term, "term": r.term,
                             "previous_status": prev.status, "status": r.status})
            prev = r
    return pd.DataFrame(rows, columns=cols)


def latest_review_per_term(reviews: pd.DataFrame, checkins: pd.DataFrame, config: DistrictConfig) -> pd.DataFrame:
    """Each goal's status at the last check-in of each term (goal_id, partner_id, term, term_rank, date, status, note)."""
    rank = {t: i for i, t in enumerate(term_order(config))}
    r = reviews.merge(checkins[["checkin_id", "partner_id", "term", "date"]], on="checkin_id", how="inner")
    r = r.assign(term_rank=r["term"].map(rank), date=pd.to_datetime(r["date"]))
    r = r.sort_values(["goal_id", "term_rank", "date", "checkin_id"]).groupby(["goal_id", "term"]).tail(1)
    return r[["goal_id", "partner_id", "term", "term_rank", "date", "status", "note"]].reset_index(drop=True)
