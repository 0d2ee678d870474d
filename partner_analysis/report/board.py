"""The single board: what a partner executive reads first.

:func:`board_items` turns a bundle into plain values (tested directly);
:func:`render_board` renders them as accessible HTML: KPI tiles (value,
change vs last term, vs the comparison group, goal status), fit band and the
biggest gap, investment balance band and check-in status. Status is always
written in words, never colour alone (WCAG 1.4.1).
"""
from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from .. import privacy
from ._html import esc, goal_status_words, missing, section
from . import text as T
from .bundle import GOAL_NOT_SHOWN, Bundle, dimension_label
from .status import (attention_items, board_kpis, cost_per_outcome, displayed_number, goal_status, kpi_chip,
                     report_settings)

__all__ = ["board_items", "render_board", "goal_status"]


def _true(value) -> bool:
    return not missing(value) and bool(value)


def _vs_group(r: pd.Series, profile: privacy.PrivacyProfile) -> tuple[str, bool | str | None]:
    """The tile's difference vs similar students as shown, and whether it is better (True / False / "same";
    None when not shown)."""
    if bool(r.get("suppressed")) or missing(r.get("difference")):
        return T.vs_not_shown(bool(r.get("suppressed"))), None
    diff = float(r["difference"])
    better = (diff > 0) == bool(r.get("higher_is_better", True))
    text = privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                 unit=r.get("unit"), kind=r.get("kind"), profile=profile, change=diff)
    if text == privacy.NOT_SHOWN:
        return T.vs_coded(), None
    return T.tile_vs_similar(text, better), ("same" if text == "no change" else better)


def _trend_points(bundle: Bundle, r: pd.Series) -> list[tuple[str, str, float | None]]:
    """(term, displayed level, drawn value) of the participants, oldest first; hidden levels drawn as gaps."""
    trend = bundle.table("kpi_trend")
    if trend is None or not len(trend):
        return []
    g = trend[trend["kpi_id"].astype(str) == str(r["kpi_id"])]
    order = {"same term last year": 0, "previous term": 1, "this term": 2}
    g = g.assign(_o=g["when"].map(order).fillna(9)).sort_values("_o")
    out = []
    for _, t in g.iterrows():
        shown = privacy.format_level(t["mean_t"], t.get("n_t"), unit=r.get("unit"), kind=r.get("kind"),
                                     profile=bundle.profile)
        out.append((str(t["term"]), T.figure(shown), displayed_number(shown) if privacy.shown_plainly(shown) else None))
    return out


def _balance(bundle: Bundle) -> dict[str, str]:
    """This term's contributions on both sides and the balance with its direction."""
    bal = bundle.table("investment_balance")
    if not bundle.has("investments") or bal is None or not len(bal):
        return {}
    mine = bal[bal["term"].astype(str) == str(bundle.term)] if "term" in bal.columns else bal
    r = (mine if len(mine) else bal).iloc[-1]
    cur = str(bundle.meta.get("currency") or "USD")
    out = {"district": T.figure(privacy.format_money(r.get("district_value"), cur)),
           "partner": T.figure(privacy.format_money(r.get("partner_value"), cur)),
           "band": "" if missing(r.get("balance_band")) else T.code_words(r.get("balance_band"))}
    share = r.get("partner_share")
    if not missing(share):
        out["direction"] = T.balance_direction(privacy.format_share(share), privacy.format_share(1 - float(share)),
                                               float(share) > 0.5)
    return out


def board_items(bundle: Bundle) -> dict[str, Any]:
    """Plain values of the board.

    ``tiles`` (list of dict: label, value, status, chip word and icon, reasons,
    sparkline points and alt text, change since last term, vs similar students,
    goal), ``sentence`` (the overall status), ``attention`` (list of dict),
    ``balance`` and ``costs`` (dicts of displayed text), and ``fit``,
    ``investments``, ``checkins`` (str).

    Computed once per bundle and language (the index, the brief, the story and the deck all read them);
    each call returns its own copy.
    """
    key = ("board_items", T.language())
    if key not in bundle.memo:
        bundle.memo[key] = _board_items(bundle)
    return copy.deepcopy(bundle.memo[key])


