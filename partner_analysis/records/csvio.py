"""CSV import and export of partnership records.

A records folder holds up to six CSV files (any subset may be present)::

    investments.csv            partner_id, term, party, category, amount, unit, role, description,
                               entered_by, entered_at
    goals.csv                  goal_id, partner_id, description, kpi_id, population, baseline, target,
                               start_term, due_term, entered_by, entered_at, owner (optional)
    checkins.csv               checkin_id, partner_id, term, date, data_shared, challenges, adjustments,
                               entered_by, entered_at
    checkin_attendees.csv      checkin_id, name, side, role
    checkin_goal_reviews.csv   checkin_id, goal_id, status, note
    action_items.csv           checkin_id, description, owner, side, due_date, done, done_date

Import checks every row of every file first and writes nothing when anything
is wrong; the error lists every problem with its file, row (the header is
row 1), column, value and the fix. A valid import is one transaction.
Export writes the same files, so an export imports into an empty store
unchanged (text cells that a spreadsheet would read as a formula, starting with
``= + - @``, tab or CR, are written with a leading ``'``, which import removes:
:mod:`partner_analysis.csvcells` states the exact, reversible rule), plus ``audit.csv`` (the corrections of stored records, one row per
changed field with its old and new value: :data:`~.audit.AUDIT_COLUMNS`),
which an import does not read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
from sqlalchemy import insert, select

from .._paths import safe_child
from ..config import DistrictConfig
from ..csvcells import restore_frame, write_csv
from ..csvread import read_csv_strings
from ..exceptions import InputDataError
from ._common import Problem, is_missing, raise_errors
from .checkins import check_checkin, read_checkin_tables, write_checkin
from .goals import check_goal, read_goals, write_goal
from .investments import check_investment, read_investments

__all__ = ["FILES", "AUDIT_FILE", "COLUMNS", "ImportResult", "import_records", "export_records", "read_records_csv"]

FILES: Mapping[str, str] = {
    "investments": "investments.csv",
    "goals": "goals.csv",
    "checkins": "checkins.csv",
    "attendees": "checkin_attendees.csv",
    "goal_reviews": "checkin_goal_reviews.csv",
    "action_items": "action_items.csv",
}

COLUMNS: Mapping[str, tuple[str, ...]] = {
    "investments": ("partner_id", "term", "party", "category", "amount", "unit", "role", "description",
                    "entered_by", "entered_at"),
    "goals": ("goal_id", "partner_id", "description", "kpi_id", "population", "baseline", "target", "start_term",
              "due_term", "entered_by", "entered_at", "owner"),
    "checkins": ("checkin_id", "partner_id", "term", "date", "data_shared", "challenges", "adjustments",
                 "entered_by", "entered_at"),
    "attendees": ("checkin_id", "name", "side", "role"),
    "goal_reviews": ("checkin_id", "goal_id", "status", "note"),
    "action_items": ("checkin_id", "description", "owner", "side", "due_date", "done", "done_date"),
}
#: the audit trail an export writes next to :data:`FILES` (never imported)
AUDIT_FILE = "audit.csv"

#: columns an export adds that an import ignores (the store assigns them)
_IGNORED = {"investments": ("entry_id",), "action_items": ("action_id",)}
_REQUIRED = {
    "investments": ("partner_id", "term", "party", "category", "amount", "entered_by"),
    "goals": ("partner_id", "description", "due_term", "entered_by"),
    "checkins": ("partner_id", "term", "date", "entered_by"),
    "attendees": ("checkin_id", "name", "side"),
    "goal_reviews": ("checkin_id", "goal_id", "status"),
    "action_items": ("checkin_id", "description", "owner", "side", "due_date"),
}
_CHILD = {"attendees": "attendees", "goal_reviews": "goal_reviews", "action_items": "action_items"}


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote: rows per kind, and the ids given to new check-ins and goals."""

    counts: Mapping[str, int]
    checkin_ids: tuple[str, ...] = ()
    goal_ids: tuple[str, ...] = ()

    def report(self) -> str:
        parts = [f"{n} {kind.replace('_', ' ')}" for kind, n in self.counts.items() if n]
        return "imported " + (", ".join(parts) if parts else "nothing (no rows)")


