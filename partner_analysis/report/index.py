"""The district index ``reports/<term>/index.html``: the single board across all partners.

One row per partner: fit band, investment balance, check-in status, the
headline KPI changes since last term and the report's status, with a link to
each report. Built from the bundles' board rows (aggregates only) and the batch
manifest; same page shell, accessibility and privacy rules as the reports.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Sequence

from .. import privacy
from .._io import write_atomic
from . import text as T
from ._html import esc, missing

__all__ = ["write_index", "index_html", "board_rows", "portfolio_rows"]


def board_rows(out_dir: str | Path, partner_ids: Sequence[str]) -> dict[str, dict]:
    """Board row of each partner's bundle (``{}`` for partners without one)."""
    out = {}
    for pid in partner_ids:
        f = Path(out_dir) / "bundles" / pid / "bundle.json"
        meta = json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}
        out[pid] = dict(meta.get("board", {}), district=meta.get("district", ""))
    return out


def _chip(status: str, word: str, icon: str) -> str:
    return (f'<span class="chip chip-{esc(status)}"><span aria-hidden="true">{esc(icon)}</span> '
            f'{esc(word)}</span>')


def _vs_similar_summary(tiles: Sequence[dict]) -> str:
    """"better on 2, worse on 1 of 4": the headline differences vs similar students that are shown."""
    better = sum(t.get("better") is True for t in tiles)
    worse = sum(t.get("better") is False for t in tiles)
    same = sum(t.get("better") == "same" for t in tiles)
    return T.vs_similar_summary(better, worse, same)


def portfolio_rows(bundles: Sequence) -> list[list[str]]:
    """Each partner's results and cost side by side: last year and this term, cost per participant, and
    cost per 0.1 standard deviation where an adjusted (or matched) effect size is shown.

    Every figure is a displayed one: levels via ``privacy.format_level`` (trend table), money via
    ``privacy.format_money``, the effect size via ``privacy.format_effect``; the cost per 0.1 SD is the shown
    cost per participant divided by ten times the shown effect size, and only for a favourable effect.
    """
    from .status import board_kpis, cost_per_outcome, displayed_number
    rows = []
    for b in bundles:
        costs = cost_per_outcome(b)
        kpis = board_kpis(b)
        trend = b.table("kpi_trend")
        levels, ce = [], ""
        for _, r in kpis.head(2).iterrows():
            when = {}
            if trend is not None and len(trend):
                g = trend[trend["kpi_id"].astype(str) == str(r["kpi_id"])]
                for _, t in g.iterrows():
                    when[str(t["when"])] = privacy.format_level(t["mean_t"], t.get("n_t"), unit=r.get("unit"),
                                                                kind=r.get("kind"), profile=b.profile)
            label = T.kpi_label(r.get("kpi_label", r["kpi_id"]))
            levels.append(T.portfolio_levels(label, when.get("same term last year", privacy.NOT_SHOWN),
                                             when.get("this term", privacy.NOT_SHOWN)))
            if not ce and str(r.get("design")) in ("adjusted", "matched") and costs.get("participant"):
                es = privacy.format_effect(r.get("effect_size"), r.get("n_t"), r.get("n_c"), b.profile)
                v = displayed_number(es) if privacy.shown_plainly(es) else None
                hib = True if missing(r.get("higher_is_better")) else bool(r.get("higher_is_better"))
                gain = None if v is None else (v if hib else -v)
                cost = displayed_number(costs["participant"])
                if gain and gain > 0 and cost:
                    ce = T.cost_per_sd(privacy.format_money(cost / (gain / 0.1),
                                                            str(b.meta.get("currency") or "USD")), label)
        bal = b.table("investment_balance")
        spend = []
        if b.has("investments") and bal is not None and len(bal) and "total_value" in bal.columns:
            for _, t in bal.tail(3).iterrows():
                money = privacy.format_money(t['total_value'], str(b.meta.get('currency') or 'USD'))
                spend.append(f"{t['term']}: {T.figure(money)}")
        rows.append([f"{b.partner_name} ({b.partner_id})", "; ".join(levels) or T.label("not_yet_recorded"),
                     "; ".join(spend) or T.label("not_yet_recorded"),
                     T.figure(costs.get("participant", privacy.NOT_SHOWN)), ce or T.no_adjusted_effect()])
    return rows


