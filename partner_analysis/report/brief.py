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
from . import text as T
from .narrative import in_sentence, is_effect

__all__ = ["BRIEF_FILE", "load_term_bundles", "brief_sentences", "district_summary", "partner_lines",
           "outcomes_sentence", "investment_sentence",
           "brief_html", "write_brief", "term_words"]

BRIEF_FILE = "community_brief.html"
#: Sector codes of ``partners.sector`` in the order the brief names them (words in :mod:`.text`).
SECTORS = ("healthcare", "employer", "higher_education", "community", "government", "other")
_BANDS = ("balanced", "leaning", "one-sided")
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
# -- small wording helpers ----------------------------------------------------------------------

def term_words(term: str) -> str:
    """A quarterly term id as it is said: "2025-26-Q2" -> "the second quarter of the 2025-26 school year"."""
    m = re.fullmatch(r"(\d{4}-\d{2})-Q([1-4])", str(term))
    if not m:
        return str(term)
    return T.quarter_words(m.group(2), m.group(1))


def _quarterly(term: str) -> bool:
    return bool(re.search(r"Q[1-4]$", str(term)))


def _period(term: str) -> str:
    return T.period_words(_quarterly(term))


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
        return None, T.label("not_yet_recorded")
    row = part[part["program_id"].astype(str) == "all"]
    if not len(row):
        return None, T.label("not_yet_recorded")
    r = row.iloc[0]
    if str(r.get("participants_display")) == "none":
        return None, T.figure("none")
    value = r.get("participants")
    if missing(value) or float(value) < k:
        return None, T.fewer_than(k)
    shown = privacy.format_count(value, b.profile)
    try:
        return float(shown.replace(",", "")), T.figure(shown)
    except ValueError:  # a profile that bands small counts ("<15" under Census DRB rounding) hides this one too
        return None, T.fewer_than(shown.lstrip('<')) if shown.startswith("<") else shown


def _small(b: Bundle) -> str | None:
    """The bound a partnership too small to show is hidden under ("10", "15"), else None."""
    k = b.min_group_n
    part = b.table("participation")
    if not b.has("participation") or part is None or not len(part):
        return None
    row = part[part["program_id"].astype(str) == "all"]
    if not len(row) or str(row.iloc[0].get("participants_display")) == "none":
        return None
    value = row.iloc[0].get("participants")
    if missing(value) or float(value) < k:
        return str(k)
    shown = privacy.format_count(value, b.profile)
    return shown.lstrip("<") if shown.startswith("<") else None


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
    if n == 0:
        return T.brief_no_reports(term_words(term))
    counts: dict[str, int] = {}
    for b in bundles:
        s = _sector(b)
        counts[s or "unrecorded"] = counts.get(s or "unrecorded", 0) + 1
    parts = [T.sector_phrase(code, counts[code])
             for code in (*SECTORS, *sorted(c for c in counts if c not in SECTORS)) if code in counts]
    return T.brief_partners(term_words(term), district or None, n, T.join(parts))


def _students_sentence(bundles: Sequence[Bundle]) -> str:
    k = min((b.min_group_n for b in bundles), default=10)
    profile = next((b.profile for b in bundles), None)
    visible = [v for v, _ in map(_participants, bundles) if v is not None]
    hidden = [h for h in map(_small, bundles) if h is not None]
    small = len(hidden)
    # A banding profile hides more than k ("fewer than 15"): say the largest bound used, never a false one.
    k = max([k, *(int(h.replace(",", "")) for h in hidden if h.replace(",", "").isdigit())])
    tail = T.brief_small_tail(small, k) if small else ""
    if not visible:
        if small:
            return T.brief_all_small(k)
        return T.brief_no_participation()
    # Sum of the rounded, visible counts only: a total built from exact counts would let a reader subtract
    # the shown partnerships and recover a hidden one (privacy.md 3.2).
    total = privacy.format_count(sum(visible), profile)
    return T.brief_students(total, tail)


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
    label = in_sentence(_short_label(T.kpi_label(template.get("kpi_label") or kpi_id)))
    binary = str(template.get("kind")) == "binary"
    # Baseline equivalence must hold at every partnership counted before the brief may drop "associated with".
    effect = all(is_effect(r) for r in rows)
    every = T.brief_every(n, first)
    if higher == lower == 0:
        return "same", T.brief_same(label, every)
    main, other = (("higher", higher), ("lower", lower)) if higher >= lower else (("lower", lower), ("higher", higher))
    count = every if main[1] == n else T.brief_k_of(main[1], n, first)
    extra = [T.brief_extra(other[0], other[1]) if other[1] else "", T.brief_extra("same", same) if same else ""]
    extra = [e for e in extra if e]
    return ("effect" if effect else "association"), T.brief_clause(
        T.brief_thing(label, main[0] == "higher", binary), effect, count, extra)