def _board_items(bundle: Bundle) -> dict[str, Any]:
    tiles = []
    settings = report_settings(bundle)
    for _, r in board_kpis(bundle).iterrows():
        suppressed = bool(r.get("suppressed")) and missing(r.get("mean_t"))
        goal = goal_status(bundle, str(r["kpi_id"]))
        chip = kpi_chip(r, goal, bundle.profile, settings["alert_levels"])
        label = T.kpi_label(r.get("kpi_label", r["kpi_id"]))
        points = _trend_points(bundle, r)
        vs = _vs_group(r, bundle.profile)
        tiles.append({
            "kpi_id": str(r["kpi_id"]), "label": label,
            "value": T.value_hidden(bundle.min_group_n) if suppressed
            else T.figure(privacy.format_level(r.get("mean_t"), r.get("n_t"), unit=r.get("unit"),
                                               kind=r.get("kind"), profile=bundle.profile)),
            "status": chip.status, "chip": chip.word, "icon": chip.icon, "reasons": list(chip.reasons),
            "spark": [(t, v) for t, v, _ in points], "spark_values": [x for _, _, x in points],
            "spark_alt": T.sparkline_alt(label, [(t, s) for t, s, _ in points]),
            "vs_last_term": T.figure(privacy.NOT_SHOWN) if suppressed else T.tile_change(privacy.format_change(
                r.get("mean_t"), r.get("prev_term_mean_t"), n_now=r.get("n_t"), n_before=r.get("prev_term_n_t"),
                unit=r.get("unit"), kind=r.get("kind"), profile=bundle.profile, change=r.get("change_prev_term"))),
            "vs_comparison": vs[0], "better": vs[1],
            "goal": T.goal_words(goal), "has_goal": goal not in ("no goal set", "not yet recorded"),
            "marker": "" if missing(r.get("marker")) else str(r.get("marker")),
            "scope": "term" if missing(r.get("scope")) else str(r.get("scope")),
        })
    b = bundle.meta.get("board", {})
    fit = T.label("not_yet_recorded")
    if bundle.has("fit") and b.get("fit_band"):
        gap = None
        if b.get("biggest_gap_dimension"):
            gap = b.get("biggest_gap_label") or dimension_label(bundle.table("fit_dimensions"),
                                                                b["biggest_gap_dimension"])
        fit = T.fit_summary(str(b["fit_band"]), gap)
    inv = T.label("not_yet_recorded")
    if bundle.has("investments") and b.get("balance_band"):
        inv = T.investment_summary(str(b["balance_band"]), None if missing(b.get("partner_share"))
                                   else privacy.format_share(b["partner_share"]))
    chk = T.label("not_yet_recorded")
    if bundle.has("checkins") and b.get("checkin_status"):
        chk = T.code_words(b["checkin_status"])
    attention = attention_items(bundle)
    counts: dict[str, int] = {}
    for t in tiles:
        if t["status"] != "none":
            counts[t["status"]] = counts.get(t["status"], 0) + 1
    return {"tiles": tiles, "fit": fit, "investments": inv, "checkins": chk, "attention": attention,
            "balance": _balance(bundle), "costs": cost_per_outcome(bundle),
            "sentence": T.overall_sentence(bundle.partner_name, counts, len(attention),
                                           hidden=sum(t["status"] == "none" for t in tiles))}


