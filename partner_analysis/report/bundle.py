"""Report bundles: the privacy boundary between district data and report notebooks.

:func:`build_bundles` makes **one pass** over a validated ``DATA_DIR`` (and the
records store) and writes, per partner and term, a small folder of aggregated,
suppressed tables plus a ``bundle.json`` manifest. A report notebook reads only
its bundle (:func:`load_bundle`); nothing student-level crosses.

Every table passes a final guard (:func:`guard_table`) before it is written: a
table with a student-id column, a string cell equal to a student id, or a visible
count below the profile's ``min_group_n`` is refused with :class:`DisclosureError`.
Bundles live in ``reports/<term>/work/bundles/`` (private: they keep exact
values); every figure a report prints is made from them by
:mod:`partner_analysis.privacy.display`. Before writing, the comparison rows
are linked to the earlier terms they show (:func:`privacy.link_earlier_terms`)
and checked against earlier releases in the ledger (differencing guard); the
cells the report will print are written beside the bundle
(:data:`CELLS_FILE`) for the ledger entry the batch records.

Parts of the bundle come from other areas and are included as soon as they
exist: KPI comparisons (``kpi.compare``), fit scores (``fit.summary_for_bundle``)
and records (``records.summary_for_bundle``). A missing part is recorded as
``"not_recorded"`` in the manifest and the report shows "not yet recorded".
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd

from .. import privacy
from .._io import write_atomic
from ..exceptions import ConfigError, InputDataError, PartnerAnalysisError

__all__ = ["BundleInfo", "Bundle", "BundleStream", "DisclosureError", "build_bundles", "open_bundles", "load_bundle", "guard_table",
           "bundle_meta", "read_ledger", "default_ledger", "published_cells", "read_cells", "CELLS_FILE", "headline_kpis", "mask_goals", "PARTS", "BUNDLE_MANIFEST", "COUNT_COLUMNS",
           "GOAL_NOT_SHOWN", "open_records_store"]

BUNDLE_MANIFEST = "bundle.json"
#: Published cells of a partner's report (work/ only): keys, displayed text, exact n, fingerprint.
CELLS_FILE = "published_cells.csv"
BUNDLE_FORMAT = 1
#: Parts of a report and the tables each contributes.
PARTS: dict[str, tuple[str, ...]] = {
    "participation": ("participation",),
    "kpi": ("kpi_comparison", "kpi_trend"),
    "fit": ("fit_dimensions", "fit_overall", "fit_prompts"),
    "investments": ("investment_balance", "investment_by_category"),
    "checkins": ("checkin_status", "open_actions"),
    "goals": ("goals",),
}
#: Columns holding counts of students; each visible value must be >= min_group_n.
COUNT_COLUMNS = ("n", "n_t", "n_c", "n_all", "participants", "n_students")
#: Columns that may hold respondent counts of 1-3 staff; they never leave (privacy.md §6).
_DROP_COLUMNS = ("n_district", "n_partner", "respondent", "respondents", "student_id")
#: KPI comparison columns a report may show; everything else stays behind.
_KPI_COLUMNS = ("kpi_id", "kpi_label", "kind", "unit", "higher_is_better", "n_t", "n_c", "mean_t", "mean_c",
                "difference", "ci_low_t", "ci_high_t", "ci_low_c", "ci_high_c", "effect_size", "es_method",
                "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj", "test", "baseline_es",
                "baseline_verdict", "wording", "sample_status", "prev_term_mean_t", "change_prev_term",
                "last_year_mean_t", "change_last_year", "prev_term_n_t", "last_year_n_t", "suppressed", "marker",
                "suppression_reason",
                # issue #11: the design behind each effect, its evidence label and minimum detectable effect
                "design", "evidence_label", "mde", "design_warnings")


#: Goal status written when the KPI behind a goal is hidden: value, attainment and status all stay behind.
GOAL_NOT_SHOWN = "not shown (small group)"
#: KPI comparison columns holding the level and count of each population a goal can be set on.
_GOAL_POPULATION = {"participants": ("mean_t", "n_t"), "comparison": ("mean_c", "n_c"), "all": ("mean_all", "n_all")}


class DisclosureError(PartnerAnalysisError):
    """A table about to leave the district could identify a student; it was refused."""

    def __init__(self, message: str, *, table: str | None = None, column: str | None = None):
        self.table = table
        self.column = column
        super().__init__(message)


@dataclass(frozen=True)
class BundleInfo:
    """What :func:`build_bundles` made for one partner.

    ``ok`` is False when the partner's bundle could not be built; ``error``
    then says why and ``path`` holds no bundle.
    """

    partner_id: str
    term: str
    path: Path
    ok: bool = True
    error: str | None = None
    tables: tuple[str, ...] = ()
    parts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: its manifest and its tables (aggregates only)."""

    path: Path
    meta: Mapping[str, Any]
    tables: Mapping[str, pd.DataFrame]
    #: values derived from the bundle once and read by several pages (the board's items per language)
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def partner_id(self) -> str:
        return self.meta["partner_id"]

    @property
    def term(self) -> str:
        return self.meta["term"]

    @property
    def partner_name(self) -> str:
        return self.meta.get("partner_name") or self.partner_id

    @property
    def profile(self) -> privacy.PrivacyProfile:
        """The privacy profile the bundle was built with (its display rules apply to every figure)."""
        stored = dict(self.meta.get("profile", {}))
        fields = {f.name for f in dataclasses.fields(privacy.PrivacyProfile)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in stored.items() if k in fields}
        name = values.pop("name", "public")
        base = dict(privacy.PROFILES.get(name, {}))
        return privacy.PrivacyProfile(name=name, **{**base, **values})

    @property
    def min_group_n(self) -> int:
        return int(self.meta.get("profile", {}).get("min_group_n", 10))

    def has(self, part: str) -> bool:
        """True when the part was recorded (its tables exist, possibly empty)."""
        return self.meta.get("parts", {}).get(part) == "recorded"

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