def index_html(rows: Sequence[dict], boards: dict[str, dict], *, term: str, lang: str = "en",
               summary: Sequence[str] = (), brief: str | None = None,
               profile: privacy.PrivacyProfile | None = None, bundles: Sequence = ()) -> str:
    """The district board as a page (see :func:`write_index`).

    Partners x headline KPIs as a heat map of status chips (icon + word +
    colour, with the level and the change since last term), the balance with
    its direction, a vs-similar-students column, a "needs attention" summary
    and the portfolio (results and cost side by side).
    """
    from .board import board_items
    from .html import page_shell

    profile = privacy.resolve_profile(profile)
    by_id = {b.partner_id: b for b in bundles}
    items = {pid: board_items(b) for pid, b in by_id.items()}
    headline: list[tuple[str, str]] = []
    for it in items.values():
        for t in it["tiles"]:
            if (t["kpi_id"], t["label"]) not in [(k, lab) for k, lab in headline] and \
                    t["kpi_id"] not in [k for k, _ in headline]:
                headline.append((t["kpi_id"], t["label"]))
    district = next((b.get("district") for b in boards.values() if b.get("district")), "")
    head = [T.label("partner"), *[label for _, label in headline], T.label("vs_similar"), T.label("investment"),
            T.label("fit")]
    body, attention = [], []
    for r in rows:
        pid = r["partner_id"]
        b = boards.get(pid, {})
        it = items.get(pid)
        name = b.get("partner_name") or pid
        if r["status"] == "ok" and r.get("html"):
            partner = f'<a href="{esc(r["html"])}">{esc(name)}</a> ({esc(pid)})'
        else:
            partner = (f'{esc(name)} ({esc(pid)})<br><span class="status-failed">'
                       f'{esc(T.report_failed(r.get("stage") or "run"))}</span>')
        tiles = {t["kpi_id"]: t for t in (it["tiles"] if it else [])}
        cells = [f'<th scope="row">{partner}</th>']
        for kid, _ in headline:
            t = tiles.get(kid)
            if t is None:
                cells.append(f"<td>{esc(T.label('not_yet_recorded'))}</td>")
                continue
            since = "" if t["vs_last_term"] in (T.figure(privacy.NOT_SHOWN), "") else \
                f'<br><span class="since">{esc(T.since_last_term(t["vs_last_term"]))}</span>'
            cells.append(f'<td class="heat heat-{esc(t["status"])}">{_chip(t["status"], t["chip"], t["icon"])}'
                         f'<br>{esc(t["value"] if t["status"] != "none" else T.label("not_shown"))}{since}</td>')
        inv = T.label("not_yet_recorded")
        if it and it["balance"].get("direction"):
            inv = f'{it["balance"].get("band", "")} ({it["balance"]["direction"]})'.strip()
        cells += [f"<td>{esc(_vs_similar_summary(list(tiles.values())) if tiles else T.label('not_yet_recorded'))}"
                  "</td>", f"<td>{esc(inv)}</td>",
                  f"<td>{esc(T.code_words(b.get('fit_band')) or T.label('not_yet_recorded'))}</td>"]
        cells = [cells[0]] + [c.replace("<td", f'<td data-label="{esc(h)}"', 1) for c, h in zip(cells[1:], head[1:])]
        body.append("<tr>" + "".join(cells) + "</tr>")
        if it and it["attention"]:
            n = len(it["attention"])
            attention.append(f"<li><strong>{esc(name)}</strong>: "
                             + esc(T.attention_count(n)) + " \u2014 "
                             + esc(it["attention"][0]["text"]) + "</li>")
    n_ok = sum(r["status"] == "ok" for r in rows)
    head_html = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    table = (f'<div class="table-wrap"><table class="data heatmap"><caption>{esc(T.index_caption(term))}'
             f"</caption><thead><tr>{head_html}</tr></thead>"
             f"<tbody>{''.join(body)}</tbody></table></div>")
    top = "".join(f"<p>{esc(t)}</p>" for t in summary)
    if brief:
        top += f'<p><a href="{esc(brief)}">{esc(T.index_brief_link(term))}</a> {esc(T.index_brief_tail())}</p>'
    att = (f'<section aria-labelledby="attention-h"><h2 id="attention-h">'
           f'{esc(T._(T.BOARD_LABELS["attention"]))}</h2>'
           + (f'<ul class="attention">{"".join(attention)}</ul>' if attention
              else f"<p>{esc(T._(T.BOARD_LABELS['attention_none']))}</p>") + "</section>")
    intro = f"<h1>{esc(T.index_heading(term))}</h1><p>{esc(T.index_intro(n_ok, len(rows)))}</p>"
    if any(t["scope"] == "year_to_date" and t["status"] != "none" for it in items.values() for t in it["tiles"]):
        intro += f"<p>{esc(T.ytd_note())}</p>"
    summary_html = (f'<section aria-labelledby="summary-h"><h2 id="summary-h">{esc(T.label("district_summary"))}'
                    f"</h2>{top}</section>" if top else "")
    port = portfolio_rows(bundles)
    portfolio = ""
    if port:
        from ._html import table as _table
        L = T.label
        portfolio = (f'<section aria-labelledby="portfolio-h"><h2 id="portfolio-h">{esc(L("portfolio"))}</h2>'
                     + _table(port, columns=[L("partner"), L("portfolio_results"), L("portfolio_spend"),
                                             L("per_participant"), L("per_sd")],
                              caption=L("portfolio_caption")) + "</section>")
    notes = (f"<h2>{esc(T.label('notes'))}</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in T.index_notes())
             + "</ul>")
    css = ("main, .page-header, .page-footer { max-width: 78rem; } .heatmap th, .heatmap td { font-size: 0.9rem; } "
           ".heat { min-width: 7rem; } .heat-good { background: #f1f8f1; } .heat-watch { background: #fffaeb; } "
           ".heat-concern { background: #fdf1f1; } .since { font-size: 0.85rem; color: #3b3b3b; }")
    return page_shell(intro + f'<section aria-labelledby="board-h"><h2 id="board-h">{esc(T.label("all_partners"))}'
                      f"</h2>{table}</section>" + att + summary_html + portfolio + notes,
                      title=T.index_title(term, district), lang=lang,
                      site=district or T.deck("reports"), css=css, footer=T.footer_text(dt.date.today()))


