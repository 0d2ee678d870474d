"""What a partner's quarterly report shows of the partnership records: :func:`summary_for_bundle`."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from ..config import DistrictConfig
from .checkins import checkin_compliance, checkin_status, goals_at_risk, open_actions, read_checkin_tables
from .goals import goal_attainment, read_goals
from .investments import (investment_balance, investment_by_category, investment_year_to_date,
                          outcomes_from_kpi_table, read_investments, value_per_outcome)

__all__ = ["summary_for_bundle"]


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
    t = config.term(term)
    as_of = as_of or t.end
    upto = [x.id for x in sorted(config.terms, key=lambda x: x.start) if x.start <= t.start]
    pid = str(partner_id)
    ledger = read_investments(store, partner_id=pid, term=upto)
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
    tabs = read_checkin_tables(store, partner_id=pid)
    # the school year to date: earlier years' gaps are history, not something to act on now
    year = [x.id for x in config.year_terms(term)]
    status = checkin_status(tabs["checkins"], config, as_of=as_of, partners=[pid], terms=year)
    out["checkin_status"] = status.drop(columns="partner_id")
    out["checkin_compliance"] = checkin_compliance(status).drop(columns="partner_id")
    actions = open_actions(tabs["action_items"], tabs["checkins"], as_of=as_of, partner_id=pid)
    out["open_actions"] = actions.drop(columns=["partner_id"])
    goals = read_goals(store, partner_id=pid)
    att = goal_attainment(goals, config, term=term, kpi_table=kpi_table, reviews=tabs["goal_reviews"],
                          checkins=tabs["checkins"])
    out["goals"] = att.drop(columns=["partner_id"])
    out["goals_at_risk"] = goals_at_risk(tabs["goal_reviews"], tabs["checkins"], config).drop(columns="partner_id")
    return out