# -- profile ------------------------------------------------------------------------------------

def _profile(config, profile) -> privacy.PrivacyProfile:
    """The PrivacyProfile to apply: the argument, else the district's ``privacy`` section."""
    if profile is None:
        return privacy.PrivacyProfile.from_config(dict(config.privacy))
    return privacy.resolve_profile(profile)


def _profile_dict(profile) -> dict:
    # the whole profile travels with the bundle, so the report displays with exactly the rules applied here
    out = {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile)}
    out["markers"] = dict(profile.markers)
    return out


# -- guard --------------------------------------------------------------------------------------

def guard_table(name: str, frame: pd.DataFrame, *, min_group_n: int,
                student_ids: Iterable[str] | frozenset = frozenset()) -> pd.DataFrame:
    """Refuse a table that could identify a student; return it unchanged otherwise.

    The last check before anything is written to a bundle, applied after
    suppression: it does not fix tables, it stops the release.

    Parameters
    ----------
    name : str
        Table name, for the message.
    frame : DataFrame
        The table about to be written.
    min_group_n : int
        Smallest count of students that may be visible.
    student_ids : set of str
        Student identifiers of the district; no string cell may equal one.

    Raises
    ------
    DisclosureError
        When a column is named like a student identifier, a count column holds a
        visible value in ``1 .. min_group_n - 1``, or a cell equals a student id.
    """
    for col in frame.columns:
        if "student" in str(col).lower() and str(col).lower() not in COUNT_COLUMNS and "n_students" != col:
            raise DisclosureError(f"table '{name}' has a student-level column '{col}'; refused",
                                  table=name, column=str(col))
    for col in COUNT_COLUMNS:
        if col in frame.columns:
            values = pd.to_numeric(frame[col], errors="coerce")
            small = values[(values > 0) & (values < min_group_n)]
            if len(small):
                raise DisclosureError(
                    f"table '{name}', column '{col}': {len(small)} visible count(s) below the minimum of "
                    f"{min_group_n}; suppress them before release", table=name, column=col)
    ids = student_ids if isinstance(student_ids, (set, frozenset)) else frozenset(student_ids)
    if ids:
        for col in frame.columns:
            s = frame[col]
            if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
                # Bundle tables are small and the id set is large: set look-ups per cell beat Series.isin,
                # which rebuilds an array from the set on every call.
                if any(str(v) in ids for v in s.dropna()):
                    raise DisclosureError(f"table '{name}', column '{col}' holds a student identifier; refused",
                                          table=name, column=str(col))
    return frame


# -- writing -------------------------------------------------------------------------------------

def _table_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    out = {}
    for col, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            out[str(col)] = "bool"
        elif pd.api.types.is_numeric_dtype(dtype):
            out[str(col)] = "float"
        else:
            out[str(col)] = "str"
    return out


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=[c for c in _DROP_COLUMNS if c in frame.columns]).copy()
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype("string")
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            frame[col] = frame[col].dt.strftime("%Y-%m-%d")
        elif col in COUNT_COLUMNS and pd.api.types.is_float_dtype(dtype):
            # A count is whole: written "52", never "52.0" because another row's count is hidden (NaN makes
            # the column float), so a partner's bundle has the same bytes whichever partners share its pass.
            values = frame[col]
            if values.dropna().eq(values.dropna().round()).all():
                frame[col] = values.astype("Int64")
    return frame.reset_index(drop=True)


# -- parts ---------------------------------------------------------------------------------------

