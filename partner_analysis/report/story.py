"""The district's story in three figures, one chart and a spotlight (community brief and meeting deck).

Every figure is a displayed one: students reached is the sum of the visible,
rounded partnership counts (a hidden partnership adds nothing, so the total
cannot be differenced against it), the combined investment is money rounded to
the nearest 100, and "on track" counts partnerships whose board has no concern.
"""
from __future__ import annotations

import html
from typing import Sequence

from .. import privacy
from . import text as T
from .bundle import Bundle
from .status import displayed_number, report_settings

__all__ = ["headline_figures", "participants_chart", "spotlight", "participants_alt"]


def participants_shown(b: Bundle) -> str:
    """The participants count as the report shows it (``participants_display`` of the "all" row; ``""`` if none)."""
    part = b.table("participation")
    if part is None or not len(part):
        return ""
    row = part[part["program_id"].astype(str) == "all"]
    return "" if not len(row) else str(row.iloc[0]["participants_display"])


def headline_figures(bundles: Sequence[Bundle], *, term: str) -> list[tuple[str, str]]:
    """``[(figure, label), ...]``: students reached, combined investment, partnerships on track."""
    from .board import board_items
    profile = next((b.profile for b in bundles), None)
    visible = [displayed_number(s) for s in map(participants_shown, bundles) if privacy.shown_plainly(s)]
    visible = [v for v in visible if v]
    reached = T.figure(privacy.format_count(sum(visible), profile) if visible else privacy.NOT_SHOWN)
    total = 0.0
    cur = "USD"
    for b in bundles:
        bal = b.table("investment_balance")
        if b.has("investments") and bal is not None and len(bal) and "total_value" in bal.columns:
            mine = bal[bal["term"].astype(str) == term]
            if len(mine) and not privacy.is_missing(mine.iloc[-1]["total_value"]):
                total += float(mine.iloc[-1]["total_value"])
                cur = str(b.meta.get("currency") or "USD")
    # on track: no headline result of concern and no goal off track (late paperwork is "needs attention",
    # not a partnership off track)
    on_track = sum(1 for b in bundles
                   if not any(a["severity"] == "concern" and a["kind"] in ("result", "goal")
                              for a in board_items(b)["attention"]))
    n = len(bundles)
    return [(reached, T.deck("reached")),
            (T.figure(privacy.format_money(total, cur, round_to=100)) if total else T.label("not_yet_recorded"),
             T.deck("combined")),
            (f"{on_track} / {n}", T.on_track_label(n))]


def participants_alt(bundles: Sequence[Bundle]) -> str:
    return T.reach_alt([(b.partner_name, T.students_phrase(participants_shown(b))) for b in bundles])


def participants_chart(bundles: Sequence[Bundle], *, width: int = 560) -> str:
    """A horizontal bar chart (inline SVG, ``role="img"`` with its text) of students taking part.

    Bars are drawn at the displayed, rounded counts; a partnership under the
    minimum gets no bar and reads "fewer than 10".
    """
    rows = [(b.partner_name, participants_shown(b)) for b in bundles]
    values = [displayed_number(s) if privacy.shown_plainly(s) else None for _, s in rows]
    top = max([v for v in values if v] or [1.0])
    bar_h, gap, label_w, pad = 16, 6, 230, 70
    height = len(rows) * (bar_h + gap) + gap
    alt = html.escape(participants_alt(bundles), quote=True)
    out = [f'<svg class="story-chart" role="img" aria-label="{alt}" width="100%" viewBox="0 0 {width} {height}" '
           f'preserveAspectRatio="xMinYMin meet"><title>{alt}</title>']
    for i, ((name, shown), v) in enumerate(zip(rows, values)):
        y = gap + i * (bar_h + gap)
        out.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end" font-size="13" '
                   f'fill="#1a1a1a">{html.escape(name[:32])}</text>')
        if v:
            w = (width - label_w - pad) * v / top
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#1f4e79"/>')
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}" font-size="13" fill="#1a1a1a">'
                       f'{html.escape(T.figure(shown))}</text>')
        else:
            out.append(f'<text x="{label_w}" y="{y + bar_h - 4}" font-size="13" fill="#3b3b3b">'
                       f'{html.escape(T.students_phrase(shown))}</text>')
    out.append("</svg>")
    return "".join(out)


def spotlight(bundles: Sequence[Bundle]) -> tuple[str, str] | None:
    """``(partner name, text)`` of the spotlight: ``report.spotlight`` in district.yml, keyed by partner id.

    The district's ``all`` entry names no partner; a partner's own entry wins
    in partner order. None when no spotlight is configured.
    """
    for b in bundles:
        spots = report_settings(b)["spotlight"]
        if spots.get(b.partner_id):
            return b.partner_name, str(spots[b.partner_id])
    for b in bundles:
        spots = report_settings(b)["spotlight"]
        if spots.get("all"):
            return "", str(spots["all"])
    return None