def _outcomes_sentence(bundles: Sequence[Bundle], n_kpis: int = 3) -> str:
    if not any(b.has("kpi") for b in bundles):
        return T.story_no_outcomes()
    kinds = ("association", "effect", "same")
    heads = _headline_ids(bundles, n_kpis)
    found = [(kid, t, c) for kid, t in heads if (c := _kpi_clause(kid, t, bundles, first=False))]
    if not found:
        return T.brief_no_outcome_groups()
    # Clauses are grouped by wording; the one read first says what the counts are out of.
    found.sort(key=lambda x: kinds.index(x[2][0]))
    kid, t, _ = found[0]
    found[0] = (kid, t, _kpi_clause(kid, t, bundles, first=True))
    groups = []
    for kind in kinds:
        texts = [c[1] for _, _, c in found if c[0] == kind]
        if texts:
            groups.append(T.brief_group(kind, T.join(texts)))
    return T.brief_outcomes(groups)


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
        if c:
            parts.append(T.brief_band(key, c, not parts, n))
    currency = next((str(b.meta.get("currency") or "USD") for b, _ in rows), "USD")
    return T.brief_investment(T.join(parts), _period(term),
                              privacy.format_money(district, currency, round_to=100),
                              privacy.format_money(partner, currency, round_to=100))


def _checkins_sentence(bundles: Sequence[Bundle], *, term: str) -> str | None:
    rows = [_term_row(b.table("checkin_status"), term) for b in bundles if b.has("checkins")]
    rows = [r for r in rows if r is not None]
    if not rows:
        return None
    held = sum(1 for r in rows if str(r.get("status")) == "held")
    others: dict[str, int] = {}
    for r in rows:
        s = str(r.get("status"))
        if s != "held":
            others[s] = others.get(s, 0) + 1
    return T.brief_checkins(held, len(rows), _period(term), list(others.items()))


def _fit_sentence(bundles: Sequence[Bundle]) -> str | None:
    bands: dict[str, int] = {}
    for b in bundles:
        band = b.meta.get("board", {}).get("fit_band") if b.has("fit") else None
        if band:
            bands[str(band)] = bands.get(str(band), 0) + 1
    if not bands:
        return None
    return T.brief_fit(sorted(bands.items(), key=lambda kv: -kv[1]))


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


def outcomes_sentence(bundles: Sequence[Bundle]) -> str:
    """The brief's sentence on how participants' headline outcomes compare with similar students."""
    return _outcomes_sentence(bundles)