def _term_window(config, term: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    t = config.term(term)
    return pd.Timestamp(t.start), pd.Timestamp(t.end)


def _check_partner_rows(dataset, partner_id: str, program_ids: list[str]) -> None:
    """Per-partner sanity checks at the boundary: a broken partner fails alone, with a precise message."""
    part = dataset.get("participation")
    if part is None or not len(part):
        return
    mine = part[part["program_id"].astype(str).isin(program_ids)]
    bad = mine["start_date"].isna()
    if bad.any():
        pos = int(np.flatnonzero(part.index.isin(mine.index[bad]))[0])
        raise InputDataError("participation has no start_date, so it cannot be placed in a term",
                             path=Path(dataset.path or ".") / "participation.parquet", row=pos + 2,
                             column="start_date", value=None,
                             fix=f"Fill start_date for partner {partner_id}'s programs and re-import")
    if "hours" in mine.columns:
        hours = pd.to_numeric(mine["hours"], errors="coerce")
        neg = hours < 0
        if neg.any():
            pos = int(np.flatnonzero(part.index.isin(mine.index[neg.fillna(False)]))[0])
            raise InputDataError("participation hours are negative", path=Path(dataset.path or ".") /
                                 "participation.parquet", row=pos + 2, column="hours",
                                 value=float(hours[neg].iloc[0]), fix="Correct the hours and re-import")


def _participation_table(dataset, partner_id: str, term: str, profile) -> pd.DataFrame:
    """Distinct participating students per program in the term; counts below k are hidden (display text beside)."""
    k = profile.min_group_n
    programs = dataset.get("programs")
    cols = ["program_id", "program_name", "type", "participants", "participants_display"]
    if programs is None:
        return pd.DataFrame(columns=cols)
    progs = programs[programs["partner_id"].astype(str) == partner_id]
    start, end = _term_window(dataset.config, term)
    part = dataset.get("participation")
    rows = []
    counts: dict[str, int] = {}
    if part is not None and len(part):
        p = part[part["program_id"].astype(str).isin(progs["program_id"].astype(str))]
        sd = pd.to_datetime(p["start_date"])
        ed = pd.to_datetime(p["end_date"]) if "end_date" in p.columns else pd.Series(pd.NaT, index=p.index)
        active = p[(sd <= end) & (ed.isna() | (ed >= start))]
        counts = active.groupby(active["program_id"].astype(str))["student_id"].nunique().to_dict()
        counts["all"] = int(active["student_id"].nunique())
    for _, prog in progs.iterrows():
        rows.append((str(prog["program_id"]), str(prog["name"]), str(prog["type"]),
                     int(counts.get(str(prog["program_id"]), 0))))
    rows.append(("all", "All programs", "", int(counts.get("all", 0))))
    out = []
    for pid, name, kind, n in rows:
        # exact counts stay in the bundle (work/ only); readers get privacy.format_participants (rounded, "<10")
        out.append({"program_id": pid, "program_name": name, "type": kind,
                    "participants": float(n) if n >= k else np.nan,
                    "participants_display": privacy.format_participants(n, profile)})
    frame = pd.DataFrame(out, columns=cols)
    return frame


def _kpi_all(dataset, *, term, partners, profile) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """KPI comparisons in one pass, linked to the earlier terms they show; per partner if that pass fails."""
    from ..kpi.compare import compare_partners, compute_kpis

    config = dataset.config
    earlier_terms = {"prev_term": config.previous_term(term), "last_year": config.same_term_last_year(term)}

    def one(pids: list[str], arrays) -> pd.DataFrame:
        now = compare_partners(dataset, term=term, partners=pids, profile=profile, suppress=True, arrays=arrays)
        # every earlier term shown is hidden at least as that term's own table hides it (privacy.linked).
        # Only its participants' levels and counts are read, and suppression decides those from the groups'
        # counts and levels alone, never from a design's fit: the raw design gives the same hidden cells
        # without fitting two terms' models (tests/test_report_bundle_stream.py checks it for every design).
        earlier = {name: (compare_partners(dataset, term=t.id, partners=pids, profile=profile, suppress=True,
                                           arrays=arrays, design="raw") if t is not None else None)
                   for name, t in earlier_terms.items()}
        return privacy.link_earlier_terms(now, earlier, profile=profile)

    try:
        arrays = compute_kpis(dataset)
        return one(list(partners), arrays), {}
    except Exception:  # noqa: BLE001 - isolate the partner that breaks the pass, below
        pass
    frames, errors = [], {}
    for pid in partners:
        try:
            frames.append(one([pid], None))
        except Exception as err:  # noqa: BLE001 - one partner's failure must not stop the others
            errors[pid] = f"KPI comparison failed: {type(err).__name__}: {err}"
    return (pd.concat(frames, ignore_index=True) if frames else None), errors


def _kpi_scopes() -> dict[str, str]:
    """Each KPI's scope (term / year_to_date) from the shipped catalog: the board explains a year-to-date dip."""
    from ..kpi.catalog import load_catalog
    return {k.id: k.scope for k in load_catalog().kpis}


def _kpi_tables(mine: pd.DataFrame, term: str, config, scopes: Mapping[str, str] | None = None
                ) -> dict[str, pd.DataFrame]:
    """The partner's comparison table and its trend table (participants' level and n per term shown).

    ``scopes`` is :func:`_kpi_scopes` (read once per batch by the caller; read here when not given).
    """
    comp = mine[[c for c in _KPI_COLUMNS if c in mine.columns]].reset_index(drop=True)
    scopes = _kpi_scopes() if scopes is None else scopes
    comp["scope"] = comp["kpi_id"].astype(str).map(scopes).fillna("term") if len(comp) else pd.Series(dtype=str)
    trend_rows = []
    prev = config.previous_term(term)
    last = config.same_term_last_year(term)
    for _, r in comp.iterrows():
        for label, tid, col, ncol in (("same term last year", last.id if last else None, "last_year_mean_t",
                                       "last_year_n_t"),
                                      ("previous term", prev.id if prev else None, "prev_term_mean_t",
                                       "prev_term_n_t"),
                                      ("this term", term, "mean_t", "n_t")):
            if tid is None or col not in comp.columns:
                continue
            trend_rows.append({"kpi_id": r["kpi_id"], "kpi_label": r.get("kpi_label", r["kpi_id"]),
                               "term": tid, "when": label, "mean_t": r[col], "n_t": r.get(ncol)})
    trend = pd.DataFrame(trend_rows, columns=["kpi_id", "kpi_label", "term", "when", "mean_t", "n_t"])
    if len(trend):
        trend = trend.drop_duplicates(["kpi_id", "term"], keep="last")
    return {"kpi_comparison": comp, "kpi_trend": trend}


def published_cells(tables: Mapping[str, pd.DataFrame], *, partner_id: str, term: str,
                    profile) -> pd.DataFrame:
    """Every student figure a partner's report prints, as the reader sees it (through privacy.display).

    One row per cell: :data:`privacy.CELL_KEYS`, ``displayed`` (the text),
    ``shown`` (a value is printed, plain or coded), ``n`` (exact group size,
    for the differencing guard; the ledger is private) and ``fingerprint``.
    Statistics: ``level`` (a KPI level of a group), ``count`` (students taking
    part), ``change`` (since last term), ``difference`` (participants minus
    comparison).
    """
    p = privacy.resolve_profile(profile)
    rows: list[dict] = []

    def add(kpi_id, group, statistic, displayed, n, value, *, cell_term=term, program_id="all"):
        shown = not (str(displayed).startswith(privacy.NOT_SHOWN) or str(displayed) in (p.primary_marker, "")
                     or str(displayed).startswith("<"))
        nn = None if privacy.is_missing(n) else float(n)
        rows.append({"partner_id": partner_id, "term": cell_term, "kpi_id": kpi_id, "program_id": program_id,
                     "subgroup": "all", "subgroup_value": "all", "group": group, "statistic": statistic,
                     "displayed": str(displayed), "shown": bool(shown), "n": nn,
                     "fingerprint": privacy.cell_fingerprint(nn, None if privacy.is_missing(value) else value)})

    part = tables.get("participation")
    if part is not None:
        for _, r in part.iterrows():
            add("", "participants", "count", r["participants_display"], r["participants"], None,
                program_id=str(r["program_id"]))
    comp = tables.get("kpi_comparison")
    if comp is not None:
        for _, r in comp.iterrows():
            unit, kind = r.get("unit"), r.get("kind")
            for g, sfx in (("participants", "t"), ("comparison", "c")):
                n, m = r.get(f"n_{sfx}"), r.get(f"mean_{sfx}")
                add(r["kpi_id"], g, "count", privacy.format_count(n, p) if not privacy.is_missing(n) else "", n, None)
                add(r["kpi_id"], g, "level", privacy.format_level(m, n, unit=unit, kind=kind, profile=p), n, m)
            add(r["kpi_id"], "contrast", "difference",
                privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                      unit=unit, kind=kind, profile=p, change=r.get("difference")),
                r.get("n_t"), r.get("difference"))
            add(r["kpi_id"], "participants", "change",
                privacy.format_change(r.get("mean_t"), r.get("prev_term_mean_t"), n_now=r.get("n_t"),
                                      n_before=r.get("prev_term_n_t"), unit=unit, kind=kind, profile=p,
                                      change=r.get("change_prev_term")),
                r.get("n_t"), r.get("change_prev_term"))
    trend = tables.get("kpi_trend")
    if trend is not None and comp is not None and len(trend):
        units = comp.set_index("kpi_id")[["unit", "kind"]].to_dict("index")
        for _, r in trend.iterrows():
            if str(r["term"]) == term:
                continue  # this term's level is the comparison table's cell
            u = units.get(r["kpi_id"], {})
            add(r["kpi_id"], "participants", "level",
                privacy.format_level(r["mean_t"], r.get("n_t"), unit=u.get("unit"), kind=u.get("kind"), profile=p),
                r.get("n_t"), r["mean_t"], cell_term=str(r["term"]))
    return pd.DataFrame(rows, columns=[*privacy.CELL_KEYS, "displayed", "shown", "n", "fingerprint"])