def _kind_of(path: Path) -> str | None:
    for kind, name in FILES.items():
        if path.name == name:
            return kind
    return None


def read_records_csv(path: str | Path, kind: str) -> pd.DataFrame:
    """Read one records CSV as strings (ids keep leading zeros), checking its header.

    Raises
    ------
    InputDataError
        File missing or unreadable, a required column missing, or an unknown column.
    """
    path = Path(path)
    if kind not in FILES:
        raise InputDataError(f"unknown records file kind {kind!r}", path=path, fix=f"Use one of {list(FILES)}")
    # 0 bytes, a repeated header, a line that is not UTF-8: each named by csvread, with its row
    frame = restore_frame(read_csv_strings(path, fix=f"Save {path.name} as UTF-8 CSV with a header row"))
    frame.columns = [str(c).strip() for c in frame.columns]
    errors = []
    for col in _REQUIRED[kind]:
        if col not in frame.columns:
            errors.append(InputDataError(f"required column '{col}' is missing", path=path, row=1, column=col,
                                         fix=f"Add the column; {FILES[kind]} has columns {list(COLUMNS[kind])}"))
    for col in frame.columns:
        if col not in COLUMNS[kind] and col not in _IGNORED.get(kind, ()):
            errors.append(InputDataError(f"unknown column '{col}'", path=path, row=1, column=col, value=col,
                                         fix=f"Rename or remove it; {FILES[kind]} has columns {list(COLUMNS[kind])}"))
    raise_errors(errors, what=f"header of {path.name}")
    for col in COLUMNS[kind]:
        if col not in frame.columns:
            frame[col] = ""
    return frame[list(COLUMNS[kind])]


def _rows(frame: pd.DataFrame) -> list[tuple[int, dict]]:
    return [(i + 2, {k: (None if is_missing(v) else v) for k, v in r.items()})
            for i, r in enumerate(frame.to_dict("records"))]


_CHILD_COL = re.compile(r"^(attendees|goal_reviews|action_items)\[(\d+)\]\.(.+)$")


def _inv_key(r: Mapping[str, Any]) -> tuple:
    role = r.get("role")
    return (str(r["partner_id"]), str(r["term"]), str(r["party"]), str(r["category"]), round(float(r["amount"]), 6),
            str(r["unit"]), "" if is_missing(role) else str(role), str(r.get("description") or ""))


