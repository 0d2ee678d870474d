r"""SMART goals per partner, tied to a KPI of the catalog or free-form, and their attainment.

A KPI goal names ``kpi_id``, a ``population`` (``participants``, the
partner's students; ``comparison``; ``all``; or ``subgroup:<name>``, a
subgroup named in words, at most 23 characters), a ``baseline``, a
``target``, a ``start_term`` and a ``due_term``; any goal may name an
``owner`` (the person who answers for it; the goal form requires one).

Baselines and targets are stored on the KPI's own scale. For KPIs whose
catalog unit is ``proportion`` or ``share`` that is 0-1 (0.92, not 92):
:func:`check_goal` refuses values outside 0-1 (the goal form takes percent
and divides by 100); for ``credits``, ``hours`` and ``points`` values must
not be negative. Its attainment comes from the KPI
values of the partner (the KPI engine's comparison table, or any frame with
``partner_id``, ``term``, ``kpi_id`` and ``value``). A free-form goal, or a
KPI goal with no value (suppressed or missing), takes the status of its
latest check-in review.

Attainment
----------
.. math::

    p = \frac{x - x_0}{x^* - x_0}, \qquad
    e = \frac{r(t) - r(t_0)}{r(t_{due}) - r(t_0)} \in [0, 1]

where :math:`x` is the latest KPI value up to the term judged, :math:`x_0` the
baseline, :math:`x^*` the target, :math:`r(\cdot)` a term's position in the
configured term order, :math:`t_0` the start term and :math:`t_{due}` the due
term (:math:`e = 1` when they coincide). The direction needs no flag: a target
below the baseline (fewer chronic absences) makes a fall count as progress.

Status: ``met`` when :math:`p \ge 1`; ``off_track`` when the due term has
passed without it, or when :math:`p < e/2`; ``on_track`` when :math:`p \ge e`;
``at_risk`` otherwise. A linear path from baseline to target is the yardstick
(:math:`e`); being less than half-way along it is off track.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from ..config import DistrictConfig
from ..exceptions import StoreError
from ..i18n import N_
from ._common import (Problem, RecordsContext, check_choice, check_partner, check_term, check_text, is_missing,
                      parse_number, parse_timestamp, problem, raise_problems, term_order)
from .checkins import latest_review_per_term

__all__ = ["POPULATIONS", "SUBGROUP_PREFIX", "PROPORTION_UNITS", "check_goal", "add_goal", "read_goals",
           "goal_attainment", "kpi_values", "catalog_kpi_ids", "catalog_kpi_units", "GOAL_COLUMNS"]

POPULATIONS = ("participants", "comparison", "all")
#: ``population`` of a goal for a named subgroup: ``subgroup:English learners``
SUBGROUP_PREFIX = "subgroup:"
#: the population column holds 32 characters
SUBGROUP_MAX = 32 - len(SUBGROUP_PREFIX)
#: KPI units measured as a proportion 0-1
PROPORTION_UNITS = ("proportion", "share")
#: KPI units that cannot be negative
_NON_NEGATIVE_UNITS = ("credits", "hours", "points")
_MEAN_FOR = {"participants": "mean_t", "comparison": "mean_c", "all": "mean_all"}

GOAL_COLUMNS = ("goal_id", "partner_id", "description", "kpi_id", "population", "baseline", "target",
                "start_term", "due_term", "entered_by", "entered_at", "owner")


def catalog_kpi_ids() -> frozenset[str] | None:
    """KPI ids of the installed catalog, or None when the KPI engine is not available."""
    try:
        from ..kpi.catalog import load_catalog
        cat = load_catalog()
    except Exception:  # noqa: BLE001 - goal checks work without the KPI engine; only the id check is skipped
        return None
    ids = getattr(cat, "ids", None)
    ids = ids() if callable(ids) else ids
    return frozenset(ids if ids is not None else (k.id for k in cat))


def catalog_kpi_units() -> dict[str, str] | None:
    """KPI id -> unit of the installed catalog, or None when the KPI engine is not available."""
    try:
        from ..kpi.catalog import load_catalog
        return {k.id: k.unit for k in load_catalog()}
    except Exception:  # noqa: BLE001 - as catalog_kpi_ids: the unit check is skipped without the engine
        return None


#: the goal's numbers as messages call them (English msgids)
_SCALE_WHAT = {"baseline": N_("baseline"), "target": N_("target")}


def _check_population(value: Any, problems: list[Problem]) -> str | None:
    if is_missing(value):
        return "participants"
    v = str(value).strip()
    if v.startswith(SUBGROUP_PREFIX):
        name = v[len(SUBGROUP_PREFIX):].strip()
        if not name:
            problems.append(problem("population", value, N_("the subgroup has no name"),
                                    N_("Write the subgroup after 'subgroup:', e.g. subgroup:English learners")))
            return None
        if len(name) > SUBGROUP_MAX:
            problems.append(problem("population", value,
                                    N_("the subgroup name is longer than {n} characters"),
                                    N_("Shorten it, e.g. 'Students w/ disabilities' -> 'SWD'"), n=SUBGROUP_MAX))
            return None
        return SUBGROUP_PREFIX + name
    return check_choice(v, "population", POPULATIONS, problems, what=N_("population"))


def _check_scale(value: float | None, column: str, raw: Any, unit: str | None, problems: list[Problem]) -> None:
    if value is None or unit is None:
        return
    if unit in PROPORTION_UNITS and not 0.0 <= value <= 1.0:
        fix = (N_("Enter the {what} as a proportion ({percent} is {share:g}), e.g. 0.92 for 92%")
               if 1.0 < value <= 100.0 else N_("Enter the {what} as a proportion, e.g. 0.92 for 92%"))
        problems.append(problem(column, raw, N_("the KPI is a {unit} between 0 and 1, found {value:g}"), fix,
                                unit=unit, value=value, what=_SCALE_WHAT.get(column, column), percent=f"{value:g}%",
                                share=value / 100))
    elif unit in _NON_NEGATIVE_UNITS and value < 0:
        problems.append(problem(column, raw, N_("the KPI counts {unit} and cannot be negative, found {value:g}"),
                                N_("Enter the {what} as zero or more {unit}"), unit=unit, value=value,
                                what=_SCALE_WHAT.get(column, column)))


def check_goal(goal: Mapping[str, Any], ctx: RecordsContext, *,
               kpi_ids: Iterable[str] | None = None,
               kpi_units: Mapping[str, str] | None = None) -> tuple[dict, list[Problem]]:
    """Check one goal; return the cleaned goal and every problem.

    A KPI goal (``kpi_id`` given) needs a numeric baseline and target that
    differ, on the KPI's scale when ``kpi_units`` knows its unit (see the
    module notes); a free-form goal needs only a description and a due term.
    ``owner`` is optional here (the goal form requires it).

    Parameters
    ----------
    goal : mapping
        The goal's columns (:data:`GOAL_COLUMNS`, ``goal_id`` optional).
    ctx : RecordsContext
        Terms and known partners.
    kpi_ids : iterable of str, optional
        Allowed KPI ids (None: any id).
    kpi_units : mapping, optional
        KPI id -> catalog unit (None: no scale check).

    Returns
    -------
    (dict, list of Problem)
    """
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    if not is_missing(goal.get("goal_id")):
        out["goal_id"] = str(goal["goal_id"]).strip()
    out["partner_id"] = check_partner(goal.get("partner_id"), ctx, problems)
    out["description"] = check_text(goal.get("description"), "description", problems, what=N_("a description"))
    kpi = goal.get("kpi_id")
    if is_missing(kpi):
        out.update(kpi_id=None, population=None, baseline=None, target=None)
    else:
        kpi = str(kpi).strip()
        known = None if kpi_ids is None else set(kpi_ids)
        if known is not None and kpi not in known:
            problems.append(problem("kpi_id", kpi, N_("unknown KPI {kpi!r}"),
                                    N_("Use one of the catalog's KPIs {allowed}, or leave kpi_id empty for a "
                                       "free-form goal"), kpi=kpi, allowed=sorted(known)))
        out["kpi_id"] = kpi
        out["population"] = _check_population(goal.get("population"), problems)
        out["baseline"] = parse_number(goal.get("baseline"), "baseline", problems, minimum=None)
        out["target"] = parse_number(goal.get("target"), "target", problems, minimum=None)
        unit = None if kpi_units is None else kpi_units.get(kpi)
        for col in ("baseline", "target"):
            _check_scale(out[col], col, goal.get(col), unit, problems)
        if out["baseline"] is not None and out["target"] is not None and out["baseline"] == out["target"]:
            problems.append(problem("target", goal.get("target"), N_("the target equals the baseline"),
                                    N_("Set a target that differs from the baseline (higher or lower)")))
    out["start_term"] = check_term(goal.get("start_term"), ctx, problems, column="start_term", required=False)
    out["due_term"] = check_term(goal.get("due_term"), ctx, problems, column="due_term")
    if out["start_term"] and out["due_term"]:
        order = term_order(ctx.config)
        if order.index(out["due_term"]) < order.index(out["start_term"]):
            problems.append(problem("due_term", goal.get("due_term"),
                                    N_("due term {due} is before the start term {start}"),
                                    N_("Swap or correct the terms"), due=out["due_term"], start=out["start_term"]))
    out["owner"] = check_text(goal.get("owner"), "owner", problems, what=N_("the goal's owner"), required=False,
                              max_len=128)
    out["entered_by"] = check_text(goal.get("entered_by"), "entered_by", problems, what=N_("who entered it"))
    out["entered_at"] = parse_timestamp(goal.get("entered_at"), "entered_at", problems)
    if out["start_term"] is None and not problems:
        t = ctx.config.term_for_date(out["entered_at"].date())
        out["start_term"] = t.id if t is not None else term_order(ctx.config)[0]
    return out, problems


def add_goal(store, ctx: RecordsContext, *, kpi_ids: Iterable[str] | None = None,
             kpi_units: Mapping[str, str] | None = None, **goal: Any) -> str:
    """Validate a goal and write it in one transaction; return its ``goal_id`` (default ``<partner>-G<n>``).

    ``kpi_ids`` and ``kpi_units`` default to the installed KPI catalog's.

    Raises
    ------
    InputDataError
        Listing every problem; nothing is written.
    StoreError
        The ``goal_id`` is taken.
    """
    clean, problems = check_goal(goal, ctx, kpi_ids=catalog_kpi_ids() if kpi_ids is None else kpi_ids,
                                 kpi_units=catalog_kpi_units() if kpi_units is None else kpi_units)
    raise_problems(problems, what="goal")
    with store.transaction() as conn:
        return write_goal(conn, clean)


def write_goal(conn, clean: Mapping[str, Any]) -> str:
    """Insert a cleaned goal (from :func:`check_goal`) and its owner on an open transaction."""
    from .tables import goals
    gid = clean.get("goal_id")
    existing = {r[0] for r in conn.execute(select(goals.c.goal_id))}
    if gid is None:
        n = 1
        while f"{clean['partner_id']}-G{n}" in existing:
            n += 1
        gid = f"{clean['partner_id']}-G{n}"
    elif gid in existing:
        raise StoreError(f"goal {gid!r} already exists; give a new goal_id or leave it empty")
    values = {k: v for k, v in clean.items() if k != "goal_id"}
    values["owner"] = values.get("owner") or None
    conn.execute(insert(goals).values(goal_id=gid, **values))
    return gid


def read_goals(store, *, partner_id: str | Iterable[str] | None = None) -> pd.DataFrame:
    """Goals as a tidy frame with columns :data:`GOAL_COLUMNS`."""
    from .tables import goals
    with store.engine.connect() as conn:
        stmt = select(*[goals.c[c] for c in GOAL_COLUMNS]).order_by(goals.c.partner_id, goals.c.goal_id)
        if partner_id is not None:
            stmt = stmt.where(goals.c.partner_id.in_([partner_id] if isinstance(partner_id, str)
                                                     else list(partner_id)))
        frame = pd.DataFrame(conn.execute(stmt).mappings().all(), columns=list(GOAL_COLUMNS))
    for c in ("goal_id", "partner_id", "kpi_id", "population", "start_term", "due_term", "owner"):
        frame[c] = frame[c].astype("string")
    for c in ("baseline", "target"):
        frame[c] = pd.to_numeric(frame[c]).astype("float64")
    return frame


def kpi_values(kpi_table: pd.DataFrame) -> pd.DataFrame:
    """Normalise a KPI table to ``partner_id``, ``term``, ``kpi_id``, ``population``, ``value``.

    Accepts either a simple frame with a ``value`` column (and optionally
    ``population``; default ``participants``) or the KPI engine's comparison
    table (``mean_t``, ``mean_c``, ``mean_all``; only the partner-wide rows,
    ``program_id == "all"``, without subgroups, are used).
    """
    t = kpi_table
    if "program_id" in t:
        t = t[t["program_id"].astype(str) == "all"]
    if "subgroup" in t:
        sub = t["subgroup"]
        t = t[sub.isna() | sub.astype(str).isin(["all", "", "none", "None"])]
    keys = ["partner_id", "term", "kpi_id"]
    if "value" in t:
        out = t[keys + ["value"] + (["population"] if "population" in t else [])].copy()
        if "population" not in out:
            out["population"] = "participants"
    else:
        parts = [t[keys].assign(population=pop, value=pd.to_numeric(t[col], errors="coerce"))
                 for pop, col in _MEAN_FOR.items() if col in t]
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keys + ["population", "value"])
    out = out.astype({"partner_id": str, "term": str, "kpi_id": str, "population": str})
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype("float64")
    return out.reset_index(drop=True)


_ATTAIN_COLUMNS = ["goal_id", "partner_id", "description", "kpi_id", "population", "baseline", "target",
                   "start_term", "due_term", "latest_term", "latest_value", "attainment", "expected", "status",
                   "source"]


def _kpi_status(p: float, e: float, past_due: bool) -> str:
    if p >= 1:
        return "met"
    if past_due or p < e / 2:
        return "off_track"
    return "on_track" if p >= e else "at_risk"


def goal_attainment(goals: pd.DataFrame, config: DistrictConfig, *, term: str,
                    kpi_table: pd.DataFrame | None = None, reviews: pd.DataFrame | None = None,
                    checkins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Attainment of each goal as of ``term``.

    Parameters
    ----------
    goals : DataFrame
        From :func:`read_goals`.
    config : DistrictConfig
        Term order.
    term : str
        The term judged; KPI values and reviews after it are ignored.
    kpi_table : DataFrame, optional
        KPI values per partner × term × KPI (see :func:`kpi_values`).
    reviews, checkins : DataFrame, optional
        Goal reviews and check-ins (:func:`~partner_analysis.records.checkins.read_checkin_tables`),
        used where no KPI value exists.

    Returns
    -------
    DataFrame
        One row per goal: the goal's columns plus ``latest_term``,
        ``latest_value`` (KPI value, NaN for check-in based rows),
        ``attainment`` (:math:`p`, NaN when not KPI based), ``expected``
        (:math:`e`), ``status`` (met / on_track / at_risk / off_track /
        no_data) and ``source`` (``"kpi"``, ``"checkin"`` or ``"none"``).
    """
    order = term_order(config)
    rank = {t: i for i, t in enumerate(order)}
    now = rank[config.term(term).id]
    values = kpi_values(kpi_table) if kpi_table is not None and len(kpi_table) else None
    if values is not None:
        values = values[values["term"].map(rank).le(now) & values["value"].notna()]
        values = values.assign(_r=values["term"].map(rank)).sort_values("_r")
    latest_reviews = None
    if reviews is not None and checkins is not None and len(reviews):
        lr = latest_review_per_term(reviews, checkins, config)
        latest_reviews = lr[lr["term_rank"] <= now].sort_values(["term_rank", "date"])
    rows = []
    for g in goals.itertuples(index=False):
        row = {c: getattr(g, c) for c in _ATTAIN_COLUMNS[:9]}
        row.update(latest_term=None, latest_value=np.nan, attainment=np.nan, expected=np.nan, status="no_data",
                   source="none")
        start = rank.get(str(g.start_term), 0) if not is_missing(g.start_term) else 0
        due = rank[str(g.due_term)]
        row["expected"] = 1.0 if due <= start else float(np.clip((now - start) / (due - start), 0.0, 1.0))
        hit = None
        if values is not None and not is_missing(g.kpi_id):
            pop = "participants" if is_missing(g.population) else str(g.population)
            v = values[(values["partner_id"] == str(g.partner_id)) & (values["kpi_id"] == str(g.kpi_id))
                       & (values["population"] == pop)]
            if len(v):
                hit = v.iloc[-1]
        if hit is not None:
            p = (hit["value"] - g.baseline) / (g.target - g.baseline)
            row.update(latest_term=hit["term"], latest_value=float(hit["value"]), attainment=float(p),
                       status=_kpi_status(p, row["expected"], now > due), source="kpi")
        elif latest_reviews is not None:
            r = latest_reviews[latest_reviews["goal_id"].astype(str) == str(g.goal_id)]
            if len(r):
                last = r.iloc[-1]
                row.update(latest_term=last["term"], status=str(last["status"]), source="checkin")
        rows.append(row)
    return pd.DataFrame(rows, columns=_ATTAIN_COLUMNS)
