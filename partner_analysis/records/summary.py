"""What a partner's quarterly report shows of the partnership records: :func:`summary_for_bundle`."""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

import pandas as pd

from ..config import DistrictConfig
from .checkins import checkin_compliance, checkin_status, goals_at_risk, open_actions, read_checkin_tables
from .goals import goal_attainment, read_goals
from .investments import (investment_balance, investment_by_category, investment_year_to_date,
                          outcomes_from_kpi_table, read_investments, value_per_outcome)

__all__ = ["summary_for_bundle", "summaries_for_bundles"]


def summary_for_bundle(store, config: DistrictConfig, *, term: str, partner_id: str,
                       kpi_table: pd.DataFrame | None = None, as_of: dt.date | None = None
                       ) -> dict[str, pd.DataFrame]:
    """Aggregated records of one partner for the report bundle (no student-level data).

    Parameters
    ----------
    store : Store
    config : DistrictConfig
    term : str
        The report term; terms up to it are included.
    partner_id : str
    kpi_table : DataFrame, optional
        The KPI comparison table (``kpi.compare.compare_partners``), for goal
        attainment and value per student/credit/WBL hour.
    as_of : date, optional
        Day the check-in and action flags are judged on (default: the term's last day).

    Returns
    -------
    dict of DataFrame
        ``"investment_balance"`` (term, district_value, partner_value, total_value,
        partner_share, balance_band, district_hours, partner_hours, n_entries,
        change_partner_share; from the partner's first ledger term up to ``term``,
        empty when the partner has no ledger), ``"investment_ytd"`` (same, summed over the school
        year to date), ``"investment_by_category"`` (term, party, category,
        category_label, value, hours, n_entries; the report term),
        ``"investment_per_outcome"`` (term, total_value, participants,
        credits_earned, wbl_hours, value_per_student, value_per_credit,
        value_per_wbl_hour), ``"checkin_status"`` (term, held, n_checkins,
        last_date, status; the school year up to ``term``), ``"checkin_compliance"``, ``"open_actions"`` (action_id, checkin_id,
        checkin_date, description, owner, side, due_date, days_past_due, past_due), ``"goals"`` (goal_id, description, kpi_id,
        baseline, target, due_term, latest_value, attainment, status, source) and
        ``"goals_at_risk"``.
    """
    tabs = _read_records(store, config, term=term, partner_ids=[str(partner_id)])
    return _summary(tabs, config, term=term, partner_id=str(partner_id), kpi_table=kpi_table, as_of=as_of)


def summaries_for_bundles(store, config: DistrictConfig, *, term: str, partner_ids: Iterable[str],
                          kpi_table: pd.DataFrame | None = None, as_of: dt.date | None = None
                          ) -> Callable[[str], dict[str, pd.DataFrame]]:
    """:func:`summary_for_bundle` of many partners, the store read once for all of them.

    A report batch asks for every partner's records: one query per records table for all partners
    (made now) instead of one per partner. Returns a function of a partner id (one of
    ``partner_ids``) that computes that partner's tables from its rows of those frames when asked
    (the batch starts a partner's report as soon as its bundle exists); they equal what
    :func:`summary_for_bundle` returns for that partner alone.

    Parameters
    ----------
    kpi_table : DataFrame, optional
        The KPI comparison table of all these partners; each partner gets its own rows
        (``partner_id``), as :func:`summary_for_bundle` would be passed them.
    """
    pids = frozenset(str(p) for p in partner_ids)
    every = _read_records(store, config, term=term, partner_ids=sorted(pids))
    by_partner = {key: _split(frame, "partner_id") for key, frame in every.items()
                  if key in ("ledger", "checkins", "goals")}
    checkin_partner = dict(zip(every["checkins"]["checkin_id"].astype(str),
                               every["checkins"]["partner_id"].astype(str)))
    by_checkin = {key: _split(every[key], "checkin_id", checkin_partner)
                  for key in ("attendees", "goal_reviews", "action_items")}
    kpi_pids = None if kpi_table is None else kpi_table["partner_id"].astype(str)

    none_yet: dict[str, pd.DataFrame] = {}

    def summary(partner_id: str) -> dict[str, pd.DataFrame]:
        pid = str(partner_id)
        if pid not in pids:
            raise KeyError(f"partner {pid!r} was not read (not in partner_ids)")
        tabs = {key: _rows(every[key], parts.get(pid)) for key, parts in {**by_partner, **by_checkin}.items()}
        if not any(len(frame) for frame in tabs.values()):
            # No records at all (most partners of a large district): the tables hold no partner id and
            # no KPI figure (nothing refers to one), so they are the same for every such partner.
            if not none_yet:
                none_yet.update(_summary(tabs, config, term=term, partner_id=pid, kpi_table=None, as_of=as_of))
            return {name: frame.copy() for name, frame in none_yet.items()}
        mine = None if kpi_table is None else kpi_table[kpi_pids == pid]
        return _summary(tabs, config, term=term, partner_id=pid, kpi_table=mine, as_of=as_of)

    return summary


