"""The community brief ``reports/<term>/community_brief.html``: the district's partnerships on one page.

A superintendent reads it aloud at a Rotary lunch or prints it for a board
packet: a title, four to six plain-language sentences, a compact table of
partners and a "how to read this" note. Everything comes from the partners'
report bundles (aggregates that already passed the privacy guard); nothing
here reads district data.

Rules (privacy.md §3.4, statistics.md, and the per-partner story in
:mod:`.narrative`, whose wording helpers are reused):

- student counts are rounded as the privacy profile says (nearest 5) and a
  partnership with fewer than ``min_group_n`` students shows "fewer than 10"
  and no outcome figures; the district total adds only the visible, rounded
  counts, so it cannot be differenced against a hidden one;
- a suppressed statistic is never named: it is neither counted in an outcome
  sentence nor shown in the table;
- a difference between participants and the comparison group is worded
  "associated with" unless baseline equivalence holds for every partnership
  counted (``narrative.is_effect``);
- money is rounded to the nearest 100 currency units.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from .. import privacy
from .._io import write_atomic
from ._html import esc, missing, section
from ..exceptions import InputDataError
from .bundle import Bundle, headline_kpis, load_bundle
from .narrative import is_effect, in_sentence

__all__ = ["BRIEF_FILE", "load_term_bundles", "brief_sentences", "district_summary", "partner_lines",
           "brief_html", "write_brief", "term_words"]

BRIEF_FILE = "community_brief.html"
#: Sector codes of ``partners.sector`` as readers say them: (one, several, table cell).
SECTOR_WORDS = {"healthcare": ("healthcare provider", "healthcare providers", "Healthcare"),
                "employer": ("employer", "employers", "Employer"),
                "higher_education": ("college or university", "colleges and universities", "Higher education"),
                "community": ("community organization", "community organizations", "Community organization"),
                "government": ("government agency", "government agencies", "Government"),
                "other": ("other partner", "other partners", "Other")}
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_BANDS = {"balanced": "{be} balanced", "leaning": "leaned toward one side", "one-sided": "{be} one-sided"}
#: The brief prints on one sheet (Letter or A4) for a board packet: tighter type and spacing on paper only.
BRIEF_CSS = """.lede { color: #3b3b3b; margin-top: 0; }
.figures { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr));
           gap: 0.5rem; margin: 0.5rem 0; }