def _guard_differencing(mine: pd.DataFrame, *, partner_id: str, term: str, config, profile,
                        earlier_cells: pd.DataFrame, scopes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Suppress every level whose group changed by fewer than ``min_group_n`` since an earlier release.

    Levels of this term are hidden in the comparison rows (then complementary
    suppression runs again); earlier terms' levels are hidden in the trend
    columns. Repeats until no published level conflicts (it only hides, so it
    ends). See :func:`partner_analysis.privacy.differencing_conflicts`.
    """
    if earlier_cells is None or not len(earlier_cells) or mine is None or not len(mine):
        return mine
    prefix_of = {}
    for prefix, t in (("prev_term", config.previous_term(term)), ("last_year", config.same_term_last_year(term))):
        if t is not None:
            prefix_of[t.id] = prefix
    mine = mine.copy()
    for _ in range(10):
        tables = _kpi_tables(mine, term, config, scopes)
        cells = published_cells(tables, partner_id=partner_id, term=term, profile=profile)
        cells = cells[cells["statistic"] == "level"]
        conflicts = privacy.differencing_conflicts(cells, earlier_cells, min_group_n=profile.min_group_n)
        if not len(conflicts):
            return mine
        reason = list(mine["suppression_reason"].fillna("").astype(str)) if "suppression_reason" in mine else [""] * len(mine)
        for _, c in conflicts.iterrows():
            rows = np.flatnonzero(mine["kpi_id"].astype(str).to_numpy() == str(c["kpi_id"]))
            why = (f"{c['group']} figure hidden: the group changed by fewer than {profile.min_group_n} students "
                   f"since release {c['release_id']} (differencing)")
            if str(c["term"]) == term:
                col = "mean_t" if c["group"] == "participants" else "mean_c"
                mine.iloc[rows, mine.columns.get_loc(col)] = np.nan
                mine.iloc[rows, mine.columns.get_loc("suppressed")] = True
                for i in rows:
                    reason[i] = "; ".join(x for x in (reason[i], why) if x)
            elif str(c["term"]) in prefix_of:
                prefix = prefix_of[str(c["term"])]
                for col in (f"{prefix}_mean_t", {"prev_term": "change_prev_term",
                                                  "last_year": "change_last_year"}[prefix]):
                    if col in mine.columns:
                        mine.iloc[rows, mine.columns.get_loc(col)] = np.nan
        mine["suppression_reason"] = reason
        mine = privacy.suppress_comparisons(mine, profile)
    raise DisclosureError(f"the differencing guard did not settle for partner {partner_id}; release refused",
                          table="kpi_comparison")


def _partner_kpi_rows(kpi: pd.DataFrame | None, partner_id: str) -> pd.DataFrame | None:
    """The partner-wide rows (all programs, no subgroup) of one partner, every column kept."""
    if kpi is None:
        return None
    mine = kpi[kpi["partner_id"].astype(str) == partner_id]
    for col, value in (("program_id", "all"), ("subgroup", "all")):
        if col in mine.columns and (mine[col].astype(str) == value).any():
            mine = mine[mine[col].astype(str) == value]
    if "subgroup_value" in mine.columns and mine["subgroup_value"].nunique() > 1:
        mine = mine[mine["subgroup_value"].astype(str).isin(["all", "All", ""])]
    return mine


def mask_goals(goals: pd.DataFrame, *, kpi: pd.DataFrame | None, participants: float | None,
               min_group_n: int) -> pd.DataFrame:
    """Hide every figure of a goal whose KPI is not shown for this partner.

    A goal's latest value, its attainment and even its status word ("met",
    "behind") tell a reader where a hidden small-group value lies relative to
    the target. So when the KPI behind a goal is suppressed, has no value for
    the goal's population, counts fewer than ``min_group_n`` students there, or
    the partner has fewer than ``min_group_n`` participants, ``latest_value``,
    ``attainment`` and ``expected`` become NaN and ``status`` becomes
    :data:`GOAL_NOT_SHOWN` (``source`` ``"suppressed"``). A check-in review
    status of such a goal is hidden too: staff judged it from the same values.
    Goals without a KPI are left as they are.

    Parameters
    ----------
    goals : DataFrame
        ``records.summary_for_bundle(...)["goals"]``.
    kpi : DataFrame or None
        The partner's suppressed KPI comparison rows (partner-wide).
    participants : float or None
        Participants shown for the partner as a whole (NaN/None when hidden).
    min_group_n : int
        The privacy profile's smallest visible group.

    Returns
    -------
    DataFrame
        A copy of ``goals`` with the hidden goals masked.
    """
    if goals is None or not len(goals) or "kpi_id" not in goals.columns:
        return goals
    out = goals.copy()
    few = participants is None or _plain(participants) is None or float(participants) < min_group_n
    rows = {} if kpi is None or not len(kpi) else {str(r["kpi_id"]): r for _, r in kpi.iterrows()}
    hide = []
    for _, g in out.iterrows():
        kid = _plain(g.get("kpi_id"))
        if kid is None or str(kid).strip() == "":
            hide.append(False)
            continue
        if few:
            hide.append(True)
            continue
        r = rows.get(str(kid))
        if r is None:
            # No comparison row this term: nothing computed from it, but a KPI-sourced figure cannot be checked.
            hide.append(str(g.get("source", "")) == "kpi")
            continue
        pop = _plain(g.get("population")) or "participants"
        mean_col, n_col = _GOAL_POPULATION.get(str(pop), ("mean_t", "n_t"))
        n = _plain(r.get(n_col)) if n_col in r.index else None
        hide.append(bool(_plain(r.get("suppressed")))
                    or (mean_col in r.index and _plain(r.get(mean_col)) is None)
                    or (n_col in r.index and (n is None or float(n) < min_group_n)))
    hide = pd.Series(hide, index=out.index, dtype=bool)
    if hide.any():
        for col in ("latest_value", "attainment", "expected"):
            if col in out.columns:
                out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
                out.loc[hide, col] = np.nan
        for col, value in (("status", GOAL_NOT_SHOWN), ("source", "suppressed")):
            if col in out.columns:
                out[col] = out[col].astype("object")
                out.loc[hide, col] = value
    return out


def open_records_store(data_dir: str | Path, db=None) -> Any:
    """The district's records store (None when there is none; never created here)."""
    return _open_store(Path(data_dir), db)