def _tile_html(t: dict) -> str:
    from .. import plots
    # a sparkline only when it draws something: every level hidden draws nothing, and says nothing a reader sees
    spark = plots.sparkline_svg(t["spark_values"], labels=[p for p, _ in t["spark"]], alt=t["spark_alt"]) \
        if any(v is not None for v in t["spark_values"]) else ""
    why = f'<span class="visually-hidden"> ({esc("; ".join(t["reasons"]))})</span>' if t["reasons"] else ""
    L = T.BOARD_LABELS
    return (f'<li class="tile status-{esc(t["status"])}"><h3>{esc(t["label"])}{esc(t["marker"])}</h3>'
            f'<div class="tile-head"><p class="tile-value{"" if t["status"] != "none" else " value-hidden"}">'
            f'{esc(t["value"])}</p>'
            f'<p class="chip chip-{esc(t["status"])}"><span aria-hidden="true">{esc(t["icon"])}</span> '
            f'{esc(t["chip"])}{why}</p>{spark}</div><dl>'
            f'<div><dt>{esc(T._(L["since_last_term"]))}</dt><dd>{esc(t["vs_last_term"])}</dd></div>'
            f'<div><dt>{esc(T._(L["vs_similar"]))}</dt><dd>{esc(t["vs_comparison"])}</dd></div>'
            + (f'<div><dt>{esc(T._(L["goal"]))}</dt><dd>{esc(t["goal"])}</dd></div>' if t["has_goal"] else "")
            + '</dl></li>')


def render_board(bundle: Bundle) -> str:
    """HTML of the board (an ``<h2>`` section with ``<h3>`` tiles, attention list, investment, fit)."""
    items = board_items(bundle)
    L = T.BOARD_LABELS
    if items["tiles"]:
        kpis = f'<ul class="tiles">{"".join(_tile_html(t) for t in items["tiles"])}</ul>'
    else:
        kpis = f'<p class="not-recorded">{esc(T._(L["outcomes_not_recorded"]))}</p>'
    if items["attention"]:
        att = "".join(f'<li class="att-{esc(a["severity"])}"><span aria-hidden="true">'
                      f'{esc(T.STATUS_ICONS[a["severity"]])}</span> {esc(a["text"])}</li>'
                      for a in items["attention"][:4])
        more = len(items["attention"]) - 4
        if more > 0:
            att += f"<li>{esc(T.more_attention(more))}</li>"
        attention = f'<ul class="attention">{att}</ul>'
    else:
        attention = f'<p>{esc(T._(L["attention_none"]))}</p>'
    bal, costs = items["balance"], items["costs"]
    if bal:
        inv = (f'<p>{esc(T._(L["district_side"]))} {esc(bal["district"])} \u00b7 {esc(T._(L["partner_side"]))} '
               f'{esc(bal["partner"])}' + (f' ({esc(bal["direction"])})' if bal.get("direction") else "") + "</p>")
        if costs:
            inv += '<ul class="costs">' + "".join(f"<li>{esc(T.cost_per(k, T.figure(v)))}</li>"
                                                  for k, v in costs.items()) \
                + "</ul>"
    else:
        inv = f'<p>{esc(T._(L["not_recorded"]))}</p>'
    side = (f'<div class="board-side"><section aria-labelledby="attention-h"><h3 id="attention-h">'
            f'{esc(T._(L["attention"]))}</h3>{attention}</section>'
            f'<section aria-labelledby="investment-h"><h3 id="investment-h">{esc(T._(L["investment"]))}</h3>'
            f'{inv}</section>'
            f'<section aria-labelledby="status-h"><h3 id="status-h">{esc(T.label("partnership"))}</h3>'
            f'<dl class="status"><div><dt>{esc(T._(L["fit"]))}</dt><dd>{esc(items["fit"])}</dd></div>'
            f'<div><dt>{esc(T._(L["checkins"]))}</dt><dd>{esc(items["checkins"])}</dd></div></dl></section></div>')
    ytd = (f'<p class="board-note">{esc(T.ytd_note())}</p>'
           if any(t["scope"] == "year_to_date" and t["status"] != "none" for t in items["tiles"]) else "")
    body = f'<p class="overall">{esc(items["sentence"])}</p>{kpis}{ytd}{side}'
    return f'<section class="board" aria-labelledby="board">' + section_heading(T._(L["board"])) + body + "</section>"


def section_heading(text: str) -> str:
    return f'<h2 id="board">{esc(text)}</h2>'