def _split(frame: pd.DataFrame, column: str, to_partner: dict | None = None) -> dict[str, list[int]]:
    """Row positions of each partner in ``frame`` (by ``column``, mapped to a partner through ``to_partner``)."""
    keys = frame[column].astype(str)
    if to_partner is not None:
        keys = keys.map(to_partner)
    out: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        out.setdefault(key, []).append(i)
    return out


def _rows(frame: pd.DataFrame, positions: list[int] | None) -> pd.DataFrame:
    """The rows at ``positions`` with a fresh index, as a query for them alone would return them."""
    return frame.iloc[positions or []].reset_index(drop=True)


def _read_records(store, config: DistrictConfig, *, term: str, partner_ids: list[str]) -> dict[str, pd.DataFrame]:
    t = config.term(term)
    upto = [x.id for x in sorted(config.terms, key=lambda x: x.start) if x.start <= t.start]
    tabs = read_checkin_tables(store, partner_id=partner_ids)
    return {"ledger": read_investments(store, partner_id=partner_ids, term=upto), **tabs,
            "goals": read_goals(store, partner_id=partner_ids)}


def _summary(tabs: dict[str, pd.DataFrame], config: DistrictConfig, *, term: str, partner_id: str,
             kpi_table: pd.DataFrame | None, as_of: dt.date | None) -> dict[str, pd.DataFrame]:
    t = config.term(term)
    as_of = as_of or t.end
    upto = [x.id for x in sorted(config.terms, key=lambda x: x.start) if x.start <= t.start]
    pid = str(partner_id)
    ledger = tabs["ledger"]
    out: dict[str, pd.DataFrame] = {}
    if len(ledger):
        first = min(upto.index(x) for x in ledger["term"].astype(str).unique())
        bal = investment_balance(ledger, config, partners=[pid], terms=upto[first:])
        out["investment_balance"] = bal.drop(columns="partner_id")
        out["investment_ytd"] = investment_year_to_date(ledger, config, term=term, partners=[pid]
                                                        ).drop(columns="partner_id")
        out["investment_by_category"] = investment_by_category(ledger, config, terms=[term]).drop(columns="partner_id")
        outcomes = outcomes_from_kpi_table(kpi_table) if kpi_table is not None and len(kpi_table) else None
        per = value_per_outcome(bal[bal["term"] == term], outcomes)
        out["investment_per_outcome"] = per[["term", "total_value", "participants", "credits_earned", "wbl_hours",
                                             "value_per_student", "value_per_credit", "value_per_wbl_hour"]]
    else:
        out["investment_balance"] = pd.DataFrame(columns=["term", "district_value", "partner_value", "total_value",
                                                          "partner_share", "balance_band"])
        out["investment_by_category"] = pd.DataFrame(columns=["term", "party", "category", "value"])
    # the school year to date: earlier years' gaps are history, not something to act on now
    year = [x.id for x in config.year_terms(term)]
    status = checkin_status(tabs["checkins"], config, as_of=as_of, partners=[pid], terms=year)
    out["checkin_status"] = status.drop(columns="partner_id")
    out["checkin_compliance"] = checkin_compliance(status).drop(columns="partner_id")
    actions = open_actions(tabs["action_items"], tabs["checkins"], as_of=as_of, partner_id=pid)
    out["open_actions"] = actions.drop(columns=["partner_id"])
    goals = tabs["goals"]
    att = goal_attainment(goals, config, term=term, kpi_table=kpi_table, reviews=tabs["goal_reviews"],
                          checkins=tabs["checkins"])
    out["goals"] = att.drop(columns=["partner_id"])
    out["goals_at_risk"] = goals_at_risk(tabs["goal_reviews"], tabs["checkins"], config).drop(columns="partner_id")
    return out