def _open_store(data_dir: Path, db) -> Any:
    from ..store import Store, StoreSchemaError, default_store_path, resolve_db_url
    if db is None and not os.environ.get("PA_DB_URL") and not default_store_path(data_dir).exists():
        return None
    if db is not None and str(db).strip():
        # An explicit --db that is not a store is a typo: say so (StoreError) instead of reporting
        # "no records yet" for every partner, and never create an empty store while reading.
        return Store(resolve_db_url(db, data_dir=data_dir), create=False)
    try:
        return Store(resolve_db_url(db, data_dir=data_dir), create=False)
    except StoreSchemaError:
        raise       # a store at another schema version holds records: say "db upgrade", never "no records"
    except Exception:  # noqa: BLE001 - an unreadable default store means "not yet recorded", not a failed batch
        return None


def _board_row(meta: dict, tables: Mapping[str, pd.DataFrame]) -> dict:
    """One row for the board and the district index: bands, statuses and headline KPI deltas."""
    row: dict[str, Any] = {"partner_id": meta["partner_id"], "partner_name": meta["partner_name"],
                           "term": meta["term"], "fit_band": None, "biggest_gap_dimension": None,
                           "biggest_gap_label": None,
                           "balance_band": None, "partner_share": None, "checkin_status": None, "kpis": []}
    fit = tables.get("fit_overall")
    if fit is not None and len(fit):
        row["fit_band"] = _plain(fit.iloc[0].get("band"))
        row["biggest_gap_dimension"] = _plain(fit.iloc[0].get("biggest_gap_dimension"))
        row["biggest_gap_label"] = dimension_label(tables.get("fit_dimensions"), row["biggest_gap_dimension"])
    bal = tables.get("investment_balance")
    if bal is not None and len(bal):
        r = bal[bal["term"].astype(str) == meta["term"]] if "term" in bal.columns else bal
        r = (r if len(r) else bal).iloc[-1]
        row["balance_band"] = _plain(r.get("balance_band"))
        row["partner_share"] = _plain(r.get("partner_share"))
    chk = tables.get("checkin_status")
    if chk is not None and len(chk):
        r = chk[chk["term"].astype(str) == meta["term"]] if "term" in chk.columns else chk
        row["checkin_status"] = _plain((r if len(r) else chk).iloc[-1].get("status"))
    kpi = tables.get("kpi_comparison")
    if kpi is not None and len(kpi):
        for _, r in headline_kpis(kpi, 3).iterrows():
            row["kpis"].append({k: _plain(r.get(k)) for k in ("kpi_id", "kpi_label", "unit", "mean_t", "n_t",
                                                              "prev_term_mean_t", "prev_term_n_t",
                                                              "change_prev_term", "difference", "marker",
                                                              "suppressed", "higher_is_better", "kind")})
    return row


