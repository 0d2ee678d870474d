"""What ``notebooks/partnership_records.ipynb`` shows, as one call per cell.

:func:`open_records` opens the store and the district configuration once;
the :class:`RecordsSession` methods return the tidy frames, charts and
forms of the notebook, so that the notebook holds no logic.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import DistrictConfig, load_config
from ._common import RecordsContext, term_order
from .checkins import checkin_compliance, checkin_status, goals_at_risk, open_actions, read_checkin_tables
from .goals import goal_attainment, read_goals
from .investments import (Valuation, investment_balance, investment_by_category, investment_year_to_date,
                          read_investments)

__all__ = ["RecordsSession", "open_records"]


@dataclass
class RecordsSession:
    """An open records store with its configuration, partner list and report term."""

    store: object
    config: DistrictConfig
    ctx: RecordsContext
    term: str
    as_of: dt.date
    partners: list[str] = field(default_factory=list)

    # -- tables -------------------------------------------------------------------------------------
    def balance(self) -> pd.DataFrame:
        """Balance per partner for every term up to the session term (see ``investment_balance``)."""
        upto = self._upto()
        return investment_balance(read_investments(self.store, term=upto), self.config, partners=self.partners,
                                  terms=upto)

    def balance_this_term(self) -> pd.DataFrame:
        b = self.balance()
        return b[b["term"] == self.term].reset_index(drop=True)

    def year_to_date(self) -> pd.DataFrame:
        return investment_year_to_date(read_investments(self.store), self.config, term=self.term,
                                       partners=self.partners)

    def by_category(self, partner_id: str | None = None) -> pd.DataFrame:
        """Valued contributions by side and category this term (default partner: :meth:`most_one_sided`)."""
        partner_id = partner_id or self.most_one_sided() or ""
        return investment_by_category(read_investments(self.store, partner_id=partner_id), self.config,
                                      terms=[self.term])

    def checkin_status(self) -> pd.DataFrame:
        tabs = read_checkin_tables(self.store)
        year = [t.id for t in self.config.year_terms(self.term)]
        return checkin_status(tabs["checkins"], self.config, as_of=self.as_of, partners=self.partners, terms=year)

    def compliance(self) -> pd.DataFrame:
        return checkin_compliance(self.checkin_status())

    def open_actions(self) -> pd.DataFrame:
        tabs = read_checkin_tables(self.store)
        return open_actions(tabs["action_items"], tabs["checkins"], as_of=self.as_of)

    def goals(self, kpi_table: pd.DataFrame | None = None) -> pd.DataFrame:
        tabs = read_checkin_tables(self.store)
        return goal_attainment(read_goals(self.store), self.config, term=self.term, kpi_table=kpi_table,
                               reviews=tabs["goal_reviews"], checkins=tabs["checkins"])

    def goals_at_risk(self) -> pd.DataFrame:
        tabs = read_checkin_tables(self.store)
        return goals_at_risk(tabs["goal_reviews"], tabs["checkins"], self.config)

    # -- charts and forms ---------------------------------------------------------------------------
    def category_chart(self, partner_id: str | None = None):
        """Stacked bars of both sides' contributions (default partner: :meth:`most_one_sided`)."""
        from .plots import plot_investment_by_category
        partner_id = partner_id or self.most_one_sided() or ""
        return plot_investment_by_category(self.by_category(partner_id), currency=Valuation.from_config(
            self.config).currency, title=f"Investment by side and category, {partner_id}, {self.term}")

    def trend_chart(self, partner_id: str | None = None):
        from .plots import plot_balance_trend
        b = self.balance()
        if partner_id is not None:
            b = b[b["partner_id"] == partner_id]
        return plot_balance_trend(b, valuation=Valuation.from_config(self.config),
                                  title="Balance of contributions across terms"
                                  + (f", {partner_id}" if partner_id else ""))

    def most_one_sided(self) -> str | None:
        """The partner whose balance this term lies furthest from an even split (None without data)."""
        b = self.balance_this_term().dropna(subset=["partner_share"])
        if b.empty:
            return None
        return str(b.loc[(b["partner_share"] - 0.5).abs().idxmax(), "partner_id"])

    def investment_form(self, *, entered_by: str = ""):
        from .forms import investment_form
        return investment_form(self.store, self.ctx, entered_by=entered_by)

    def checkin_form(self, partner_id: str | None = None, *, entered_by: str = ""):
        """The check-in form of ``partner_id`` (default: the first partner)."""
        from ..exceptions import ConfigError
        from .forms import checkin_form
        partner_id = partner_id or (self.partners[0] if self.partners else None)
        if partner_id is None:
            raise ConfigError("no partners are known", fix="Open the records with data_dir= or register partnerships")
        return checkin_form(self.store, self.ctx, partner_id=partner_id, entered_by=entered_by)

    def goal_form(self, partner_id: str | None = None, *, entered_by: str = ""):
        """The goal form ("Set a goal"); asks for the partner unless ``partner_id`` is given."""
        from .forms import goal_form
        return goal_form(self.store, self.ctx, entered_by=entered_by, partner_id=partner_id)

    def correct_checkin(self, checkin_id: str, changes: dict, *, editor: str, reason: str) -> pd.DataFrame:
        """Correct a stored check-in against the session's terms (see ``checkins.correct_checkin``)."""
        from .checkins import correct_checkin
        return correct_checkin(self.store, checkin_id, changes, editor=editor, reason=reason, ctx=self.ctx)

    def audit(self, partner_id: str | None = None) -> pd.DataFrame:
        """Corrections of stored records, one row per changed field (see ``audit.read_audit``)."""
        from .audit import read_audit
        return read_audit(self.store, partner_id=partner_id)

    def _upto(self) -> list[str]:
        order = term_order(self.config)
        return order[: order.index(self.term) + 1]


def open_records(db: str = "", data_dir: str = "", *, term: str = "", as_of: dt.date | str | None = None
                 ) -> RecordsSession:
    """Open the records store and configuration for the notebook.

    Parameters
    ----------
    db : str
        Store URL or path ("" = ``data_dir/records/records.sqlite``, then ``$PA_DB_URL``).
    data_dir : str
        DATA_DIR with ``district.yml`` and ``partners.parquet`` ("" = embedded config, the store's partners).
    term : str
        Report term ("" = the term holding ``as_of``, else the latest term with any record).
    as_of : date, optional
        Day flags are judged on (default: today, capped at the term's last day).
    """
    from ..store import Store
    from ._common import records_context
    store = Store(db or None, data_dir=data_dir or None)
    config = load_config(data_dir or None)
    partners = None
    if data_dir and (Path(data_dir) / "partners.parquet").exists():
        partners = sorted(pd.read_parquet(Path(data_dir) / "partners.parquet", columns=["partner_id"])
                          ["partner_id"].astype(str))
    ctx = records_context(store, config, partners)
    if partners is None:
        partners = sorted(ctx.partners or [])
    today = pd.Timestamp(as_of).date() if as_of else dt.date.today()
    if not term:
        current = config.term_for_date(today)
        if current is not None:
            term = current.id
        else:
            seen = set(read_investments(store)["term"]) | set(read_checkin_tables(store)["checkins"]["term"])
            order = term_order(config)
            term = max(seen, key=order.index) if seen else order[-1]
    t = config.term(term)
    return RecordsSession(store=store, config=config, ctx=ctx, term=t.id, as_of=min(today, t.end),
                          partners=list(partners))