def write_index(out_dir: str | Path, *, rows: Sequence[dict], term: str, lang: str = "en",
                work_dir: str | Path | None = None, bundles: Sequence | None = None) -> Path:
    """Write ``<out_dir>/index.html`` atomically and return its path (checked like a report page).

    ``bundles``: :func:`.brief.load_term_bundles` of ``rows``, when the caller has them loaded already.
    """
    from .html import HtmlCheckError, check_html

    out_dir = Path(out_dir)
    from .brief import BRIEF_FILE, district_summary, load_term_bundles

    work_dir = out_dir if work_dir is None else Path(work_dir)
    boards = board_rows(work_dir, [r["partner_id"] for r in rows])
    if bundles is None:
        bundles = load_term_bundles(work_dir, [r["partner_id"] for r in rows])
    district = next((str(b.meta.get("district")) for b in bundles if b.meta.get("district")), "")
    with T.use_language(lang):
        summary = district_summary(bundles, term=term, district=district) if bundles else []
    brief = BRIEF_FILE if (out_dir / BRIEF_FILE).exists() else None
    profile = bundles[0].profile if bundles else None
    with T.use_language(lang):
        text = index_html(rows, boards, term=term, lang=lang, summary=summary, brief=brief, profile=profile,
                          bundles=bundles)
    problems = check_html(text)
    if problems:
        raise HtmlCheckError(problems, title="index")
    path = out_dir / "index.html"
    write_atomic(path, text)
    return path