def investment_sentence(bundles: Sequence[Bundle], *, term: str) -> str | None:
    """The brief's sentence on what each side contributed (None when no partner records investments)."""
    return _investment_sentence(bundles, term=term)


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
    label = T.kpi_label(template.get("kpi_label") or kid) if template is not None else ""
    rows = []
    nyr, not_shown = T.label("not_yet_recorded"), T.label("not_shown")
    for b in bundles:
        marker = b.meta.get("profile", {}).get("markers", {}).get("primary", "*")
        _, students = _participants(b)
        if kid is None or not b.has("kpi"):
            outcome = nyr
        elif not _shows_outcomes(b):
            outcome = f"{not_shown}{marker}" if _small(b) is not None else nyr
        else:
            kpi = b.table("kpi_comparison")
            hit = kpi[kpi["kpi_id"].astype(str) == kid]
            if not len(hit):
                outcome = nyr
            elif not _reportable(hit.iloc[0], b.profile):
                m = hit.iloc[0].get("marker")
                outcome = f"{not_shown}{m if not missing(m) and str(m).strip() else marker}"
            else:
                outcome = T.figure(_difference(hit.iloc[0], b.profile))
        fit = b.meta.get("board", {}).get("fit_band") if b.has("fit") else None
        rows.append({"partner_id": b.partner_id, "partner": b.partner_name, "sector": T.sector_cell(_sector(b)),
                     "students": students, "outcome": outcome, "fit_band": T.code_words(fit) if fit else nyr,
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
    who = district or T.deck("district")
    sentences = "".join(f"<p>{esc(s)}</p>" for s in brief_sentences(bundles, term=term, district=district))
    lines = partner_lines(bundles)
    kpi_label = lines["outcome_kpi"].iloc[0] if len(lines) else ""
    head = [T.label("partner"), T.label("sector"), T.label("students_taking_part"),
            T.brief_outcome_header(_short_label(kpi_label)) if kpi_label else T.label("headline_outcome"),
            T.label("fit_band")]
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
    table = (f'<div class="table-wrap"><table class="data"><caption>{esc(T.brief_table_caption(term))}'
             f"</caption><thead><tr>{head_html}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")
    notes = T.brief_notes(k, in_sentence(_short_label(kpi_label)) if kpi_label else None, primary, comp)
    how = "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
    title = T.brief_title(who, term)
    from .story import headline_figures, participants_chart, spotlight
    figs = "".join(f'<li><span class="fig">{esc(v)}</span> {esc(label)}</li>'
                   for v, label in headline_figures(bundles, term=term)) if bundles else ""
    spot = spotlight(bundles)
    story = '<div class="story-top">' + (f'<ul class="figures">{figs}</ul>' if figs else "") + (
        f'<figure class="story-fig">{participants_chart(bundles)}<figcaption>'
        f'{esc(T.label("brief_chart_caption"))}</figcaption></figure>' if bundles else "") + "</div>"
    if spot:
        story += section(T.spotlight_heading(spot[0]), f"<p>{esc(spot[1])}</p>", id="brief-spotlight", level=3)
    body_html = (f"<h1>{esc(title)}</h1>"
                 f'<p class="lede">{esc(T.label("brief_lede"))}</p>' + story
                 + section(T.label("brief_quarter") if _quarterly(term) else T.label("brief_term"),
                           sentences, id="brief-summary")
                 + section(T.label("brief_partners"), table, id="brief-partners")
                 + section(T.label("brief_how"), how, id="brief-notes")
                 + f'<p class="back"><a href="index.html">{esc(T.label("brief_back"))}</a></p>')
    return page_shell(body_html, title=title, lang=lang, site=who, css=BRIEF_CSS,
                      footer=T.brief_footer(dt.date.today()))


def write_brief(out_dir: str | Path, *, rows: Sequence[dict], term: str, lang: str = "en",
                work_dir: str | Path | None = None, bundles: Sequence[Bundle] | None = None) -> Path:
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
    bundles : sequence of Bundle, optional
        :func:`load_term_bundles` of ``rows``, when the caller has them loaded already.

    Raises
    ------
    HtmlCheckError
        When the page breaks an accessibility or privacy rule of :func:`~.html.check_html`.
    """
    from .html import HtmlCheckError, check_html

    out_dir = Path(out_dir)
    if bundles is None:
        bundles = load_term_bundles(out_dir if work_dir is None else work_dir, [r["partner_id"] for r in rows])
    district = next((str(b.meta.get("district")) for b in bundles if b.meta.get("district")), "")
    links = {r["partner_id"]: r["html"] for r in rows if r.get("status") == "ok" and r.get("html")}
    with T.use_language(lang):
        text = brief_html(bundles, term=term, district=district, links=links, lang=lang)
    problems = check_html(text)
    if problems:
        raise HtmlCheckError(problems, title="community brief")
    path = out_dir / BRIEF_FILE
    write_atomic(path, text)
    return path
