"""The single board: what a partner executive reads first.

:func:`board_items` turns a bundle into plain values (tested directly);
:func:`render_board` renders them as accessible HTML: KPI tiles (value,
change vs last term, vs the comparison group, goal status), fit band and the
biggest gap, investment balance band and check-in status. Status is always
written in words, never colour alone (WCAG 1.4.1).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from .. import privacy
from ._html import esc, goal_status_words, missing, section
from .bundle import GOAL_NOT_SHOWN, Bundle, dimension_label, headline_kpis

__all__ = ["board_items", "render_board", "goal_status"]


def goal_status(bundle: Bundle, kpi_id: str) -> str:
    """The goal status of one KPI in words ("met", "on track", "behind", "no goal set", "not yet recorded").

    A goal whose KPI is hidden for this partner reads "not shown (small group)":
    its status would place the hidden value relative to the target.
    """
    if not bundle.has("goals"):
        return "not yet recorded"
    goals = bundle.table("goals")
    if goals is None or "kpi_id" not in goals.columns:
        return "no goal set"
    mine = goals[goals["kpi_id"].astype(str) == str(kpi_id)]
    if not len(mine):
        return "no goal set"
    g = mine.iloc[0]
    kpi = bundle.table("kpi_comparison")
    row = None if kpi is None or "kpi_id" not in kpi.columns else kpi[kpi["kpi_id"].astype(str) == str(kpi_id)]
    hidden_kpi = False
    if row is not None and len(row):
        r = row.iloc[0]
        hidden_kpi = bool(_true(r.get("suppressed"))) or missing(r.get("mean_t"))
    status = g.get("status")
    if str(status) == GOAL_NOT_SHOWN or hidden_kpi:
        # Defence in depth: bundles built before masking carried a status derived from the hidden value.
        return GOAL_NOT_SHOWN
    if not missing(status):
        return goal_status_words(status, g.get("source"))
    att = g.get("attainment")
    if missing(att):
        return "not measurable yet"
    att = float(att)
    return "met" if att >= 1 else ("on track" if att >= 0.5 else "behind")


def _true(value) -> bool:
    return not missing(value) and bool(value)


def _vs_group(r: pd.Series, profile: privacy.PrivacyProfile) -> str:
    if bool(r.get("suppressed")) or missing(r.get("difference")):
        return "not shown (small group)" if bool(r.get("suppressed")) else "no comparison"
    diff = float(r["difference"])
    better = (diff > 0) == bool(r.get("higher_is_better", True))
    text = privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                 unit=r.get("unit"), kind=r.get("kind"), profile=profile, change=diff)
    if text == privacy.NOT_SHOWN:
        return "not shown (a figure is coded or hidden)"
    if text == "no change":
        return "about the same as similar non-participants"
    return f"{text} vs similar non-participants ({'better' if better else 'worse'})"


def board_items(bundle: Bundle) -> dict[str, Any]:
    """Plain values of the board: ``tiles`` (list of dict) and ``fit``, ``investments``, ``checkins`` (str)."""
    tiles = []
    kpi = bundle.table("kpi_comparison")
    if bundle.has("kpi") and kpi is not None:
        for _, r in headline_kpis(kpi, 4).iterrows():
            suppressed = bool(r.get("suppressed")) and missing(r.get("mean_t"))
            tiles.append({
                "kpi_id": str(r["kpi_id"]), "label": str(r.get("kpi_label", r["kpi_id"])),
                "value": "not shown (fewer than %d students)" % bundle.min_group_n if suppressed
                else privacy.format_level(r.get("mean_t"), r.get("n_t"), unit=r.get("unit"), kind=r.get("kind"),
                                          profile=bundle.profile),
                "vs_last_term": privacy.NOT_SHOWN if suppressed else privacy.format_change(
                    r.get("mean_t"), r.get("prev_term_mean_t"), n_now=r.get("n_t"), n_before=r.get("prev_term_n_t"),
                    unit=r.get("unit"), kind=r.get("kind"), profile=bundle.profile, change=r.get("change_prev_term")),
                "vs_comparison": _vs_group(r, bundle.profile),
                "goal": goal_status(bundle, str(r["kpi_id"])),
                "marker": "" if missing(r.get("marker")) else str(r.get("marker")),
            })
    b = bundle.meta.get("board", {})
    fit = "not yet recorded"
    if bundle.has("fit") and b.get("fit_band"):
        fit = f"{b['fit_band']}"
        if b.get("biggest_gap_dimension"):
            label = b.get("biggest_gap_label") or dimension_label(bundle.table("fit_dimensions"),
                                                                  b["biggest_gap_dimension"])
            fit += f"; biggest gap: {label}"
    inv = "not yet recorded"
    if bundle.has("investments") and b.get("balance_band"):
        inv = str(b["balance_band"])
        if not missing(b.get("partner_share")):
            inv += f" (partner share {privacy.format_share(b['partner_share'])})"
    chk = "not yet recorded"
    if bundle.has("checkins") and b.get("checkin_status"):
        chk = str(b["checkin_status"]).replace("_", " ")
    return {"tiles": tiles, "fit": fit, "investments": inv, "checkins": chk}


def render_board(bundle: Bundle) -> str:
    """HTML of the board (an ``<h2>`` section with ``<h3>`` tiles)."""
    items = board_items(bundle)
    if items["tiles"]:
        tiles = []
        for t in items["tiles"]:
            tiles.append(
                f'<li class="tile"><h3>{esc(t["label"])}{esc(t["marker"])}</h3>'
                f'<p class="tile-value">{esc(t["value"])}</p><dl>'
                f'<dt>Change since last term</dt><dd>{esc(t["vs_last_term"])}</dd>'
                f'<dt>Compared with similar students</dt><dd>{esc(t["vs_comparison"])}</dd>'
                f'<dt>Goal</dt><dd>{esc(t["goal"])}</dd></dl></li>')
        kpis = f'<ul class="tiles">{"".join(tiles)}</ul>'
    else:
        kpis = '<p class="not-recorded">Student outcomes: not yet recorded.</p>'
    status = (f'<dl class="status"><dt>Partnership fit</dt><dd>{esc(items["fit"])}</dd>'
              f'<dt>Investment balance</dt><dd>{esc(items["investments"])}</dd>'
              f'<dt>Check-ins this term</dt><dd>{esc(items["checkins"])}</dd></dl>')
    return section("At a glance", kpis + status, id="board")