def import_records(path: str | Path, store, config: DistrictConfig, *, partners: Iterable[str] | None = None,
                   kind: str | None = None, kpi_ids: Iterable[str] | None = None) -> ImportResult:
    """Validate a records folder (or one CSV file) completely, then write it in one transaction.

    Parameters
    ----------
    path : path
        A folder holding any of :data:`FILES`, or one such file.
    store : Store
    config : DistrictConfig
    partners : iterable of str, optional
        Known partner ids (default: the store's partnerships, if any).
    kind : str, optional
        The kind of a single file whose name is not the standard one.
    kpi_ids : iterable of str, optional
        KPI ids goals may name (default: the installed KPI catalog, whose units also set the scale of
        baselines and targets: proportions 0-1).

    Returns
    -------
    ImportResult

    Raises
    ------
    InputDataError
        Listing every problem in every file (``.errors``); nothing is written.
    """
    from ._common import records_context
    from .goals import catalog_kpi_ids, catalog_kpi_units
    path = Path(path)
    kpi_units = catalog_kpi_units()
    ctx = records_context(store, config, partners)
    if kpi_ids is None:
        kpi_ids = catalog_kpi_ids()
    if path.is_dir():
        files = {k: path / n for k, n in FILES.items() if (path / n).exists()}
        if not files:
            raise InputDataError("no records CSV files found", path=path,
                                 fix=f"Put one or more of {list(FILES.values())} in the folder")
    else:
        if not path.exists():
            raise InputDataError("file not found", path=path, fix="Check the path (a records folder or one CSV file)")
        k = kind or _kind_of(path)
        if k is None:
            raise InputDataError("cannot tell what kind of records the file holds", path=path,
                                 fix=f"Name it one of {list(FILES.values())} or pass --kind")
        files = {k: path}
    header_errors, frames = [], {}
    for k, p in files.items():
        try:
            frames[k] = read_records_csv(p, k)
        except InputDataError as err:
            header_errors += getattr(err, "errors", [err])
    raise_errors(header_errors, what="records files")

    errors: list[InputDataError] = []

    def add(problems: list[Problem], p: Path, row: int):
        errors.extend(q.to_error(path=p, row=row) for q in problems)

    # goals first: check-in reviews may name goals of this import
    goals_clean = []
    with store.engine.connect() as conn:
        from .tables import checkins as t_checkins, goals as t_goals
        stored_goals = {(r[0], r[1]) for r in conn.execute(select(t_goals.c.goal_id, t_goals.c.partner_id))}
        stored_checkins = {r[0] for r in conn.execute(select(t_checkins.c.checkin_id))}
    stored_goal_ids = {g for g, _ in stored_goals}
    seen_goals: set[str] = set()
    for row, rec in _rows(frames.get("goals", pd.DataFrame())):
        clean, problems = check_goal(rec, ctx, kpi_ids=kpi_ids, kpi_units=kpi_units)
        gid = clean.get("goal_id")
        if gid is not None and (gid in stored_goal_ids or gid in seen_goals):
            problems.append(Problem("goal_id", gid, f"goal {gid!r} already exists",
                                    "Give each goal a new goal_id, or leave it empty to number it automatically"))
        seen_goals.add(gid)
        add(problems, files["goals"], row)
        goals_clean.append(clean)
    goals_by_partner: dict[str, set[str]] = {}
    for g, p in stored_goals:
        goals_by_partner.setdefault(str(p), set()).add(str(g))
    for g in goals_clean:
        if g.get("goal_id") and g.get("partner_id"):
            goals_by_partner.setdefault(g["partner_id"], set()).add(g["goal_id"])

    inv_clean = []
    stored_inv = set()
    if "investments" in frames:
        have = read_investments(store)
        stored_inv = {_inv_key(r) for r in have.to_dict("records")}
    for row, rec in _rows(frames.get("investments", pd.DataFrame())):
        clean, problems = check_investment(rec, ctx)
        if not problems and _inv_key(clean) in stored_inv:
            problems.append(Problem("amount", rec.get("amount"),
                                    "the same entry (partner, term, party, category, amount, unit, role, "
                                    "description) is already in the ledger",
                                    "Remove the row if the file was imported before; if it is a second, separate "
                                    "contribution, say so in its description"))
        add(problems, files["investments"], row)
        inv_clean.append(clean)

    checkin_rows: dict[str, tuple[int, dict]] = {}
    checkins_anon: list[tuple[int, dict]] = []
    for row, rec in _rows(frames.get("checkins", pd.DataFrame())):
        cid = rec.get("checkin_id")
        if cid is None:
            checkins_anon.append((row, rec))
            continue
        cid = str(cid).strip()
        if cid in stored_checkins or cid in checkin_rows:
            # reported once here; its attendees and actions still attach to it, so they add no noise
            errors.append(InputDataError(f"check-in {cid!r} already exists", path=files["checkins"], row=row,
                                         column="checkin_id", value=cid,
                                         fix="Give the check-in a new checkin_id; to correct a stored check-in, "
                                             "edit it in the form"))
            if cid in checkin_rows:
                continue
        checkin_rows[cid] = (row, dict(rec, attendees=[], goal_reviews=[], action_items=[]))
    child_rows: dict[tuple[str, str], list[int]] = {}
    for k in _CHILD:
        for row, rec in _rows(frames.get(k, pd.DataFrame())):
            cid = None if rec.get("checkin_id") is None else str(rec["checkin_id"]).strip()
            if cid is None or cid not in checkin_rows:
                errors.append(InputDataError(
                    f"check-in {cid!r} is not in {FILES['checkins']} of this import" if cid else
                    "the row names no check-in", path=files[k], row=row, column="checkin_id", value=cid,
                    fix="Import attendees, goal reviews and action items together with their check-in "
                        "(same checkin_id in checkins.csv)"))
                continue
            checkin_rows[cid][1][k].append(rec)
            child_rows.setdefault((cid, k), []).append(row)
    checkins_clean = []
    for cid, (row, rec) in list(checkin_rows.items()) + [(None, x) for x in checkins_anon]:
        pid = None if rec.get("partner_id") is None else str(rec["partner_id"]).strip()
        clean, problems = check_checkin(rec, ctx, goal_ids=goals_by_partner.get(pid, set()))
        for q in problems:
            m = _CHILD_COL.match(q.column)
            if m:
                k, i, col = m.group(1), int(m.group(2)), m.group(3)
                errors.append(Problem(col, q.value, q.problem, q.fix).to_error(
                    path=files[k], row=child_rows[(cid, k)][i - 1]))
            else:
                errors.append(q.to_error(path=files["checkins"], row=row))
        checkins_clean.append(clean)

    raise_errors(errors, what="records import")

    from .tables import investments as t_inv
    with store.transaction() as conn:
        goal_ids = tuple(write_goal(conn, g) for g in goals_clean)
        checkin_ids = tuple(write_checkin(conn, c) for c in checkins_clean)
        if inv_clean:
            conn.execute(insert(t_inv), inv_clean)
    counts = {"investments": len(inv_clean), "goals": len(goal_ids), "checkins": len(checkin_ids),
              "attendees": sum(len(c["attendees"]) for c in checkins_clean),
              "goal_reviews": sum(len(c["goal_reviews"]) for c in checkins_clean),
              "action_items": sum(len(c["action_items"]) for c in checkins_clean)}
    return ImportResult(counts=counts, checkin_ids=checkin_ids, goal_ids=goal_ids)


