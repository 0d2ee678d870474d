"""Charts of the records area: investment by category (stacked bars) and the balance trend.

Each function draws with seaborn and returns a :class:`Chart` ``(fig, alt, data)``:
the figure, an alt text that states what the chart shows in words and numbers,
and the tidy table it was drawn from (the chart's data-table twin). A chart
without alt text (or with a placeholder such as "chart") is refused, by the same
rule as :mod:`partner_analysis.plots`.
"""
from __future__ import annotations

from typing import NamedTuple

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ..exceptions import InputDataError
from .. import plots
from .investments import CATEGORY_LABELS, Valuation

__all__ = ["Chart", "plot_investment_by_category", "plot_balance_trend", "show_chart"]


class Chart(NamedTuple):
    """A figure with its alt text and the data table behind it."""

    fig: plt.Figure
    alt: str
    data: pd.DataFrame


def _chart(fig, alt: str, data: pd.DataFrame) -> Chart:
    # the alt-text / data-table contract lives in partner_analysis.plots, so report code reads these charts alike
    alt = plots.check_alt(alt)
    for ax in fig.axes:
        plots.attach_chart(ax, alt, data)
    return Chart(fig, alt, data)


def show_chart(chart: Chart) -> None:
    """Display a chart in a notebook as a PNG with its alt text, then its data table; closes the figure."""
    plots.show_chart(chart.fig, alt=chart.alt)


def _money(x: float, currency: str) -> str:
    sign = "$" if currency == "USD" else ""
    suffix = "" if sign else f" {currency}"
    return f"{sign}{x:,.0f}{suffix}"


def plot_investment_by_category(data: pd.DataFrame, *, currency: str = "USD", title: str | None = None,
                                ax: plt.Axes | None = None) -> Chart:
    """Stacked bars of each side's valued contribution, split by category.

    Parameters
    ----------
    data : DataFrame
        From :func:`~partner_analysis.records.investments.investment_by_category`
        (``party``, ``category``, ``value``; summed over any other columns).
    currency : str
        For axis label and alt text.
    ax : Axes, optional
        Drawn on (default: a new figure).

    Returns
    -------
    Chart
        ``data`` of the chart: party, category, category_label, value.
    """
    for col in ("party", "category", "value"):
        if col not in data:
            raise InputDataError(f"column '{col}' is missing from the investment table", column=col,
                                 fix="Pass the frame from investment_by_category()")
    table = (data.groupby(["party", "category"], as_index=False, observed=True)["value"].sum()
             .assign(category_label=lambda d: d["category"].map(CATEGORY_LABELS).fillna(d["category"])))
    table = table[["party", "category", "category_label", "value"]].sort_values(["party", "category"])
    table = table.reset_index(drop=True)
    ax = plots.new_axes(ax, figsize=(7, 3.2))
    fig = ax.figure
    if len(table):
        sns.histplot(data=table, y="party", hue="category_label", weights="value", multiple="stack",
                     discrete=True, shrink=0.7, ax=ax, palette="colorblind", edgecolor="white")
        legend = ax.get_legend()
        if legend is not None:
            legend.set_title("Category")
            sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.set_xlabel(f"Value ({currency})")
    ax.set_ylabel("")
    ax.set_title(title or "Investment by side and category")
    sns.despine(ax=ax)
    if not len(table):
        alt = "No investment entries were recorded for this period, so the chart is empty."
    else:
        parts = []
        for party, g in table.groupby("party"):
            items = ", ".join(f"{r.category_label} {_money(r.value, currency)}"
                              for r in g.sort_values("value", ascending=False).itertuples())
            parts.append(f"{party} {_money(g['value'].sum(), currency)} ({items})")
        alt = ("Horizontal stacked bars of the value each side contributed, split by category: "
               + "; ".join(parts) + ".")
    return _chart(fig, alt, table)


def plot_balance_trend(data: pd.DataFrame, *, valuation: Valuation | None = None, title: str | None = None,
                       ax: plt.Axes | None = None) -> Chart:
    """Line chart of the balance index (partner share) across terms, with the bands shaded.

    Parameters
    ----------
    data : DataFrame
        From :func:`~partner_analysis.records.investments.investment_balance`
        (``term``, ``partner_share``; ``partner_id`` draws one line per partner).
    valuation : Valuation, optional
        Band limits for the shading (default: the default bands).

    Returns
    -------
    Chart
        ``data`` of the chart: partner_id (when present), term, partner_share, balance_band.
    """
    val = valuation or Valuation()
    for col in ("term", "partner_share"):
        if col not in data:
            raise InputDataError(f"column '{col}' is missing from the balance table", column=col,
                                 fix="Pass the frame from investment_balance()")
    cols = [c for c in ("partner_id", "term", "partner_share", "balance_band") if c in data]
    table = data[cols].reset_index(drop=True)
    ax = plots.new_axes(ax, figsize=(7, 3.2))
    fig = ax.figure
    (b_lo, b_hi), (l_lo, l_hi) = val.balanced, val.leaning
    ax.axhspan(b_lo, b_hi, color="#d9f0d3", zorder=0, label="balanced band")
    ax.axhspan(l_lo, b_lo, color="#fff2cc", zorder=0)
    ax.axhspan(b_hi, l_hi, color="#fff2cc", zorder=0, label="leaning band")
    hue = "partner_id" if "partner_id" in table and table["partner_id"].nunique() > 1 else None
    plot = table.dropna(subset=["partner_share"])
    if len(plot):
        sns.lineplot(data=plot, x="term", y="partner_share", hue=hue, marker="o", ax=ax, sort=False,
                     palette="colorblind" if hue else None, color=None if hue else "#0b5394")
    ax.set_ylim(0, 1)
    ax.set_ylabel("Partner share of combined value")
    ax.set_xlabel("Term")
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_title(title or "Balance of contributions across terms")
    sns.despine(ax=ax)
    if not len(plot):
        alt = "No investment entries were recorded, so there is no balance to show."
    else:
        bands = (f"Shaded: balanced between {b_lo:.0%} and {b_hi:.0%}, leaning between {l_lo:.0%} and {l_hi:.0%}; "
                 "outside is one-sided.")
        lines = []
        for pid, g in (plot.groupby("partner_id") if hue else [(None, plot)]):
            first, last = g.iloc[0], g.iloc[-1]
            who = f"{pid}: " if pid is not None else ""
            lines.append(f"{who}partner share {first.partner_share:.0%} in {first.term} and "
                         f"{last.partner_share:.0%} in {last.term}"
                         + (f" ({last.balance_band})" if "balance_band" in g else ""))
        alt = "Line chart of the partner's share of the combined contribution by term. " + "; ".join(lines) + \
              ". " + bands
    return _chart(fig, alt, table)
