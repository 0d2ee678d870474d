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
from ._html import esc

__all__ = ["write_index", "index_html", "board_rows"]


def board_rows(out_dir: str | Path, partner_ids: Sequence[str]) -> dict[str, dict]:
    """Board row of each partner's bundle (``{}`` for partners without one)."""
    out = {}
    for pid in partner_ids:
        f = Path(out_dir) / "bundles" / pid / "bundle.json"
        meta = json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}
        out[pid] = dict(meta.get("board", {}), district=meta.get("district", ""))
    return out


def _kpi_cell(k: dict | None, profile: privacy.PrivacyProfile) -> str:
    if not k:
        return "not yet recorded"
    if k.get("suppressed") and k.get("change_prev_term") is None:
        return f"not shown{k.get('marker') or '*'}"
    return privacy.format_change(k.get("mean_t"), k.get("prev_term_mean_t"), n_now=k.get("n_t"),
                                 n_before=k.get("prev_term_n_t"), unit=k.get("unit"), kind=k.get("kind"),
                                 profile=profile, change=k.get("change_prev_term"))


def index_html(rows: Sequence[dict], boards: dict[str, dict], *, term: str, lang: str = "en",
               summary: Sequence[str] = (), brief: str | None = None,
               profile: privacy.PrivacyProfile | None = None) -> str:
    """The index page as a string (see :func:`write_index`); ``summary`` sentences and a ``brief`` link on top."""
    from .html import page_shell

    profile = privacy.resolve_profile(profile)

    headline: list[tuple[str, str]] = []
    for b in boards.values():
        for k in b.get("kpis", []):
            if (k["kpi_id"], k.get("kpi_label") or k["kpi_id"]) not in headline:
                headline.append((k["kpi_id"], k.get("kpi_label") or k["kpi_id"]))
    headline = headline[:3]
    district = next((b.get("district") for b in boards.values() if b.get("district")), "")
    head = ["Partner", "Fit band", "Investment balance", "Check-ins",
            *[f"{label}: change since last term" for _, label in headline], "Report"]
    body = []
    for r in rows:
        pid = r["partner_id"]
        b = boards.get(pid, {})
        name = b.get("partner_name") or pid
        if r["status"] == "ok" and r.get("html"):
            partner = f'<a href="{esc(r["html"])}">{esc(name)}</a> ({esc(pid)})'
            status = '<span class="status-ok">ready</span>'
        else:
            partner = f"{esc(name)} ({esc(pid)})"
            status = f'<span class="status-failed">failed at {esc(r.get("stage") or "run")}</span>'
        kpis = {k["kpi_id"]: k for k in b.get("kpis", [])}
        cells = [f'<th scope="row">{partner}</th>',
                 f"<td>{esc(b.get('fit_band') or 'not yet recorded')}</td>",
                 f"<td>{esc(b.get('balance_band') or 'not yet recorded')}</td>",
                 f"<td>{esc(str(b.get('checkin_status') or 'not yet recorded').replace('_', ' '))}</td>",
                 *[f"<td>{esc(_kpi_cell(kpis.get(kid), profile))}</td>" for kid, _ in headline],
                 f"<td>{status}</td>"]
        body.append("<tr>" + "".join(cells) + "</tr>")
    n_ok = sum(r["status"] == "ok" for r in rows)
    head_html = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    table = (f'<div class="table-wrap"><table class="data"><caption>Partnerships in {esc(term)}: one row per partner'
             f"</caption><thead><tr>{head_html}</tr></thead>"
             f"<tbody>{''.join(body)}</tbody></table></div>")
    top = "".join(f"<p>{esc(t)}</p>" for t in summary)
    if brief:
        top += f'<p><a href="{esc(brief)}">Read the community brief for {esc(term)}</a> (one page to share).</p>'
    intro = (f"<h1>Partnership reports, {esc(term)}</h1>"
             + (f'<section aria-labelledby="summary-h"><h2 id="summary-h">District summary</h2>{top}</section>'
                if top else "") +
             f"<p>{n_ok} of {len(rows)} partner reports are ready. Changes are since the previous term; "
             "figures for groups of fewer than the district's minimum are not shown (*).</p>")
    notes = ("<h2>Notes</h2><ul><li>Fit band: from the latest partnership fit survey.</li>"
             "<li>Investment balance: how the value of contributions is shared between the district and the "
             "partner.</li><li>Check-ins: whether this term's check-in was held.</li></ul>")
    return page_shell(intro + f'<section aria-labelledby="board-h"><h2 id="board-h">All partners</h2>{table}</section>'
                      + notes,
                      title=f"Partnership reports {term}" + (f", {district}" if district else ""), lang=lang,
                      site=district or "Partnership reports",
                      footer=f"Generated {dt.date.today().isoformat()} by partner_analysis. Aggregates only.")


def write_index(out_dir: str | Path, *, rows: Sequence[dict], term: str, lang: str = "en",
                work_dir: str | Path | None = None) -> Path:
    """Write ``<out_dir>/index.html`` atomically and return its path (checked like a report page)."""
    from .batch import _write_atomic
    from .html import HtmlCheckError, check_html

    out_dir = Path(out_dir)
    from .brief import BRIEF_FILE, district_summary, load_term_bundles

    work_dir = out_dir if work_dir is None else Path(work_dir)
    boards = board_rows(work_dir, [r["partner_id"] for r in rows])
    bundles = load_term_bundles(work_dir, [r["partner_id"] for r in rows])
    district = next((str(b.meta.get("district")) for b in bundles if b.meta.get("district")), "")
    summary = district_summary(bundles, term=term, district=district) if bundles else []
    brief = BRIEF_FILE if (out_dir / BRIEF_FILE).exists() else None
    profile = bundles[0].profile if bundles else None
    text = index_html(rows, boards, term=term, lang=lang, summary=summary, brief=brief, profile=profile)
    problems = check_html(text)
    if problems:
        raise HtmlCheckError(problems, title="index")
    path = out_dir / "index.html"
    _write_atomic(path, text)
    return path