def export_records(store, out: str | Path, *, partner_id: str | Iterable[str] | None = None,
                   term: str | Iterable[str] | None = None) -> dict[str, Path]:
    """Write the records (optionally of some partners / terms) as the CSV files of :data:`FILES`.

    Every file is written, with a header even when it has no rows. ``term``
    filters investments and check-ins (with their children); goals are
    exported whole. ``audit.csv`` holds the audit trail of the partners
    (every term). Returns the written paths by kind (``"audit"`` included).
    """
    from .audit import read_audit
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputDataError("the output exists and is not a folder", path=out,
                             fix="Pass a folder (a new one is created)")
    out.mkdir(parents=True, exist_ok=True)
    terms = None if term is None else ([term] if isinstance(term, str) else list(term))
    frames: dict[str, pd.DataFrame] = {}
    inv = read_investments(store, partner_id=partner_id, term=terms)
    frames["investments"] = inv[["entry_id", *COLUMNS["investments"]]]
    frames["goals"] = read_goals(store, partner_id=partner_id)[list(COLUMNS["goals"])]
    tabs = read_checkin_tables(store, partner_id=partner_id)
    chk = tabs["checkins"]
    if terms is not None:
        chk = chk[chk["term"].isin(terms)]
    frames["checkins"] = chk[list(COLUMNS["checkins"])]
    keep = set(chk["checkin_id"])
    frames["attendees"] = tabs["attendees"][tabs["attendees"]["checkin_id"].isin(keep)][list(COLUMNS["attendees"])]
    frames["goal_reviews"] = tabs["goal_reviews"][tabs["goal_reviews"]["checkin_id"].isin(keep)][
        list(COLUMNS["goal_reviews"])]
    acts = tabs["action_items"][tabs["action_items"]["checkin_id"].isin(keep)]
    frames["action_items"] = acts[["action_id", *COLUMNS["action_items"]]]
    aud = read_audit(store, partner_id=partner_id)
    frames["audit"] = aud.assign(changed_at=aud["changed_at"].astype("datetime64[ns]"))
    written = {}
    for kind, frame in frames.items():
        f = frame.copy()
        for col in ("entered_at", "changed_at"):
            if col in f:
                f[col] = pd.to_datetime(f[col]).dt.strftime("%Y-%m-%dT%H:%M:%S")
        # text cells starting like a formula get a leading ' (csvcells: OWASP CSV injection);
        # an import removes it again
        written[kind] = write_csv(f, safe_child(out, FILES[kind] if kind in FILES else AUDIT_FILE))
    return written
