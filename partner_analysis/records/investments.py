r"""Investment ledger: what each side (district, partner) puts into a partnership, valued in money.

Entries keep the unit they were entered in (FTE, hours, days or currency);
:func:`value_investments` turns them into money with the rates of
``district.yml`` (``valuation`` section), so changing a rate revalues the
whole history and nothing typed in is ever overwritten.

Valuation
---------
.. math::

    v = \begin{cases}
        a & \text{unit is the currency} \\
        a \cdot r_{role} & \text{unit = hours} \\
        a \cdot h_{day} \cdot r_{role} & \text{unit = days} \\
        a \cdot H_{FTE} \cdot r_{role} & \text{unit = fte}
    \end{cases}

where :math:`a` is the amount, :math:`r_{role}` the hourly rate of the entry's
role (``valuation.hourly_rates``; ``valuation.default_hourly_rate`` when the
role has no rate), :math:`H_{FTE}` the hours of one full-time equivalent for
one term (``valuation.fte_hours_per_term``) and :math:`h_{day}` the hours of
a working day (``valuation.hours_per_day``, default 8).

Balance index
-------------
.. math::

    b = \frac{V_p}{V_d + V_p}

the partner's share of the combined value (:math:`V_d`, :math:`V_p` the
district's and the partner's valued contributions). It is undefined
(``NaN``, band ``"no data"``) when nothing was entered. The band is
``balanced`` inside ``valuation.balance_bands.balanced`` (default
[0.40, 0.60]), ``leaning`` inside ``leaning`` (default [0.25, 0.75]) and
``one-sided`` outside; interval ends belong to the inner band.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from ..config import DistrictConfig
from ..exceptions import ConfigError, InputDataError
from ..i18n import N_
from ._common import (PARTIES, Problem, RecordsContext, check_choice, check_partner, check_term, check_text,
                      is_missing, parse_number, parse_timestamp, problem, raise_problems, term_order)

__all__ = ["CATEGORIES", "CATEGORY_LABELS", "TIME_UNITS", "Valuation", "check_investment", "add_investment",
           "read_investments", "value_investments", "balance_index", "balance_band", "investment_balance",
           "investment_year_to_date", "investment_by_category", "partner_outcomes", "value_per_outcome",
           "outcomes_from_kpi_table",
           "INVESTMENT_COLUMNS"]

#: Units that measure staff time (valued with an hourly rate).
TIME_UNITS = ("fte", "hours", "days")

#: category -> units it may be entered in (``"currency"`` stands for the configured currency code).
CATEGORIES: Mapping[str, tuple[str, ...]] = {
    "staff_fte": ("fte",),
    "staff_hours": ("hours", "days"),
    "funding": ("currency",),
    "in_kind_goods": ("currency",),
    "facilities": ("currency",),
    "equipment_software": ("currency",),
    "training": ("hours", "days", "currency"),
}

CATEGORY_LABELS: Mapping[str, str] = {
    "staff_fte": "Staff (FTE)", "staff_hours": "Staff hours", "funding": "Funding",
    "in_kind_goods": "In-kind goods", "facilities": "Facilities", "equipment_software": "Equipment/software",
    "training": "Training",
}

INVESTMENT_COLUMNS = ("entry_id", "partner_id", "term", "party", "category", "amount", "unit", "role",
                      "description", "entered_by", "entered_at")


@dataclass(frozen=True)
class Valuation:
    """Rates that turn ledger entries into money (from ``district.yml`` ``valuation``).

    Build with :meth:`from_config`; vary with :func:`dataclasses.replace`.
    """

    currency: str = "USD"
    fte_hours_per_term: float = 360.0
    hours_per_day: float = 8.0
    hourly_rates: Mapping[str, float] = field(default_factory=dict)
    default_hourly_rate: float = 40.0
    balanced: tuple[float, float] = (0.4, 0.6)
    leaning: tuple[float, float] = (0.25, 0.75)

    def __post_init__(self):
        for name in ("fte_hours_per_term", "hours_per_day", "default_hourly_rate"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"{name} must be a positive number, found {v!r}", key=f"valuation.{name}")
        for role, rate in self.hourly_rates.items():
            if not isinstance(rate, (int, float)) or rate < 0:
                raise ConfigError(f"hourly rate of role {role!r} must be a non-negative number, found {rate!r}",
                                  key=f"valuation.hourly_rates.{role}")
        (b_lo, b_hi), (l_lo, l_hi) = self.balanced, self.leaning
        if not 0 <= l_lo <= b_lo <= 0.5 <= b_hi <= l_hi <= 1:
            raise ConfigError(
                f"balance bands must nest around 0.5 within [0, 1]: balanced {list(self.balanced)}, "
                f"leaning {list(self.leaning)}", key="valuation.balance_bands",
                fix="Use e.g. balance_bands: {balanced: [0.4, 0.6], leaning: [0.25, 0.75]}")

    @classmethod
    def from_config(cls, config: DistrictConfig | Mapping[str, Any]) -> "Valuation":
        raw = dict(config.valuation if isinstance(config, DistrictConfig) else config)
        source = config.source if isinstance(config, DistrictConfig) else None
        bands = dict(raw.get("balance_bands") or {})
        try:
            return cls(
                currency=str(raw.get("currency", "USD")),
                fte_hours_per_term=float(raw.get("fte_hours_per_term", 360)),
                hours_per_day=float(raw.get("hours_per_day", 8)),
                hourly_rates={str(k): float(v) for k, v in (raw.get("hourly_rates") or {}).items()},
                default_hourly_rate=float(raw.get("default_hourly_rate", 40)),
                balanced=tuple(float(x) for x in bands.get("balanced", (0.4, 0.6))),
                leaning=tuple(float(x) for x in bands.get("leaning", (0.25, 0.75))),
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"the valuation section has a non-numeric value ({err})", path=source,
                              key="valuation") from err

    @property
    def units(self) -> tuple[str, ...]:
        return (*TIME_UNITS, self.currency)

    def rate(self, role: str | None) -> float:
        if role is None or (isinstance(role, float) and np.isnan(role)):
            return self.default_hourly_rate
        return self.hourly_rates.get(str(role), self.default_hourly_rate)

    def allowed_units(self, category: str) -> tuple[str, ...]:
        return tuple(self.currency if u == "currency" else u for u in CATEGORIES[category])


# -- validation and writing -------------------------------------------------------------------------

def check_investment(row: Mapping[str, Any], ctx: RecordsContext) -> tuple[dict, list[Problem]]:
    """Check one ledger entry; return the cleaned entry and the list of problems (empty when valid).

    Checks: known partner, configured term, party, category, a unit allowed for
    the category, a non-negative amount (at most 10 FTE in one entry, a guard
    against hours typed as FTE), a role for staff time, and who entered it.
    """
    problems: list[Problem] = []
    val = Valuation.from_config(ctx.config)
    out: dict[str, Any] = {}
    out["partner_id"] = check_partner(row.get("partner_id"), ctx, problems)
    out["term"] = check_term(row.get("term"), ctx, problems)
    out["party"] = check_choice(row.get("party"), "party", PARTIES, problems, what=N_("party"))
    category = check_choice(row.get("category"), "category", CATEGORIES, problems, what=N_("category"))
    out["category"] = category
    unit = row.get("unit")
    if is_missing(unit) and category is not None and len(val.allowed_units(category)) == 1:
        unit = val.allowed_units(category)[0]
    if is_missing(unit):
        problems.append(problem("unit", unit, N_("a unit is required"), N_("Use one of {allowed}"),
                                allowed=list(val.units)))
        out["unit"] = None
    else:
        u = str(unit).strip()
        if u.lower() in TIME_UNITS:
            u = u.lower()
        if u.upper() == val.currency:
            u = val.currency
        if u not in val.units:
            problems.append(problem("unit", unit, N_("unknown unit {unit!r}"), N_("Use one of {allowed}"), unit=u,
                                    allowed=list(val.units)))
            u = None
        elif category is not None and u not in val.allowed_units(category):
            problems.append(problem("unit", unit, N_("unit {unit!r} does not fit category {category!r}"),
                                    N_("Enter {category} in {allowed}"), unit=u, category=category,
                                    allowed=list(val.allowed_units(category))))
            u = None
        out["unit"] = u
    amount = parse_number(row.get("amount"), "amount", problems, minimum=0.0)
    if amount is not None and out.get("unit") == "fte" and amount > 10:
        problems.append(problem("amount", row.get("amount"), N_("{amount:g} FTE in one entry is implausible"),
                                N_("Enter FTE as a fraction of one full-time person for the term (0.5 = half time)"),
                                amount=amount))
        amount = None
    out["amount"] = amount
    role = row.get("role")
    out["role"] = None if is_missing(role) else str(role).strip()
    if out.get("unit") in TIME_UNITS and out["role"] is None:
        problems.append(problem("role", role, N_("staff time needs a role to be valued"),
                                N_("Use one of {allowed} (others use the default rate)"),
                                allowed=sorted(val.hourly_rates)))
    out["description"] = check_text(row.get("description"), "description", problems, what=N_("a description"),
                                     required=False) or ""
    out["entered_by"] = check_text(row.get("entered_by"), "entered_by", problems, what=N_("who entered it"))
    out["entered_at"] = parse_timestamp(row.get("entered_at"), "entered_at", problems)
    return out, problems


def add_investment(store, ctx: RecordsContext, **entry: Any) -> int:
    """Validate one ledger entry and write it in one transaction; return its ``entry_id``.

    Raises
    ------
    InputDataError
        Listing every problem of the entry (``.errors`` holds one error per problem).
    """
    from .tables import investments
    clean, problems = check_investment(entry, ctx)
    raise_problems(problems, what="investment entry")
    with store.transaction() as conn:
        result = conn.execute(insert(investments).values(**clean))
        return int(result.inserted_primary_key[0])


def read_investments(store, *, partner_id: str | Iterable[str] | None = None,
                     term: str | Iterable[str] | None = None) -> pd.DataFrame:
    """The ledger as a tidy frame with columns :data:`INVESTMENT_COLUMNS` (ids as strings)."""
    from .tables import investments
    stmt = select(investments).order_by(investments.c.entry_id)
    if partner_id is not None:
        ids = [partner_id] if isinstance(partner_id, str) else list(partner_id)
        stmt = stmt.where(investments.c.partner_id.in_(ids))
    if term is not None:
        terms = [term] if isinstance(term, str) else list(term)
        stmt = stmt.where(investments.c.term.in_(terms))
    with store.engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(stmt).mappings().all(), columns=list(INVESTMENT_COLUMNS))
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in ("partner_id", "term", "party", "category", "unit", "role", "description", "entered_by"):
        out[col] = out[col].astype("string")
    out["amount"] = pd.to_numeric(out["amount"]).astype("float64")
    out["entered_at"] = pd.to_datetime(out["entered_at"])
    return out


# -- valuation and metrics --------------------------------------------------------------------------

def value_investments(data: pd.DataFrame, *, valuation: Valuation) -> pd.DataFrame:
    """Add ``hours``, ``hourly_rate`` and ``value`` (money) to ledger rows; the input is not modified.

    Parameters
    ----------
    data : DataFrame
        Ledger rows with ``amount``, ``unit`` and ``role`` (see :func:`read_investments`).
    valuation : Valuation
        Rates, e.g. ``Valuation.from_config(config)``.

    Returns
    -------
    DataFrame
        The input columns plus ``hours`` (staff time in hours, NaN for money units),
        ``hourly_rate`` (NaN for money units) and ``value`` (in ``valuation.currency``).

    Raises
    ------
    InputDataError
        When a unit is neither a time unit nor the configured currency.
    """
    out = data.copy()
    unit = out["unit"].astype("string")
    bad = ~unit.isin(valuation.units)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputDataError(f"unknown unit {unit.iloc[i]!r}", column="unit", value=unit.iloc[i],
                             fix=f"Use one of {list(valuation.units)}")
    amount = out["amount"].astype("float64")
    per_unit_hours = unit.map({"hours": 1.0, "days": valuation.hours_per_day,
                               "fte": valuation.fte_hours_per_term}).astype("float64")
    out["hours"] = amount * per_unit_hours
    roles = out["role"] if "role" in out else pd.Series(pd.NA, index=out.index)
    rate = roles.map(lambda r: valuation.rate(None if r is pd.NA else r)).astype("float64")
    out["hourly_rate"] = rate.where(unit.isin(TIME_UNITS))
    out["value"] = np.where(unit == valuation.currency, amount, out["hours"] * out["hourly_rate"])
    return out


def balance_index(district_value, partner_value):
    r"""Partner share of the combined value, :math:`b = V_p / (V_d + V_p)`; NaN where both are 0.

    Works on scalars and arrays.
    """
    d = np.asarray(district_value, dtype="float64")
    p = np.asarray(partner_value, dtype="float64")
    total = d + p
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, p / np.where(total > 0, total, 1.0), np.nan)
    return float(share) if share.ndim == 0 else share


def balance_band(share, *, valuation: Valuation):
    """``"balanced"``, ``"leaning"``, ``"one-sided"`` or ``"no data"`` for a balance index (scalar or array)."""
    s = np.asarray(share, dtype="float64")
    (b_lo, b_hi), (l_lo, l_hi) = valuation.balanced, valuation.leaning
    # a small tolerance keeps 0.4 computed as 0.39999999999999997 inside the band it was meant for
    eps = 1e-12
    band = np.select([np.isnan(s), (s >= b_lo - eps) & (s <= b_hi + eps), (s >= l_lo - eps) & (s <= l_hi + eps)],
                     ["no data", "balanced", "leaning"], default="one-sided")
    return str(band) if band.ndim == 0 else band.astype(object)


_BALANCE_COLUMNS = ["partner_id", "term", "district_value", "partner_value", "total_value", "partner_share",
                    "balance_band", "district_hours", "partner_hours", "n_entries"]


def _sides(valued: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    v = valued.assign(hours=valued["hours"].fillna(0.0))
    wide = v.pivot_table(index=keys, columns="party", values=["value", "hours"], aggfunc="sum", fill_value=0.0,
                         observed=True)
    out = pd.DataFrame(index=wide.index)
    for party in PARTIES:
        out[f"{party}_value"] = wide[("value", party)] if ("value", party) in wide.columns else 0.0
        out[f"{party}_hours"] = wide[("hours", party)] if ("hours", party) in wide.columns else 0.0
    out["n_entries"] = v.groupby(keys, observed=True).size()
    return out.reset_index()


def investment_balance(data: pd.DataFrame, config: DistrictConfig, *, partners: Iterable[str] | None = None,
                       terms: Iterable[str] | None = None) -> pd.DataFrame:
    """Balance per partner and term, with the trend across terms.

    Parameters
    ----------
    data : DataFrame
        Ledger rows (:func:`read_investments`).
    config : DistrictConfig
        Supplies the rates, bands and term order.
    partners, terms : optional
        Rows for every partner × term combination asked for, including those
        with no entries (values 0, band ``"no data"``). Default: those present
        in ``data`` (terms: every configured term up to the last one present).

    Returns
    -------
    DataFrame
        One row per partner × term, in term order: ``partner_id``, ``term``,
        ``district_value``, ``partner_value``, ``total_value``, ``partner_share``
        (the balance index), ``balance_band``, ``district_hours``,
        ``partner_hours`` (staff time per side), ``n_entries`` and
        ``change_partner_share`` (difference from the partner's previous term).
    """
    val = Valuation.from_config(config)
    order = term_order(config)
    valued = value_investments(data, valuation=val)
    if partners is None:
        partners = sorted(valued["partner_id"].dropna().unique())
    if terms is None:
        present = [t for t in order if t in set(valued["term"].dropna())]
        terms = order[: order.index(present[-1]) + 1] if present else []
    partners, terms = [str(p) for p in partners], [str(t) for t in terms]
    grid = pd.MultiIndex.from_product([partners, terms], names=["partner_id", "term"]).to_frame(index=False)
    if len(valued):
        sides = _sides(valued.assign(partner_id=valued["partner_id"].astype(str), term=valued["term"].astype(str)),
                       ["partner_id", "term"])
        out = grid.merge(sides, on=["partner_id", "term"], how="left")
    else:
        out = grid.assign(**{c: np.nan for c in ("district_value", "partner_value", "district_hours",
                                                 "partner_hours", "n_entries")})
    for c in ("district_value", "partner_value", "district_hours", "partner_hours"):
        out[c] = out[c].astype("float64").fillna(0.0)
    out["n_entries"] = out["n_entries"].fillna(0).astype("int64")
    return _finish_balance(out, val, order)


def _finish_balance(out: pd.DataFrame, val: Valuation, order: list[str]) -> pd.DataFrame:
    out["total_value"] = out["district_value"] + out["partner_value"]
    out["partner_share"] = balance_index(out["district_value"].to_numpy(), out["partner_value"].to_numpy())
    out["balance_band"] = balance_band(out["partner_share"].to_numpy(), valuation=val)
    rank = {t: i for i, t in enumerate(order)}
    out = out.assign(_r=out["term"].map(rank)).sort_values(["partner_id", "_r"]).drop(columns="_r")
    out["change_partner_share"] = out.groupby("partner_id")["partner_share"].diff()
    return out[_BALANCE_COLUMNS + ["change_partner_share"]].reset_index(drop=True)


def investment_year_to_date(data: pd.DataFrame, config: DistrictConfig, *, term: str,
                            partners: Iterable[str] | None = None) -> pd.DataFrame:
    """Balance summed over the school year up to and including ``term`` (one row per partner).

    Same columns as :func:`investment_balance`; ``term`` holds the last term
    included and ``terms_included`` the number of terms summed.
    """
    val = Valuation.from_config(config)
    ytd_terms = [t.id for t in config.year_terms(term)]
    per_term = investment_balance(data, config, partners=partners, terms=ytd_terms)
    sums = per_term.groupby("partner_id", as_index=False)[["district_value", "partner_value", "district_hours",
                                                           "partner_hours", "n_entries"]].sum()
    sums["term"] = term
    out = _finish_balance(sums, val, term_order(config)).drop(columns="change_partner_share")
    out["terms_included"] = len(ytd_terms)
    return out


def investment_by_category(data: pd.DataFrame, config: DistrictConfig, *,
                           terms: Iterable[str] | None = None) -> pd.DataFrame:
    """Valued contributions by partner × term × party × category (tidy, for stacked bars).

    Returns
    -------
    DataFrame
        ``partner_id``, ``term``, ``party``, ``category``, ``category_label``,
        ``value``, ``hours``, ``n_entries``; only combinations with entries.
    """
    val = Valuation.from_config(config)
    valued = value_investments(data, valuation=val)
    if terms is not None:
        valued = valued[valued["term"].isin(list(terms))]
    keys = ["partner_id", "term", "party", "category"]
    cols = keys + ["category_label", "value", "hours", "n_entries"]
    if valued.empty:
        return pd.DataFrame(columns=cols)
    grouped = valued.assign(hours=valued["hours"].fillna(0.0)).groupby(keys, observed=True)
    out = grouped.agg(value=("value", "sum"), hours=("hours", "sum"), n_entries=("value", "size")).reset_index()
    out["category_label"] = out["category"].map(CATEGORY_LABELS)
    return out[cols]


# -- value per outcome ------------------------------------------------------------------------------

_OUTCOME_COLUMNS = ("participants", "credits_earned", "wbl_hours")


def partner_outcomes(dataset, *, terms: Iterable[str] | None = None) -> pd.DataFrame:
    """Aggregate outcome counts per partner and term from a district dataset.

    A student participates in a term when one of their participation spans
    (``start_date``..``end_date``, open-ended when missing) overlaps the term.

    Returns
    -------
    DataFrame
        ``partner_id``, ``term``, ``participants`` (distinct students),
        ``credits_earned`` (credits those students earned that term) and
        ``wbl_hours`` (work-based-learning hours logged in the partner's
        programs that term). Aggregates only; nothing student-level.
    """
    config = dataset.config
    wanted = list(terms) if terms is not None else list(config.term_ids)
    programs = dataset.get("programs")
    part = dataset.get("participation")
    if programs is None or part is None:
        return pd.DataFrame(columns=["partner_id", "term", *_OUTCOME_COLUMNS])
    prog_partner = programs.set_index("program_id")["partner_id"].astype(str)
    part = part.assign(partner_id=part["program_id"].map(prog_partner),
                       start=pd.to_datetime(part["start_date"]), end=pd.to_datetime(part["end_date"]))
    grades = dataset.get("course_grades")
    wbl = dataset.get("wbl_hours")
    rows = []
    for tid in wanted:
        t = config.term(tid)
        start, end = pd.Timestamp(t.start), pd.Timestamp(t.end)
        active = part[(part["start"] <= end) & (part["end"].isna() | (part["end"] >= start))]
        pairs = active[["partner_id", "student_id"]].drop_duplicates()
        counts = pairs.groupby("partner_id").size()
        credits = pd.Series(dtype="float64")
        if grades is not None and len(pairs):
            g = grades[grades["term_id"].astype(str) == tid][["student_id", "credits_earned"]]
            g = g.groupby("student_id", as_index=False)["credits_earned"].sum()
            credits = pairs.merge(g, on="student_id").groupby("partner_id")["credits_earned"].sum()
        hours = pd.Series(dtype="float64")
        if wbl is not None:
            d = pd.to_datetime(wbl["date"])
            w = wbl[(d >= start) & (d <= end)]
            hours = w.assign(partner_id=w["program_id"].map(prog_partner)).groupby("partner_id")["hours"].sum()
        for pid in sorted(set(counts.index) | set(hours.index)):
            rows.append({"partner_id": str(pid), "term": tid, "participants": int(counts.get(pid, 0)),
                         "credits_earned": float(credits.get(pid, 0.0)), "wbl_hours": float(hours.get(pid, 0.0))})
    return pd.DataFrame(rows, columns=["partner_id", "term", *_OUTCOME_COLUMNS])


def value_per_outcome(balance: pd.DataFrame, outcomes: pd.DataFrame | None) -> pd.DataFrame:
    """Combined investment per participating student, per credit earned and per WBL hour.

    Parameters
    ----------
    balance : DataFrame
        From :func:`investment_balance` or :func:`investment_year_to_date`.
    outcomes : DataFrame or None
        ``partner_id``, ``term`` and any of ``participants``, ``credits_earned``,
        ``wbl_hours`` (e.g. :func:`partner_outcomes`, or aggregates from the KPI
        panel). For year-to-date balances pass outcomes summed to match.

    Returns
    -------
    DataFrame
        ``balance`` plus the outcome columns and ``value_per_student``,
        ``value_per_credit``, ``value_per_wbl_hour`` (NaN where the outcome is
        missing or zero).
    """
    out = balance.copy()
    if outcomes is None or outcomes.empty:
        outcomes = pd.DataFrame(columns=["partner_id", "term"])
    cols = [c for c in _OUTCOME_COLUMNS if c in outcomes.columns]
    o = outcomes[["partner_id", "term", *cols]].astype({"partner_id": str, "term": str})
    out = out.merge(o, on=["partner_id", "term"], how="left")
    for c, name in zip(_OUTCOME_COLUMNS, ("value_per_student", "value_per_credit", "value_per_wbl_hour")):
        if c not in out:
            out[c] = np.nan
        denom = pd.to_numeric(out[c], errors="coerce").astype("float64")
        out[name] = out["total_value"] / denom.where(denom > 0)
    return out


def outcomes_from_kpi_table(kpi_table: pd.DataFrame) -> pd.DataFrame:
    """Outcome counts per partner and term recovered from the KPI engine's comparison table.

    ``participants`` is the largest participant count ``n_t`` over the
    partner-wide KPIs; ``credits_earned`` and ``wbl_hours`` are
    :math:`\\bar{x}_t \\cdot n_t` of the KPIs of those ids (NaN when suppressed).
    """
    t = kpi_table
    if "program_id" in t:
        t = t[t["program_id"].astype(str) == "all"]
    if "subgroup" in t:
        t = t[t["subgroup"].isna() | t["subgroup"].astype(str).isin(["all", ""])]
    cols = ["partner_id", "term", *_OUTCOME_COLUMNS]
    if t.empty or "n_t" not in t:
        return pd.DataFrame(columns=cols)
    t = t.assign(partner_id=t["partner_id"].astype(str), term=t["term"].astype(str),
                 n_t=pd.to_numeric(t["n_t"], errors="coerce"), mean_t=pd.to_numeric(t["mean_t"], errors="coerce"))
    out = t.groupby(["partner_id", "term"], as_index=False)["n_t"].max().rename(columns={"n_t": "participants"})
    for kpi in ("credits_earned", "wbl_hours"):
        k = t[t["kpi_id"] == kpi].assign(**{kpi: lambda d: d["mean_t"] * d["n_t"]})[["partner_id", "term", kpi]]
        out = out.merge(k, on=["partner_id", "term"], how="left")
    return out[cols]
