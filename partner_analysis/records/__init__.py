"""Partnership records: the investment ledger, quarterly check-ins and goals.

What people type in lives in the records store (:mod:`partner_analysis.store`,
tables in :mod:`.tables`); the functions here read it into tidy frames and
compute balance, compliance, open actions and goal attainment.
:func:`~.summary.summary_for_bundle` assembles what a partner's quarterly report shows.
"""
from __future__ import annotations

from ._common import Problem, RecordsContext, records_context
from .audit import read_audit
from .checkins import (GOAL_STATUSES, add_checkin, checkin_compliance, checkin_status, correct_checkin,
                       goals_at_risk, open_actions, read_checkin_tables, set_action_done)
from .goals import add_goal, goal_attainment, read_goals
from .investments import (CATEGORIES, Valuation, add_investment, balance_band, balance_index, investment_balance,
                          investment_by_category, investment_year_to_date, outcomes_from_kpi_table,
                          partner_outcomes, read_investments, value_investments, value_per_outcome)
from .summary import summary_for_bundle

__all__ = ["summary_for_bundle", "records_context", "RecordsContext", "Problem", "Valuation", "CATEGORIES",
           "GOAL_STATUSES", "add_investment", "read_investments", "value_investments", "balance_index",
           "balance_band", "investment_balance", "investment_year_to_date", "investment_by_category",
           "partner_outcomes", "outcomes_from_kpi_table", "value_per_outcome", "add_checkin",
           "read_checkin_tables", "set_action_done", "checkin_status", "checkin_compliance", "open_actions",
           "goals_at_risk", "add_goal", "read_goals", "goal_attainment", "correct_checkin", "read_audit"]