.figures li { border-left: 5px solid #1f4e79; padding: 0.2rem 0.6rem; }
.figures .fig { display: block; font-size: 1.7rem; font-weight: 700; color: #1f4e79; }
.story-fig { margin: 0.4rem 0; max-width: 36rem; }
.story-fig figcaption { font-size: 0.85rem; color: #3b3b3b; }
@page { margin: 10mm 12mm; }
@media print {
  body { font-size: 9.5pt; line-height: 1.28; }
  h1 { font-size: 13pt; margin: 0 0 0.2rem; }
  .page-header { display: none; }
  .lede { display: none; }
  #brief-notes ul { font-size: 8.5pt; }
  caption { padding: 0 0 0.15rem; }
  h2 { font-size: 11.5pt; margin: 0.7rem 0 0.25rem; }
  p { margin: 0.3rem 0; }
  ul { margin: 0.2rem 0; padding-left: 1.2rem; }
  table { font-size: 8.5pt; margin: 0.3rem 0; }
  th, td { padding: 0.1rem 0.3rem; }
  tr { break-inside: avoid; }
  .page-footer { margin-top: 0.6rem; font-size: 8pt; }
  .back { display: none; }
  .figures { grid-template-columns: repeat(3, minmax(0, 1fr)); margin: 0.1rem 0; gap: 0.3rem; }
  .figures li { padding: 0 0.4rem; }
  .figures .fig { font-size: 12pt; display: inline; }
  /* on paper the chart's numbers are the table's "Students taking part" column: the sheet stays one page */
  .story-fig { display: none; }
}
"""
_ORDINALS = {"1": "first", "2": "second", "3": "third", "4": "fourth"}


# -- small wording helpers ----------------------------------------------------------------------

def _n(count: int) -> str:
    """Small counts of partnerships in words (they are read aloud), larger ones as numerals."""
    return _NUMBER_WORDS[count] if 0 <= count < len(_NUMBER_WORDS) else f"{count:,}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else (many or one + "s")


def _join(items: Sequence[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def term_words(term: str) -> str:
    """A quarterly term id as it is said: "2025-26-Q2" -> "the second quarter of the 2025-26 school year"."""
    m = re.fullmatch(r"(\d{4}-\d{2})-Q([1-4])", str(term))
    if not m:
        return str(term)
    return f"the {_ORDINALS[m.group(2)]} quarter of the {m.group(1)} school year"


def _period(term: str) -> str:
    return "this quarter" if re.search(r"Q[1-4]$", str(term)) else "this term"


def _short_label(label: str) -> str:
    """A KPI label without its trailing explanation: "GPA (credit-weighted)" -> "GPA"."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", str(label)).strip() or str(label)


def _sector(b: Bundle) -> str | None:
    s = b.meta.get("sector")
    return None if missing(s) or not str(s).strip() else str(s)


# -- reading the bundles ------------------------------------------------------------------------

def load_term_bundles(out_dir: str | Path, partner_ids: Sequence[str]) -> list[Bundle]:
    """The bundles of ``partner_ids`` under ``<out_dir>/bundles``; partners without a readable bundle are left out."""
    out = []
    for pid in partner_ids:
        folder = Path(out_dir) / "bundles" / str(pid)
        if not (folder / "bundle.json").exists():
            continue
        try:
            out.append(load_bundle(folder, partner_id=str(pid)))
        except InputDataError:
            # An altered bundle is not summarised; its partner's report row already says it failed.
            continue
    return out


def _participants(b: Bundle) -> tuple[float | None, str]:
    """Visible participants of the partnership (rounded) and how they read: ("70", "fewer than 10", "none")."""
    k = b.min_group_n
    part = b.table("participation")
    if not b.has("participation") or part is None or not len(part):
        return None, "not yet recorded"
    row = part[part["program_id"].astype(str) == "all"]
    if not len(row):
        return None, "not yet recorded"
    r = row.iloc[0]
    if str(r.get("participants_display")) == "none":
        return None, "none"
    value = r.get("participants")
    if missing(value) or float(value) < k:
        return None, f"fewer than {k}"
    shown = privacy.format_count(value, b.profile)
    try:
        return float(shown.replace(",", "")), shown
    except ValueError:  # a profile that bands small counts ("<15" under Census DRB rounding) hides this one too
        return None, f"fewer than {shown.lstrip('<')}" if shown.startswith("<") else shown


def _shows_outcomes(b: Bundle) -> bool:
    """Outcome figures appear only for partnerships with a visible participant count."""
    return _participants(b)[0] is not None and b.has("kpi") and b.table("kpi_comparison") is not None


def _difference(r: pd.Series, profile: privacy.PrivacyProfile) -> str:
    """Participants minus comparison as readers see it (not shown next to a coded or hidden level)."""
    return privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                 unit=r.get("unit"), kind=r.get("kind"), profile=profile, change=r.get("difference"))


def _reportable(r: pd.Series, profile: privacy.PrivacyProfile) -> bool:
    return not (bool(r.get("suppressed")) if not missing(r.get("suppressed")) else False) \
        and not missing(r.get("mean_t")) and not missing(r.get("difference")) \
        and _difference(r, profile) != privacy.NOT_SHOWN


def _term_row(frame: pd.DataFrame | None, term: str) -> pd.Series | None:
    if frame is None or not len(frame):
        return None
    if "term" in frame.columns:
        mine = frame[frame["term"].astype(str) == str(term)]
        return mine.iloc[-1] if len(mine) else None
    return frame.iloc[-1]


def _headline_ids(bundles: Sequence[Bundle], n: int) -> list[tuple[str, pd.Series]]:
    """The first ``n`` headline KPIs (board order), each with a template row for its label, unit and kind."""
    seen: dict[str, pd.Series] = {}
    for b in bundles:
        kpi = b.table("kpi_comparison")
        if not b.has("kpi") or kpi is None or not len(kpi):
            continue
        for _, r in headline_kpis(kpi, n).iterrows():
            seen.setdefault(str(r["kpi_id"]), r)
    order = [k for k in headline_kpis(pd.DataFrame({"kpi_id": list(seen)}), len(seen))["kpi_id"]]
    return [(k, seen[k]) for k in order[:n]]


# -- sentences ----------------------------------------------------------------------------------

def _partners_sentence(bundles: Sequence[Bundle], *, term: str, district: str) -> str:
    n = len(bundles)
    who = district or "The district"
    if n == 0:
        return f"No partnership reports were built for {term_words(term)}."
    counts: dict[str, int] = {}
    for b in bundles:
        s = _sector(b)
        counts[s or "unrecorded"] = counts.get(s or "unrecorded", 0) + 1
    parts = []
    for code in (*SECTOR_WORDS, *sorted(c for c in counts if c not in SECTOR_WORDS)):
        if code not in counts:
            continue
        one, many = (SECTOR_WORDS[code][:2] if code in SECTOR_WORDS else
                     ("partner without a recorded sector", "partners without a recorded sector")
                     if code == "unrecorded" else (code.replace("_", " "), code.replace("_", " ")))
        parts.append(f"{_n(counts[code]) if counts[code] > 1 else ('an' if one[0] in 'aeiou' else 'a')} "
                     f"{_plural(counts[code], one, many)}")
    when = term_words(term)
    return f"In {when}, {who} worked with {_n(n)} community {_plural(n, 'partner')}: {_join(parts)}."


def _students_sentence(bundles: Sequence[Bundle]) -> str:
    k = min((b.min_group_n for b in bundles), default=10)
    profile = next((b.profile for b in bundles), None)
    visible = [v for v, _ in map(_participants, bundles) if v is not None]
    hidden = [_participants(b)[1] for b in bundles if _participants(b)[1].startswith("fewer than")]
    small = len(hidden)
    # A banding profile hides more than k ("fewer than 15"): say the largest bound used, never a false one.
    k = max([k, *(int(h.split()[-1].replace(",", "")) for h in hidden if h.split()[-1].replace(",", "").isdigit())])
    tail = ""
    if small:
        tail = (f"; {_n(small)} {_plural(small, 'partnership')} worked with fewer than {k} students, so "
                f"{'its' if small == 1 else 'their'} count and results are not shown")
    if not visible:
        if small:
            return f"Each partnership worked with fewer than {k} students, so no counts or results are shown."
        return "Student participation is not yet recorded for this term."
    # Sum of the rounded, visible counts only: a total built from exact counts would let a reader subtract
    # the shown partnerships and recover a hidden one (privacy.md 3.2).
    total = privacy.format_count(sum(visible), profile)
    return (f"About {total} students took part in partner programs (a student in two partnerships is "
            f"counted twice){tail}.")


def _kpi_clause(kpi_id: str, template: pd.Series, bundles: Sequence[Bundle], first: bool
                ) -> tuple[str, str] | None:
    """``(kind, text)`` for one KPI across partnerships: kind "association", "effect" or "same"."""
    rows = []
    for b in bundles:
        if not _shows_outcomes(b):
            continue
        kpi = b.table("kpi_comparison")
        hit = kpi[kpi["kpi_id"].astype(str) == kpi_id]
        if len(hit) and _reportable(hit.iloc[0], b.profile):
            rows.append(hit.iloc[0])
    if not rows:
        return None
    n = len(rows)
    higher = lower = same = 0
    for r in rows:
        change = _difference(r, bundles[0].profile)
        if change == "no change":
            same += 1
        elif float(r["difference"]) > 0:
            higher += 1
        else:
            lower += 1
    label = in_sentence(_short_label(template.get("kpi_label") or kpi_id))
    binary = str(template.get("kind")) == "binary"
    # Baseline equivalence must hold at every partnership counted before the brief may drop "associated with".
    effect = all(is_effect(r) for r in rows)
    where = f"{_n(n)} {_plural(n, 'partnership')} with results to report" if first else _n(n)
    suffix = " with results to report" if first else ""
    every = {1: f"the one partnership{suffix}" if first else "that one",
             2: f"both partnerships{suffix}" if first else "both"}.get(n, f"all {where}")

    def thing(direction: str) -> str:
        if binary:
            return f"a {direction} share of students \u201c{label}\u201d"
        return f"{'an' if direction[0] in 'aeiou' else 'a'} {direction} {label}"

    if higher == lower == 0:
        return "same", f"{label} was about the same for participants as for non-participants at {every}"
    main, other = (("higher", higher), ("lower", lower)) if higher >= lower else (("lower", lower), ("higher", higher))
    count = every if main[1] == n else f"{_n(main[1])} of {where}"
    extra = [f"{other[0]} at {_n(other[1])}" if other[1] else "", f"about the same at {_n(same)}" if same else ""]
    extra = [e for e in extra if e]
    text = f"{thing(main[0])}{' than in a comparable group' if effect else ''} at {count}"
    return ("effect" if effect else "association"), text + (f" ({', '.join(extra)})" if extra else "")


def _outcomes_sentence(bundles: Sequence[Bundle], n_kpis: int = 3) -> str:
    if not any(b.has("kpi") for b in bundles):
        return "Student outcome comparisons are not yet recorded for this term."
    kinds = ("association", "effect", "same")
    heads = _headline_ids(bundles, n_kpis)
    found = [(kid, t, c) for kid, t in heads if (c := _kpi_clause(kid, t, bundles, first=False))]
    if not found:
        return "No partnership had a group large enough to report student outcomes this term."
    # Clauses are grouped by wording; the one read first says what the counts are out of.
    found.sort(key=lambda x: kinds.index(x[2][0]))
    kid, t, _ = found[0]
    found[0] = (kid, t, _kpi_clause(kid, t, bundles, first=True))
    groups = []
    for kind, lead in zip(kinds, ("taking part was associated with ", "taking part was followed by ", "")):
        texts = [c[1] for _, _, c in found if c[0] == kind]
        if texts:
            groups.append(lead + _join(texts))
    return "Compared with similar students who did not take part, " + "; ".join(groups) + "."


def _investment_sentence(bundles: Sequence[Bundle], *, term: str) -> str | None:
    rows = [(b, _term_row(b.table("investment_balance"), term)) for b in bundles if b.has("investments")]
    rows = [(b, r) for b, r in rows if r is not None]
    if not rows:
        return None
    bands: dict[str, int] = {}
    district = partner = 0.0
    for _, r in rows:
        band = str(r.get("balance_band"))
        bands[band] = bands.get(band, 0) + 1
        district += 0.0 if missing(r.get("district_value")) else float(r["district_value"])
        partner += 0.0 if missing(r.get("partner_value")) else float(r["partner_value"])
    n = len(rows)
    parts = []
    for key in (*_BANDS, *sorted(b for b in bands if b not in _BANDS)):
        c = bands.get(key, 0)
        if not c:
            continue
        be = "was" if c == 1 else "were"
        words = _BANDS.get(key, f"{be} {key.replace('_', ' ')}").format(be=be)
        parts.append(f"{_n(c)} {words}" if parts else f"{_n(c)} of the {_n(n)} {_plural(n, 'partnership')} {words}")
    currency = next((str(b.meta.get("currency") or "USD") for b, _ in rows), "USD")
    money = (f"the district contributed about {privacy.format_money(district, currency, round_to=100)} and "
             f"partners about {privacy.format_money(partner, currency, round_to=100)} in money, staff time and goods")
    return f"Looking at what each side contributed, {_join(parts)}; {_period(term)} {money}."


def _checkins_sentence(bundles: Sequence[Bundle], *, term: str) -> str | None:
    rows = [_term_row(b.table("checkin_status"), term) for b in bundles if b.has("checkins")]
    rows = [r for r in rows if r is not None]
    if not rows:
        return None
    held = sum(1 for r in rows if str(r.get("status")) == "held")
    n = len(rows)
    text = f"Check-in meetings were held with {_n(held)} of {_n(n)} partners {_period(term)}"
    if held == n:
        text = f"Check-in meetings were held with all {_n(n)} partners {_period(term)}"
    others: dict[str, int] = {}
    for r in rows:
        s = str(r.get("status"))
        if s != "held":
            others[s] = others.get(s, 0) + 1
    if others:
        text += " (" + "; ".join(f"{s.replace('_', ' ')}: {_n(c)}" for s, c in others.items()) + ")"
    return text + "."


def _fit_sentence(bundles: Sequence[Bundle]) -> str | None:
    bands: dict[str, int] = {}
    for b in bundles:
        band = b.meta.get("board", {}).get("fit_band") if b.has("fit") else None
        if band:
            bands[str(band)] = bands.get(str(band), 0) + 1
    if not bands:
        return None
    order = sorted(bands.items(), key=lambda kv: -kv[1])
    parts = [f"{_n(c)} {_plural(c, 'partnership') if i == 0 else ''} in the \u201c{band}\u201d band".replace("  ", " ")
             for i, (band, c) in enumerate(order)]
    return f"The latest partnership fit surveys place {_join(parts)}."


def brief_sentences(bundles: Sequence[Bundle], *, term: str, district: str = "") -> list[str]:
    """Four to six plain-language sentences about the district's partnerships in ``term``.

    Built from the bundles only: partnerships by sector, students taking part
    (rounded; small partnerships not counted, only said to exist), how the
    headline outcomes of participants compare with similar students
    ("associated with" unless baseline equivalence holds at every partnership
    counted), the balance of contributions with rounded totals, check-ins held
    and fit bands. Sentences whose part is recorded for no partner are left out.

    Parameters
    ----------
    bundles : sequence of Bundle
        The partners' bundles for ``term``.
    term : str
        Term id ("2025-26-Q2").
    district : str
        District name for the first sentence.

    Returns
    -------
    list of str
        Plain text, no HTML.
    """
    out = [_partners_sentence(bundles, term=term, district=district)]
    if not bundles:
        return out
    out += [_students_sentence(bundles), _outcomes_sentence(bundles),
            _investment_sentence(bundles, term=term), _checkins_sentence(bundles, term=term),
            _fit_sentence(bundles)]
    return [s for s in out if s]


def district_summary(bundles: Sequence[Bundle], *, term: str, district: str = "") -> list[str]:
    """The brief's first sentences (partnerships, students, outcomes) for the top of the index page."""
    return brief_sentences(bundles, term=term, district=district)[:3]


# -- table --------------------------------------------------------------------------------------

def partner_lines(bundles: Sequence[Bundle]) -> pd.DataFrame:
    """One row per partnership for the brief's table (plain text cells).

    Columns: ``partner_id``, ``partner``, ``sector``, ``students``, ``outcome``
    (the first headline KPI: participants minus similar students), ``fit_band``
    and ``outcome_kpi`` (its label, the same for every row). A partnership with
    fewer than ``min_group_n`` students, or whose KPI is suppressed, reads "not
    shown" with the profile's marker.
    """
    cols = ["partner_id", "partner", "sector", "students", "outcome", "fit_band", "outcome_kpi"]
    head = _headline_ids(bundles, 1)
    kid, template = head[0] if head else (None, None)
    label = (template.get("kpi_label") or kid) if template is not None else ""
    rows = []
    for b in bundles:
        marker = b.meta.get("profile", {}).get("markers", {}).get("primary", "*")
        _, students = _participants(b)
        if kid is None or not b.has("kpi"):
            outcome = "not yet recorded"
        elif not _shows_outcomes(b):
            outcome = f"not shown{marker}" if students.startswith("fewer than") else "not yet recorded"
        else:
            kpi = b.table("kpi_comparison")
            hit = kpi[kpi["kpi_id"].astype(str) == kid]
            if not len(hit):
                outcome = "not yet recorded"
            elif not _reportable(hit.iloc[0], b.profile):
                m = hit.iloc[0].get("marker")
                outcome = f"not shown{m if not missing(m) and str(m).strip() else marker}"
            else:
                r = hit.iloc[0]
                outcome = re.sub(r"^([+-]?1) percentage points$", r"\1 percentage point",
                                 _difference(r, b.profile))
        sector = _sector(b)
        fit = b.meta.get("board", {}).get("fit_band") if b.has("fit") else None
        rows.append({"partner_id": b.partner_id, "partner": b.partner_name,
                     "sector": SECTOR_WORDS.get(sector, (None, None, (sector or "not recorded").replace("_", " ")))[2],
                     "students": students, "outcome": outcome, "fit_band": fit or "not yet recorded",
                     "outcome_kpi": label})
    return pd.DataFrame(rows, columns=cols)


# -- page ---------------------------------------------------------------------------------------

def brief_html(bundles: Sequence[Bundle], *, term: str, district: str = "", links: dict[str, str] | None = None,
               lang: str = "en") -> str:
    """The community brief as one self-contained, accessible page.

    Parameters
    ----------
    bundles : sequence of Bundle
        The partners' bundles for ``term``.
    term : str
        Term id.
    district : str
        District name (title, header).
    links : dict, optional
        ``partner_id -> report file`` for partners whose report is ready (linked from the table).
    lang : str
        BCP 47 language of the page.
    """
    from .html import page_shell

    links = links or {}
    k = min((b.min_group_n for b in bundles), default=10)
    markers = next((b.meta.get("profile", {}).get("markers") for b in bundles), None) or {}
    primary, comp = markers.get("primary", "*"), markers.get("complementary", "\u2021")
    who = district or "District"
    sentences = "".join(f"<p>{esc(s)}</p>" for s in brief_sentences(bundles, term=term, district=district))
    lines = partner_lines(bundles)
    kpi_label = lines["outcome_kpi"].iloc[0] if len(lines) else ""
    head = ["Partner", "Sector", "Students taking part",
            f"{_short_label(kpi_label)}: participants compared with similar students" if kpi_label
            else "Headline outcome", "Fit band"]
    body = []
    for _, r in lines.iterrows():
        name = esc(r["partner"])
        if r["partner_id"] in links:
            name = f'<a href="{esc(links[r["partner_id"]])}">{name}</a>'
        cells = [f'<th scope="row">{name}</th>',
                 *[f'<td data-label="{esc(h)}">{esc(r[c])}</td>'
                   for c, h in zip(("sector", "students", "outcome", "fit_band"), head[1:])]]
        body.append("<tr>" + "".join(cells) + "</tr>")
    head_html = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    table = (f'<div class="table-wrap"><table class="data"><caption>Partnerships in {esc(term)}: one row per '
             f"partner</caption><thead><tr>{head_html}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")
    notes = [
        f"Students taking part are rounded to the nearest 5. A partnership with fewer than {k} students shows "
        f"\u201cfewer than {k}\u201d, and none of its outcome figures are shown, so that no student can be "
        "picked out.",
        "A student who took part in two partnerships is counted in both.",
        "\u201cAssociated with\u201d means the difference was seen alongside the program; it does not show that "
        "the program caused it. The brief says \u201cfollowed by\u201d only where participants and the "
        "comparison group were alike before the program.",
        f"The {in_sentence(_short_label(kpi_label)) if kpi_label else 'headline outcome'} column is the "
        "difference between participating students and similar students who did not take part; whether a "
        "difference could be due to chance is in each partner's report.",
        "Contributions are valued in dollars (money, staff time, facilities and goods) and rounded to the nearest "
        "$100. Balanced: both sides give about equally; leaning: one side gives noticeably more; one-sided: one "
        "side gives almost everything.",
        "Fit band: how the district and the partner rate their partnership in the latest fit survey "
        "(strength, borderline or concern).",
        f"{primary} Not shown: fewer than {k} students in a group, or the figure could reveal a student. "
        f"{comp} Hidden to protect another figure.",
    ]
    how = "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
    title = f"Community brief: {who}, {term}"
    from .story import headline_figures, participants_chart, spotlight
    figs = "".join(f'<li><span class="fig">{esc(v)}</span> {esc(label)}</li>'
                   for v, label in headline_figures(bundles, term=term)) if bundles else ""
    spot = spotlight(bundles)
    story = '<div class="story-top">' + (f'<ul class="figures">{figs}</ul>' if figs else "") + (
        f'<figure class="story-fig">{participants_chart(bundles)}<figcaption>Students taking part by partnership '
        "(rounded to the nearest 5)</figcaption></figure>" if bundles else "") + "</div>"
    if spot:
        story += section("Partner spotlight" + (f": {spot[0]}" if spot[0] else ""), f"<p>{esc(spot[1])}</p>",
                         id="brief-spotlight", level=3)
    body_html = (f"<h1>Community brief: {esc(who)}, {esc(term)}</h1>"
                 f'<p class="lede">A one-page summary for the community, the school board and local '
                 "organizations.</p>" + story
                 + section("This quarter in brief" if _period(term) == "this quarter" else "This term in brief",
                           sentences, id="brief-summary")
                 + section("Partners at a glance", table, id="brief-partners")
                 + section("How to read this", how, id="brief-notes")
                 + '<p class="back"><a href="index.html">All partnership reports for this term</a></p>')
    return page_shell(body_html, title=title, lang=lang, site=who, css=BRIEF_CSS,
                      footer=f"Generated {dt.date.today().isoformat()} by partner_analysis from de-identified "
                             "aggregates only.")


def write_brief(out_dir: str | Path, *, rows: Sequence[dict], term: str, lang: str = "en",
                work_dir: str | Path | None = None) -> Path:
    """Write ``<out_dir>/community_brief.html`` atomically (checked like a report page) and return its path.

    Parameters
    ----------
    out_dir : path
        Where the brief is written (``reports/<term>/release/``).
    work_dir : path, optional
        The folder holding ``bundles/`` (``reports/<term>/work/``; default ``out_dir``).
    rows : sequence of dict
        The batch manifest rows (``partner_id``, ``status``, ``html``): which partners to include and
        which reports to link.
    term : str
        Term id.

    Raises
    ------
    HtmlCheckError
        When the page breaks an accessibility or privacy rule of :func:`~.html.check_html`.
    """
    from .html import HtmlCheckError, check_html

    out_dir = Path(out_dir)
    bundles = load_term_bundles(out_dir if work_dir is None else work_dir, [r["partner_id"] for r in rows])
    district = next((str(b.meta.get("district")) for b in bundles if b.meta.get("district")), "")
    links = {r["partner_id"]: r["html"] for r in rows if r.get("status") == "ok" and r.get("html")}
    text = brief_html(bundles, term=term, district=district, links=links, lang=lang)
    problems = check_html(text)
    if problems:
        raise HtmlCheckError(problems, title="community brief")
    path = out_dir / BRIEF_FILE
    write_atomic(path, text)
    return path