def dimension_label(dims: pd.DataFrame | None, dimension) -> str | None:
    """The instrument's label of a fit dimension (from ``fit_dimensions``); the id only when no label exists."""
    dimension = _plain(dimension)
    if dimension is None:
        return None
    if dims is not None and len(dims) and {"dimension", "dimension_label"} <= set(dims.columns):
        hit = dims.loc[dims["dimension"].astype(str) == str(dimension), "dimension_label"].dropna()
        if len(hit) and str(hit.iloc[0]).strip():
            return str(hit.iloc[0])
    return str(dimension).replace("_", " ")


#: KPIs a board leads with, in order; the rest of the catalog follows in its own order.
HEADLINE_KPIS = ("attendance_rate", "gpa", "on_track", "credits_earned", "any_wbl", "chronic_absence",
                 "course_failure", "any_college_credit", "engagement_score", "wbl_hours")


def headline_kpis(kpi: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` KPIs a board shows: :data:`HEADLINE_KPIS` first, then catalog order (same for every partner)."""
    rank = {k: i for i, k in enumerate(HEADLINE_KPIS)}
    order = sorted(range(len(kpi)), key=lambda i: (rank.get(str(kpi["kpi_id"].iloc[i]), len(rank)), i))
    return kpi.iloc[order[:n]]


def _plain(value):
    if value is None:
        return None
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _write_bundle(folder: Path, meta: dict, tables: Mapping[str, pd.DataFrame], *, k: int,
                  student_ids: frozenset, cells: pd.DataFrame | None = None) -> dict[str, tuple[str, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    hashes, entries = {}, {}
    for name, frame in tables.items():
        frame = guard_table(name, _clean(frame), min_group_n=k, student_ids=student_ids)
        data = _table_bytes(frame)
        digest = hashlib.sha256(data).hexdigest()
        write_atomic(folder / f"{name}.csv", data)
        hashes[name] = (digest, int(len(frame)))
        entries[name] = {"file": f"{name}.csv", "sha256": digest, "rows": int(len(frame)),
                         "dtypes": _dtypes(frame)}
    meta = dict(meta, tables=entries, board=_board_row(meta, tables))
    if cells is not None:
        # what the report prints, cell by cell, for the ledger and the differencing guard; it holds exact group
        # sizes (private, like the whole bundle) and is never rendered, so it skips the count guard
        data = _table_bytes(cells)
        write_atomic(folder / CELLS_FILE, data)
        meta["cells"] = {"file": CELLS_FILE, "sha256": hashlib.sha256(data).hexdigest(), "rows": int(len(cells))}
    write_atomic(folder / BUNDLE_MANIFEST, json.dumps(meta, indent=2, default=str).encode("utf-8"))
    return hashes


# -- ledger --------------------------------------------------------------------------------------

def read_ledger(path: str | Path) -> pd.DataFrame:
    """The release ledger as a frame (:meth:`partner_analysis.privacy.ReleaseLedger.frame`)."""
    return privacy.ReleaseLedger(path).frame()


def default_ledger(out: Path) -> Path:
    """``reports/release_ledger.jsonl`` for bundles in ``reports/<term>/work/bundles`` (or ``<term>/bundles``)."""
    out = Path(out)
    return (out.parent.parent.parent if out.parent.name == "work" else out.parent.parent) / "release_ledger.jsonl"


# -- public --------------------------------------------------------------------------------------

def build_bundles(data_dir: str | Path, *, term: str, partners: Iterable[str] | None = None,
                  out: str | Path, db: str | Path | None = None, profile=None,
                  ledger: str | Path | None = None) -> list[BundleInfo]:
    """Build one report bundle per partner for ``term``: aggregated, suppressed tables only.

    Parameters
    ----------
    data_dir : path
        Validated ``DATA_DIR`` (``district.yml`` + parquet tables).
    term : str
        Term identifier from the district's configuration.
    partners : iterable of str, optional
        Partner ids (strings); default every partner in ``partners.parquet``.
    out : path
        Folder receiving one sub-folder per partner (``<out>/<partner_id>/``).
    db : str or path, optional
        Records store URL or path (default: ``DATA_DIR/records/records.sqlite`` when present).
    profile : PrivacyProfile or str, optional
        Suppression profile; default the district's ``privacy`` section.
    ledger : path, optional
        Release ledger read by the differencing guard (:func:`default_ledger`:
        ``reports/release_ledger.jsonl``). Building bundles records nothing:
        a release is recorded when its files are written (:mod:`.batch`).

    Returns
    -------
    list of BundleInfo
        One per partner, in the order of ``partners``; failed partners have ``ok=False``.

    Raises
    ------
    ConfigError
        For an unknown term or partner id.
    """
    return list(open_bundles(data_dir, term=term, partners=partners, out=out, db=db, profile=profile, ledger=ledger))


def open_bundles(data_dir: str | Path, *, term: str, partners: Iterable[str] | None = None,
                 out: str | Path, db: str | Path | None = None, profile=None,
                 ledger: str | Path | None = None) -> "BundleStream":
    """:func:`build_bundles`, one bundle at a time: what is the same for every partner is done now.

    Reads the dataset, checks the term and partner ids (raising as :func:`build_bundles` does), runs
    the KPI comparisons of all partners in one pass and opens the records store; iterating the
    returned :class:`BundleStream` builds and writes each partner's bundle when it is asked for, so
    a report batch can start a partner's report while the next bundle is being built. The bundles
    are the same, byte for byte, as :func:`build_bundles` writes (it is this, listed).
    """
    return BundleStream(data_dir, term=term, partners=partners, out=out, db=db, profile=profile, ledger=ledger)


class BundleStream:
    """The bundles of one batch, built in the order of :attr:`partners` while iterated (:func:`open_bundles`).

    Shared per batch (computed once, not per partner): the dataset, the KPI comparisons of every
    partner and of the earlier terms they show, the catalog's KPI scopes, the release ledger and
    the records store, whose fit answers and records tables are read in one query each for all
    partners (:func:`partner_analysis.fit.results.summaries_for_bundles`,
    :func:`partner_analysis.records.summary.summaries_for_bundles`). Iterate once; the store is
    closed when the iteration ends.
    """

    def __init__(self, data_dir, *, term, partners, out, db, profile, ledger):
        from ..data.dataset import read_dataset

        data_dir = Path(data_dir)
        self.out = Path(out)
        self.term = term
        dataset = read_dataset(data_dir)
        config = dataset.config
        config.term(term)  # raises ConfigError naming the known terms
        prof = _profile(config, profile)
        partner_table = dataset.get("partners")
        if partner_table is None:
            raise InputDataError("no partners table", path=data_dir / "partners.parquet",
                                 fix="Import partners.csv or run `partner-analysis demo-data`")
        known = [str(p) for p in partner_table["partner_id"].astype(str)]
        wanted = known if partners is None else [str(p) for p in partners]
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise ConfigError(f"unknown partner id(s) {unknown}", key="partners", fix=f"Use some of {known}")
        #: partner ids, in the order their bundles are built
        self.partners: tuple[str, ...] = tuple(wanted)
        self._dataset, self._config, self._profile = dataset, config, prof
        self._pdict = _profile_dict(prof)
        self._student_ids = (frozenset(dataset["students"]["student_id"].astype(str)) if "students" in dataset
                             else frozenset())
        self._names = dict(zip(partner_table["partner_id"].astype(str), partner_table["name"].astype(str)))
        self._sectors = (dict(zip(partner_table["partner_id"].astype(str), partner_table["sector"].astype("string")))
                         if "sector" in partner_table.columns else {})
        programs = dataset.get("programs")
        self._programs = ({} if programs is None else
                          {pid: g["program_id"].astype(str).tolist()
                           for pid, g in programs.groupby(programs["partner_id"].astype(str), sort=False)})
        self._has_programs = programs is not None
        self._kpi, self._kpi_errors = _kpi_all(dataset, term=term, partners=wanted, profile=prof)
        self._kpi_pids = None if self._kpi is None else self._kpi["partner_id"].astype(str)
        self._scopes = _kpi_scopes() if self._kpi is not None else None
        self._store = _open_store(data_dir, db)
        self._earlier = privacy.ReleaseLedger(Path(ledger) if ledger is not None else default_ledger(self.out))
        self._released_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self._iterated = False

    def __len__(self) -> int:
        return len(self.partners)

    def __iter__(self) -> Iterator[BundleInfo]:
        if self._iterated:
            raise RuntimeError("a BundleStream is iterated once; open_bundles() again for another pass")
        self._iterated = True
        return self._build_all()

    def _build_all(self) -> Iterator[BundleInfo]:
        from ..fit.results import summaries_for_bundles as fit_summaries        # the areas' report aggregates
        from ..records.summary import summaries_for_bundles as records_summaries

        store, pids = self._store, list(self.partners)
        try:
            # one query per table for all partners; each partner's tables are computed as its bundle is built
            fits = None if store is None else _Once(lambda: fit_summaries(store, pids))
            recs = None if store is None else _Once(lambda: records_summaries(
                store, self._config, term=self.term, partner_ids=pids, kpi_table=self._kpi))
            for pid in pids:
                yield self._build_one(pid, fits, recs)
        finally:
            if store is not None:
                store.close()  # no -wal/-shm file left beside the data

    def _build_one(self, pid: str, fits, recs) -> BundleInfo:
        term, config, prof, k = self.term, self._config, self._profile, self._pdict["min_group_n"]
        kpi = self._kpi
        folder = self.out / pid
        try:
            if pid in self._kpi_errors:
                raise InputDataError(self._kpi_errors[pid])
            prog_ids = [] if not self._has_programs else list(self._programs.get(pid, []))
            _check_partner_rows(self._dataset, pid, prog_ids)
            tables: dict[str, pd.DataFrame] = {"participation": _participation_table(self._dataset, pid, term, prof)}
            parts = {"participation": "recorded"}
            guarded = None
            if kpi is not None:
                mine = kpi[self._kpi_pids == pid]
                guarded = _guard_differencing(_partner_kpi_rows(mine, pid), partner_id=pid, term=term, config=config,
                                              profile=prof, earlier_cells=self._earlier.published_cells(partner_id=pid),
                                              scopes=self._scopes)
                tables.update(_kpi_tables(guarded, term, config, self._scopes))
                parts["kpi"] = "recorded"
            else:
                parts["kpi"] = "not_recorded"
            fit = None if fits is None else fits()(pid)
            if fit:
                tables.update({n: fit[n] for n in PARTS["fit"] if n in fit})
            parts["fit"] = "recorded" if fit and "fit_overall" in fit and len(fit["fit_overall"]) else "not_recorded"
            # Records use the partner's full comparison rows (ids, terms) for goal attainment; this stays
            # inside the boundary and only the records' own aggregates are written.
            rec = None if recs is None else recs()(pid)
            if rec and "goals" in rec:
                allrow = tables["participation"]
                allrow = allrow[allrow["program_id"] == "all"]
                rec = dict(rec, goals=mask_goals(
                    rec["goals"], kpi=guarded, min_group_n=k,
                    participants=allrow["participants"].iloc[0] if len(allrow) else None))
            for part in ("investments", "checkins", "goals"):
                got = {n: rec[n] for n in PARTS[part] if rec and n in rec}
                tables.update(got)
                parts[part] = "recorded" if got and any(len(f) for f in got.values()) else "not_recorded"
            meta = {"format": BUNDLE_FORMAT, "partner_id": pid, "partner_name": self._names.get(pid, pid),
                    "term": term, "sector": _plain(self._sectors.get(pid)),
                    "term_label": term, "district": config.name, "profile": self._pdict, "parts": parts,
                    "currency": str((config.valuation or {}).get("currency") or "USD"),
                    "report": config.report.to_dict(),
                    "built_at": self._released_at}
            cells = published_cells(tables, partner_id=pid, term=term, profile=prof)
            _write_bundle(folder, meta, tables, k=k, student_ids=self._student_ids, cells=cells)
            return BundleInfo(pid, term, folder, True, None, tuple(tables), parts)
        except PartnerAnalysisError as err:
            return BundleInfo(pid, term, folder, False, f"{type(err).__name__}: {err}")
        except Exception as err:  # noqa: BLE001 - a broken partner fails alone; the batch reports it
            tb = traceback.extract_tb(err.__traceback__)[-1]
            return BundleInfo(pid, term, folder, False,
                              f"{type(err).__name__}: {err} ({Path(tb.filename).name}:{tb.lineno})")


class _Once:
    """The result of ``make()``, made at the first call (the store's one query for all partners); a failure
    is raised again for every partner that asks, as a per-partner query would have failed for each."""

    def __init__(self, make):
        self._make = make
        self._value = None
        self._error: Exception | None = None

    def __call__(self):
        if self._error is not None:
            raise self._error
        if self._value is None:
            try:
                self._value = self._make()
            except Exception as err:  # noqa: BLE001 - each partner's bundle fails with it
                self._error = err
                raise
        return self._value


def read_cells(bundle_path: str | Path) -> pd.DataFrame:
    """The published cells written beside a bundle (:func:`published_cells`), hash-checked."""
    bundle_path = Path(bundle_path)
    meta = json.loads((bundle_path / BUNDLE_MANIFEST).read_text(encoding="utf-8"))
    entry = meta.get("cells")
    if not entry:
        return pd.DataFrame(columns=[*privacy.CELL_KEYS, "displayed", "shown", "n", "fingerprint"])
    f = bundle_path / entry["file"]
    data = f.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise InputDataError("published cells do not match the bundle manifest (altered after build)", path=f,
                             fix="Rebuild the bundle")
    return pd.read_csv(f, dtype={c: "string" for c in (*privacy.CELL_KEYS, "displayed", "fingerprint")},
                       keep_default_na=False, na_values={"n": [""]})


def bundle_meta(path: str | Path) -> dict:
    """A bundle's manifest (``bundle.json``) alone: its partner, term, profile and parts, no table read."""
    mpath = Path(path) / BUNDLE_MANIFEST
    if not mpath.exists():
        raise InputDataError("no report bundle here", path=mpath,
                             fix="Build it with `partner-analysis reports` or report.bundle.build_bundles()")
    return json.loads(mpath.read_text(encoding="utf-8"))


def load_bundle(path: str | Path, *, partner_id: str | None = None, term: str | None = None) -> Bundle:
    """Open a bundle written by :func:`build_bundles`, checking every table's content hash.

    Raises
    ------
    InputDataError
        When the manifest is missing, belongs to another partner or term, or a
        table's hash does not match (the bundle was altered after release).
    """
    path = Path(path)
    mpath = path / BUNDLE_MANIFEST
    if not mpath.exists():
        raise InputDataError("no report bundle here", path=mpath,
                             fix="Build it with `partner-analysis reports` or report.bundle.build_bundles()")
    meta = json.loads(mpath.read_text(encoding="utf-8"))
    for key, want in (("partner_id", partner_id), ("term", term)):
        if want is not None and str(meta.get(key)) != str(want):
            raise InputDataError(f"bundle is for {key} {meta.get(key)!r}, not {want!r}", path=mpath,
                                 column=key, value=meta.get(key), fix="Pass the bundle built for this partner")
    tables = {}
    for name, entry in meta.get("tables", {}).items():
        f = path / entry["file"]
        data = f.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise InputDataError("table content does not match the bundle manifest (altered after release)",
                                 path=f, fix="Rebuild the bundle")
        dtypes = entry.get("dtypes", {})
        frame = pd.read_csv(f, dtype={c: "string" for c, t in dtypes.items() if t == "str"},
                            keep_default_na=True)
        for c, t in dtypes.items():
            if t == "bool" and c in frame.columns:
                frame[c] = frame[c].astype("boolean")
            elif t == "float" and c in frame.columns:
                frame[c] = pd.to_numeric(frame[c], errors="coerce")
        tables[name] = frame
    return Bundle(path=path, meta=meta, tables=tables)
