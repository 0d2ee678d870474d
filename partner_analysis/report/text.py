"""Every label and sentence of the partner report, the district board and the brief, in one place.

Numbers never come from here: each figure is formatted by
:mod:`partner_analysis.privacy.display` and passed in as text. This module only
puts words around them; :func:`_` and :func:`ngettext` look them up in the
gettext domain ``report`` (``partner_analysis/locale/<lang>/LC_MESSAGES/report.po``,
see ``i18n.py``) for the report's language (:func:`use_language`,
:func:`set_language`). Every message is a literal ``_("...")`` or
``ngettext("...", "...", n)`` call with ``{name}`` placeholders (never
f-strings or concatenation inside the message), so ``pybabel extract`` finds
it.

Conventions
-----------
* one label per measure (:data:`BOARD_LABELS`); "vs similar students" always
  means participants minus the comparison group, "since last term" always the
  participants' own change;
* singular and plural through :func:`ngettext` ("+1 percentage point",
  "one of the 2 partnerships");
* wording follows the honest-estimates rules: "associated with", never
  "caused".
"""
from __future__ import annotations

import re

from .. import i18n, privacy

__all__ = ["_", "N_", "ngettext", "set_language", "language", "use_language", "figure", "STATUS_WORDS", "STATUS_ICONS", "BOARD_LABELS", "SIZE_WORDS", "CHANCE_WORDS",
           "percentage_points", "partnerships_phrase", "overall_sentence", "attention_goal", "attention_action",
           "attention_checkin", "attention_result", "balance_direction", "cost_per", "students_phrase",
           "days_overdue", "methods_note", "size_word", "chance_word", "proposed_action_text", "sparkline_alt",
           "goal_tile", "tile_change", "tile_vs_similar"]


#: the report's language when no :func:`use_language` block is active (set once per report kernel by
#: :func:`set_language`, see ``view.open_report``)
_DEFAULT_LANGUAGE: str | None = None


def set_language(lang: str | None) -> str:
    """Make ``lang`` the language of report text built outside a :func:`use_language` block (a report kernel)."""
    global _DEFAULT_LANGUAGE
    _DEFAULT_LANGUAGE = None if i18n.normalise_language(lang) == i18n.DEFAULT_LANGUAGE else lang
    return language()


def language() -> str:
    """The language report text is built in now (``"en"``, ``"es"``)."""
    return i18n.normalise_language(i18n.current_language() or _DEFAULT_LANGUAGE)


def use_language(lang: str | None):
    """Within the block, report text is built in ``lang`` (a context variable: threads do not interfere)."""
    return i18n.use_language(lang)


def _catalog():
    return i18n.translations(language(), i18n.REPORT_DOMAIN)


def _(message: str) -> str:
    """``message`` in the report's language (gettext domain ``report``; English when untranslated)."""
    return _catalog().gettext(message) if message else message


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (translated where it is shown)."""
    return message


def ngettext(singular: str, plural: str, n: float) -> str:
    """The singular or plural form of a message for ``n`` in the report's language.

    A fractional ``n`` ("1.5 percentage points") takes the plural (CLDR "other") form in English and Spanish.
    """
    count = int(n) if float(n) == int(n) else 2
    return _catalog().ngettext(singular, plural, count)


def figure(text: str) -> str:
    """A figure displayed by :mod:`partner_analysis.privacy.display`, in the report's language.

    The words the display module may return ("not shown", "no change", "none", "percentage points") are
    translated here; the digits are re-written with the locale's separators by
    :func:`partner_analysis.privacy.localize` (Babel), which changes only how a number is written, never
    its value or its rounding.
    """
    t = percentage_points(str(text)) if _POINTS.match(str(text)) else str(text)
    words = {"not shown": N_("not shown"), "no change": N_("no change"), "none": N_("none")}
    if t in words:
        return _(words[t])
    if _POINTS.match(str(text)):
        return t
    for suffix in _UNIT_WORDS:
        if t.endswith(suffix) and t[:-len(suffix)].strip():
            return _(_UNIT_WORDS[suffix]).format(value=privacy.localize(t[:-len(suffix)], language()))
    return privacy.localize(t, language())


#: Units ``privacy.format_level`` writes after a level ("2.9 credits").
_UNIT_WORDS = {" hours": N_("{value} hours"), " credits": N_("{value} credits"), " points": N_("{value} points")}


# -- status chips ------------------------------------------------------------------------------------------
#: Chip words: a status is always written, never shown by colour alone (WCAG 1.4.1).
STATUS_WORDS = {"good": N_("good"), "watch": N_("watch"), "concern": N_("concern"), "none": N_("no status")}
#: Chip icons (text glyphs, so they print and read aloud with the word beside them).
STATUS_ICONS = {"good": "\u2714", "watch": "\u25cf", "concern": "\u25b2", "none": "\u2013"}

#: One label per measure on the board, the index and the brief.
BOARD_LABELS = {
    "board": N_("Partnership board"),
    "since_last_term": N_("Since last term"),
    "vs_similar": N_("Vs similar students"),
    "goal": N_("Goal"),
    "trend": N_("Last terms"),
    "attention": N_("Needs attention"),
    "attention_none": N_("Nothing needs attention this term."),
    "investment": N_("Investment"),
    "district_side": N_("District"),
    "partner_side": N_("Partner"),
    "per_participant": N_("Cost per participant"),
    "per_credit": N_("Cost per credit earned"),
    "per_wbl_hour": N_("Cost per work-based learning hour"),
    "fit": N_("Partnership fit"),
    "checkins": N_("Check-ins this term"),
    "not_recorded": N_("not yet recorded"),
    "appendix": N_("Details"),
    "size_column": N_("How big a difference"),
    "chance_column": N_("Could this be chance"),
    "methods": N_("Methods note"),
    "outcomes_not_recorded": N_("Student outcomes: not yet recorded."),
    "no_goal": N_("no goal set"),
}

#: Plain words for the size of a standardised difference (|g| or Cox index): < 0.2 small, < 0.5 medium,
#: else large (Cohen 1988 conventions; WWC reports the same effect-size scale).
SIZE_WORDS = {"small": N_("small"), "medium": N_("medium"), "large": N_("large")}
#: Plain words for an adjusted p-value: below 0.05 "unlikely", otherwise "likely".
CHANCE_WORDS = {"unlikely": N_("unlikely"), "likely": N_("likely"), "untested": N_("not tested")}


def size_word(effect_size: float | None) -> str:
    """"small" / "medium" / "large" for a standardised effect size; "" when there is none."""
    if effect_size is None:
        return ""
    a = abs(float(effect_size))
    return _(SIZE_WORDS["small" if a < 0.2 else "medium" if a < 0.5 else "large"])


def chance_word(p_adj: float | None) -> str:
    """Could the difference be chance: "unlikely" (adjusted p < 0.05), "likely", or "not tested"."""
    if p_adj is None:
        return _(CHANCE_WORDS["untested"])
    return _(CHANCE_WORDS["unlikely" if float(p_adj) < 0.05 else "likely"])


# -- small phrases -----------------------------------------------------------------------------------------
_POINTS = re.compile(r"^([+\-\u2212]?)(\d+(?:\.\d+)?) percentage points?$")


def percentage_points(display_text: str) -> str:
    """A displayed change in points with the right number: "+1 percentage point", "+12 percentage points".

    ``display_text`` is the output of ``privacy.format_change`` (the number is
    already rounded and checked there); other texts pass through unchanged.
    """
    m = _POINTS.match(str(display_text))
    if not m:
        return str(display_text)
    sign, number = m.groups()
    value = float(number)
    return ngettext("{sign}{number} percentage point", "{sign}{number} percentage points", value).format(
        sign=sign, number=privacy.localize(number, language()))


def partnerships_phrase(k: int, n: int) -> str:
    """"one of the 2 partnerships", "3 of the 7 partnerships", "the only partnership"."""
    if n == 1 and k == 1:
        return _("the only partnership")
    if k == 1:
        return ngettext("one of the {n} partnership", "one of the {n} partnerships", n).format(n=n)
    return ngettext("{k} of the {n} partnership", "{k} of the {n} partnerships", n).format(k=k, n=n)


def students_phrase(count_text: str) -> str:
    """"about 45 students" from a displayed (rounded) count; "fewer than 10 students" from "<10"."""
    t = str(count_text)
    if t.startswith("<"):
        return _("fewer than {n} students").format(n=t[1:])
    if t == "none":
        return _("no students")
    return _("about {n} students").format(n=figure(t))


def days_overdue(days: float) -> str:
    n = int(round(float(days)))
    return ngettext("{n} day overdue", "{n} days overdue", n).format(n=privacy.localize(f"{n:,}", language()))


# -- the board ---------------------------------------------------------------------------------------------
def overall_sentence(partner: str, counts: dict[str, int], n_attention: int, *, hidden: int = 0) -> str:
    """The first sentence a reader sees: how many headline results are good, to watch, of concern.

    ``hidden`` counts headline results not shown (small groups): when no result is shown, the sentence says
    they are hidden, not missing.
    """
    n = sum(counts.values())
    if n == 0 and hidden:
        head = _("{partner}: the groups of students are too small to show results, so no headline result has a "
                 "status.").format(partner=partner)
    elif n == 0:
        head = _("{partner}: student results are not yet available this term.").format(partner=partner)
    elif counts.get("concern", 0):
        head = ngettext("{partner}: {k} of {n} headline results needs attention.",
                        "{partner}: {k} of {n} headline results need attention.",
                        counts["concern"]).format(partner=partner, k=counts["concern"], n=n)
    elif counts.get("watch", 0):
        head = ngettext("{partner}: no concerns; {k} of {n} headline results to watch.",
                        "{partner}: no concerns; {k} of {n} headline results to watch.",
                        counts["watch"]).format(partner=partner, k=counts["watch"], n=n)
    else:
        head = _("{partner}: headline results are on course.").format(partner=partner)
    if n_attention:
        head += " " + ngettext("{n} item below needs attention.", "{n} items below need attention.",
                               n_attention).format(n=n_attention)
    return head


def tile_change(display_text: str) -> str:
    """A tile's change since last term (already displayed), with singular/plural points, in the language."""
    return figure(display_text)


def tile_vs_similar(display_text: str, better: bool | None) -> str:
    """A tile's difference vs similar students: "+4 percentage points (better)"."""
    text = figure(display_text)
    if better is None or display_text in ("no change",):
        return _("about the same") if display_text == "no change" else text
    return (_("{change} (better)") if better else _("{change} (worse)")).format(change=text)


def goal_tile(status_words: str, target_text: str | None = None) -> str:
    if target_text:
        return _("{status}; target {target}").format(status=status_words, target=target_text)
    return status_words


def sparkline_alt(label: str, points: list[tuple[str, str]]) -> str:
    """Accessible text of a sparkline: every term and its displayed level."""
    if not points:
        return _("{label}: no earlier terms to show.").format(label=label)
    parts = ", ".join(_("{term}: {value}").format(term=t, value=v) for t, v in points)
    return _("{label} over the last terms: {parts}.").format(label=label, parts=parts)


def attention_goal(description: str, status_words: str) -> str:
    return _("Goal \u201c{goal}\u201d is {status}.").format(goal=description, status=status_words)


def attention_action(description: str, days: float | None) -> str:
    if days is None:
        return _("Action \u201c{action}\u201d is past due.").format(action=description)
    return _("Action \u201c{action}\u201d is {overdue}.").format(action=description, overdue=days_overdue(days))


def attention_checkin(status_words: str) -> str:
    return _("Check-in this term: {status}.").format(status=status_words)


def attention_result(label: str, change_text: str) -> str:
    return _("{label}: participants {change} than similar students, and unlikely to be chance.").format(
        label=label, change=change_text)


def proposed_action_text(label: str, level_text: str, threshold_text: str) -> str:
    """The action a concern proposes for the partner's next check-in (stored in the records store)."""
    return _("Review {label} of participating students ({level}, district threshold {threshold}) and agree "
             "one step at the next check-in.").format(label=label, level=level_text, threshold=threshold_text)


def balance_direction(partner_share_text: str, district_share_text: str, partner_pays_more: bool) -> str:
    """"district pays 98%" / "partner pays 60%": the direction of a balance, from displayed shares."""
    if partner_pays_more:
        return _("partner pays {share}").format(share=partner_share_text)
    return _("district pays {share}").format(share=district_share_text)


def cost_per(what: str, money_text: str) -> str:
    labels = {"participant": BOARD_LABELS["per_participant"], "credit": BOARD_LABELS["per_credit"],
              "wbl_hour": BOARD_LABELS["per_wbl_hour"]}
    return _("{label}: {money}").format(label=_(labels[what]), money=money_text)


def methods_note(k: int) -> list[str]:
    """The short methods note: the only place jargon appears."""
    return [
        _("Comparison group: students at the same schools and grades who did not take part."),
        _("How big a difference: the standardised effect size (Hedges' g for averages, the Cox index for yes/no "
          "outcomes); under 0.2 is small, under 0.5 medium, otherwise large."),
        _("Could this be chance: \u201cunlikely\u201d when the Benjamini-Hochberg adjusted p-value is below 0.05."),
        _("Differences are \u201cassociated with\u201d taking part; they do not show that the program caused "
          "them."),
        _("Groups under {k} students are not shown.").format(k=k),
    ]


# -- page furniture ----------------------------------------------------------------------------------------
def report_title(partner: str, term: str, lang: str | None = None) -> str:
    """The ``<title>`` of a partner report page."""
    with use_language(lang or language()):
        return _("{partner}: partnership report {term}").format(partner=partner, term=term)


def footer_text(day, *, aggregates: bool = True) -> str:
    """The page footer: the generation date in the report's language."""
    return _("Generated {date} by partner_analysis. Aggregates only.").format(date=date_text(day))


def date_text(value) -> str:
    """A day for readers in the report's language ("29 Nov 2025", "29 nov 2025") through Babel."""
    import pandas as pd
    from babel.dates import format_date
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() in ("", "NaT", "nan"):
        return ""
    try:
        d = pd.Timestamp(value)
    except (ValueError, TypeError):
        return str(value)
    if language() == "en":
        return f"{d.day} {d.strftime('%b %Y')}"
    return format_date(d.date(), format="d MMM y", locale=language().replace("-", "_"))


#: Section titles, table headings and captions of the partner report, the index and the brief
#: (one label per measure: "since last term" is the participants' own change, "vs similar students" the
#: difference from the comparison group).
LABELS = {
    # sections of the partner report
    "story": N_("What the numbers say"),
    "outcomes": N_("Student outcomes"),
    "fit": N_("Partnership fit"),
    "investments": N_("Investments"),
    "checkins": N_("Check-ins and actions"),
    "goals": N_("Goals"),
    "data_notes": N_("Data notes"),
    "partnership": N_("Partnership"),
    "partner_word": N_("partner"),
    "subtitle": N_("figures are for groups of students; small groups are not shown"),
    # outcomes
    "program": N_("Program"),
    "type": N_("Type"),
    "students_taking_part": N_("Students taking part"),
    "all_programs": N_("All programs"),
    "outcome": N_("Outcome"),
    "participants_n": N_("Participants (number)"),
    "participants_result": N_("Participants' result"),
    "similar_n": N_("Similar students (number)"),
    "similar_result": N_("Similar students' result"),
    "difference": N_("Difference"),
    "no_outcomes": N_("No outcomes could be compared this term."),
    "over_time": N_("Participating students over time"),
    "same term last year": N_("Same term last year"),
    "previous term": N_("Previous term"),
    "this term": N_("This term"),
    "outcome_comparisons": N_("Student outcome comparisons"),
    "share_of_students": N_("Share of students"),
    "participants_group": N_("Participants"),
    "comparison_group": N_("Comparison group"),
    "chart_twin_outcomes": N_("Data for the chart: share of students, participants and comparison group"),
    # fit
    "dimension": N_("Dimension"),
    "district_view": N_("District view"),
    "partner_view": N_("Partner view"),
    "gap": N_("Gap"),
    "flag": N_("Flag"),
    "fit_caption": N_("Fit survey: district and partner views by dimension"),
    "next_questions": N_("Questions for the next check-in"),
    "fit_survey": N_("Partnership fit survey"),
    "fit_axis": N_("Mean fit score (1 to 5)"),
    "chart_twin_fit": N_("Data for the chart: fit scores by dimension"),
    # investments
    "term": N_("Term"),
    "contributions_by_term": N_("Contributions by term"),
    "district_contribution": N_("District contribution"),
    "partner_contribution": N_("Partner contribution"),
    "total": N_("Total"),
    "partner_share": N_("Partner share"),
    "balance": N_("Balance"),
    "change_partner_share": N_("Change in partner share"),
    "district_hours": N_("District hours"),
    "partner_hours": N_("Partner hours"),
    "category": N_("Category"),
    "contributed_by": N_("Contributed by"),
    "value": N_("Value"),
    "hours": N_("Hours"),
    "nothing_recorded": N_("nothing recorded this term"),
    # check-ins
    "checkins_by_term": N_("Check-ins by term"),
    "checkin_held": N_("Check-in held"),
    "checkins_n": N_("Check-ins"),
    "last_checkin": N_("Last check-in"),
    "status": N_("Status"),
    "open_actions": N_("Open actions"),
    "action": N_("Action"),
    "owner": N_("Owner"),
    "side": N_("Side"),
    "agreed_at": N_("Agreed at check-in on"),
    "due": N_("Due"),
    "past_due": N_("Past due"),
    "none_open": N_("none open"),
    # goals
    "goal": N_("Goal"),
    "baseline": N_("Baseline"),
    "target": N_("Target"),
    "latest_value": N_("Latest value"),
    "progress": N_("Progress toward target"),
    "expected": N_("Expected by now"),
    "goals_caption": N_("Goals and progress"),
    "no_goals": N_("No goals recorded."),
    # index and portfolio
    "partner": N_("Partner"),
    "vs_similar": N_("Vs similar students"),
    "investment": N_("Investment"),
    "portfolio": N_("Portfolio"),
    "portfolio_results": N_("Results: same term last year \u2192 this term"),
    "portfolio_spend": N_("Combined investment by term"),
    "per_participant": N_("Cost per participant"),
    "per_sd": N_("Cost per 0.1 SD gain (adjusted comparison)"),
    "portfolio_caption": N_("Each partnership's results and cost side by side"),
    "all_partners": N_("All partners"),
    "district_summary": N_("District summary"),
    "notes": N_("Notes"),
    "not_yet_recorded": N_("not yet recorded"),
    "not_shown": N_("not shown"),
    # brief
    "sector": N_("Sector"),
    "fit_band": N_("Fit band"),
    "headline_outcome": N_("Headline outcome"),
    "brief_lede": N_("A one-page summary for the community, the school board and local organizations."),
    "brief_quarter": N_("This quarter in brief"),
    "brief_term": N_("This term in brief"),
    "brief_partners": N_("Partners at a glance"),
    "brief_how": N_("How to read this"),
    "brief_back": N_("All partnership reports for this term"),
    "brief_chart_caption": N_("Students taking part by partnership (rounded to the nearest 5)"),
    "spotlight": N_("Partner spotlight"),
    "skip": N_("Skip to the content"),
}


def label(key: str) -> str:
    """A label of :data:`LABELS` in the report's language."""
    return _(LABELS[key])


#: Goal statuses in words (codes of the goals table and of ``status.goal_status``).
GOAL_WORDS = {"met": N_("met"), "on track": N_("on track"), "at risk": N_("at risk"), "off track": N_("off track"),
              "behind": N_("behind"), "no data yet": N_("no data yet"), "no goal set": N_("no goal set"),
              "not yet recorded": N_("not yet recorded"), "not measurable yet": N_("not measurable yet"),
              "not shown (small group)": N_("not shown (small group)")}


def goal_words(status_words: str) -> str:
    """A goal status ("on track", "met (check-in review)") in the report's language."""
    t = str(status_words)
    review = " (check-in review)"
    if t.endswith(review):
        return _("{status} (check-in review)").format(status=goal_words(t[:-len(review)]))
    return _(GOAL_WORDS[t]) if t in GOAL_WORDS else t


#: Codes of the records (check-in status, balance band, contribution side) in words.
CODE_WORDS = {"ok": N_("ok"), "watch": N_("watch"), "discuss": N_("discuss"),  # a fit gap's flag
              "held": N_("held"), "overdue": N_("overdue"), "not_due": N_("not due"), "not due": N_("not due"),
              "due": N_("due"), "missed": N_("missed"), "scheduled": N_("scheduled"),
              "balanced": N_("balanced"), "leaning": N_("leaning"), "one-sided": N_("one-sided"),
              "one_sided": N_("one-sided"), "district": N_("district"), "partner": N_("partner"),
              "both": N_("both"), "yes": N_("yes"), "no": N_("no"),
              "strength": N_("strength"), "borderline": N_("borderline"), "concern": N_("concern"),
              "money": N_("money"), "staff_time": N_("staff time"), "facilities": N_("facilities"),
              "in_kind": N_("in kind"), "goods": N_("goods"), "other": N_("other"),
              "internship": N_("internship"), "mentoring": N_("mentoring"), "tutoring": N_("tutoring"),
              "job_shadow": N_("job shadow"), "career_fair": N_("career fair"), "dual_enrollment": N_("dual enrollment"),
              "apprenticeship": N_("apprenticeship"), "wbl": N_("work-based learning"),
              "pre_apprenticeship": N_("pre-apprenticeship"), "summer_program": N_("summer program"),
              "after_school": N_("after school")}


def code_words(value) -> str:
    """An internal code ("on_track", "one-sided") as words in the report's language."""
    t = "" if value is None else str(value)
    if t in ("", "nan", "None", "<NA>"):
        return ""
    if t in CODE_WORDS:
        return _(CODE_WORDS[t])
    return t.replace("_", " ")


def not_recorded(what: str) -> str:
    """"Investments: not yet recorded." (``what`` already translated)."""
    return _("{what}: not yet recorded.").format(what=what)


def empty_table(caption: str, empty: str) -> str:
    return _("{caption}: {empty}.").format(caption=caption, empty=empty)


def participation_caption(term: str) -> str:
    return _("Students taking part in {term} (rounded to 5)").format(term=term)


def comparison_caption(term: str) -> str:
    return _("Participating students compared with similar non-participants, {term}").format(term=term)


def trend_heading(when: str, term: str) -> str:
    return _("{when} ({term})").format(when=label(when), term=term)


def category_caption(term: str) -> str:
    return _("Contributions by category, {term}").format(term=term)


def overdue_cell(past_due: bool, days: float | None) -> str:
    """The "Past due" cell of an open action: "no", "yes", "yes, 218 days"."""
    if not past_due:
        return _("no")
    if days is None:
        return _("yes")
    n = int(round(float(days)))
    return ngettext("yes, {n} day", "yes, {n} days", n).format(n=privacy.localize(f"{n:,}", language()))


def report_heading(partner: str, term: str) -> str:
    return _("{partner}: partnership report, {term}").format(partner=partner, term=term)


def data_notes(k: int, primary: str, complementary: str) -> list[str]:
    """The data notes of a partner report (plain text; the caller escapes)."""
    return [
        _("{marker} Not shown: fewer than {k} students in a group, or so few with (or without) an outcome that a "
          "student could be identified.").format(marker=primary, k=k),
        _("{marker} Hidden to protect another hidden figure (it could otherwise be worked out by "
          "subtraction).").format(marker=complementary),
        _("Counts are rounded to the nearest 5; groups under {k} are shown as \u201c<{k}\u201d.").format(k=k),
    ]


def chart_alt_outcomes(parts: list[tuple[str, str, str]]) -> str:
    """Alt text of the outcomes bar chart: (outcome, participants' level, comparison level) per bar."""
    text = "; ".join(_("{outcome}: participants {t}, comparison {c}").format(outcome=o, t=t, c=c)
                     for o, t, c in parts)
    return _("Bar chart comparing participating students with a comparison group. {parts}.").format(parts=text)


def chart_alt_fit(n: int, dimension: str, district: str, partner: str) -> str:
    return ngettext("Dot chart of district and partner fit scores for {n} dimension. The widest gap is on "
                    "{dimension} (district {district}, partner {partner}).",
                    "Dot chart of district and partner fit scores for {n} dimensions. The widest gap is on "
                    "{dimension} (district {district}, partner {partner}).", n).format(
        n=n, dimension=dimension, district=district, partner=partner)


# -- board values ------------------------------------------------------------------------------------------
def vs_not_shown(suppressed: bool) -> str:
    return _("not shown (small group)") if suppressed else _("no comparison")


def vs_coded() -> str:
    return _("not shown (a figure is coded or hidden)")


def value_hidden(k: int) -> str:
    return _("not shown (fewer than {k} students)").format(k=k)


def fit_summary(band: str, gap_label: str | None = None) -> str:
    band = code_words(band)
    if gap_label:
        return _("{band}; biggest gap: {dimension}").format(band=band, dimension=gap_label)
    return band


def investment_summary(band: str, share_text: str | None = None) -> str:
    band = code_words(band)
    if share_text:
        return _("{band} (partner share {share})").format(band=band, share=figure(share_text))
    return band


def more_attention(n: int) -> str:
    return ngettext("and {n} more item (see Check-ins and Goals)", "and {n} more items (see Check-ins and Goals)",
                    n).format(n=n)


def checkin_missing(term: str) -> str:
    return _("No check-in was held in {term}.").format(term=term)


def goal_reason(status: str) -> str:
    return _("goal {status}").format(status=goal_words(status))


CHIP_REASONS = {"hidden": N_("not shown (small group)"), "alert": N_("beyond the district's alert level"),
                "worse_solid": N_("worse than similar students, unlikely to be chance"),
                "worse_chance": N_("worse than similar students, could be chance"),
                "worse_last_term": N_("worse than last term")}


def chip_reason(key: str) -> str:
    return _(CHIP_REASONS[key])


def attention_reasons(label: str, reasons: list[str]) -> str:
    return _("{label}: {reasons}.").format(label=label, reasons="; ".join(reasons))


def proposed_action_plain(label: str) -> str:
    return _("Review {label} of participating students with the partner and agree one step at the next "
             "check-in.").format(label=label)


def ytd_note() -> str:
    """Why the on-track share falls in the second quarter (shown under the board and the district heat map)."""
    return _("On track is measured on the school year so far, so it usually dips in the second quarter, when "
             "first-semester grades arrive, and recovers later: compare it with the same term last year.")


# -- the partner's story (narrative.py) --------------------------------------------------------------------
def story_hidden(label: str, k: int) -> str:
    return _("Results for {outcome} are not reported because a group had fewer than {k} students or a result "
             "could reveal one.").format(outcome=label, k=k)


def coded_level(level_text: str) -> str:
    """A coded level inside a sentence: "≥95%" -> "at least 95%"."""
    words = {"\u2264": N_("at most {value}"), "\u2265": N_("at least {value}"), "<": N_("below {value}"),
             ">": N_("above {value}")}
    head = level_text[:1]
    if head in words:
        return _(words[head]).format(value=figure(level_text[1:]))
    return figure(level_text)


def story_level(label: str, level_text: str) -> str:
    return _("{outcome} among participating students was {level}").format(outcome=label, level=level_text)


def story_same() -> str:
    return _(", about the same as for similar students who did not take part")


def story_difference(change_text: str, higher: bool, effect: bool) -> str:
    """The comparison clause: "followed by" only with baseline equivalence, else "associated with"."""
    if effect:
        msg = (_("; taking part was followed by a level {change} higher than for a comparable group (the groups "
                 "were similar before the program)") if higher else
               _("; taking part was followed by a level {change} lower than for a comparable group (the groups "
                 "were similar before the program)"))
    else:
        msg = (_("; taking part was associated with a level {change} higher than for students who did not take "
                 "part (this does not show that the program caused the difference)") if higher else
               _("; taking part was associated with a level {change} lower than for students who did not take "
                 "part (this does not show that the program caused the difference)"))
    return msg.format(change=change_text)


STORY_TESTS = {"untested": N_(". The groups are too small for a statistical test"),
               "significant": N_(". The difference is statistically significant after adjusting for the number of "
                                 "outcomes tested"),
               "chance": N_(". The difference could be due to chance")}


def story_test(key: str) -> str:
    return _(STORY_TESTS[key])


def fit_prompt(dimension: str, district_statement: str, partner_statement: str, gap: float) -> str:
    """A fit survey's discussion prompt in the report's language (:func:`partner_analysis.fit.gaps._prompt`
    words the English one the same way, tested): the dimension, the top pair's statement(s) as the
    instrument words them, which side rates it higher and by how much. Differently worded (mirrored)
    statements are quoted both, each with its side."""
    partner_higher = gap > 0
    points = ngettext("{n} point", "{n} points", round(abs(gap), 1)).format(n=figure(f"{abs(gap):.1f}"))
    topic = dimension[:1].lower() + dimension[1:]
    same = (" ".join(district_statement.split()).casefold() == " ".join(partner_statement.split()).casefold()
            or not (district_statement and partner_statement))
    if same:
        statement = (district_statement or partner_statement).rstrip(".")
        msg = (_("On {topic}, the partner rates '{statement}' {points} higher than the district: what does each "
                 "side see?") if partner_higher else
               _("On {topic}, the district rates '{statement}' {points} higher than the partner: what does each "
                 "side see?"))
        return msg.format(topic=topic, statement=statement, points=points)
    msg = (_("On {topic}, the district rated '{district}' and the partner rated the mirrored statement "
             "'{partner}'; the partner's rating is {points} higher: what does each side see?") if partner_higher
           else _("On {topic}, the district rated '{district}' and the partner rated the mirrored statement "
                  "'{partner}'; the district's rating is {points} higher: what does each side see?"))
    return msg.format(topic=topic, district=district_statement.rstrip("."), partner=partner_statement.rstrip("."),
                      points=points)


#: The evidence labels of the comparisons (``estimate.EVIDENCE_LABELS``), in words a report can translate.
EVIDENCE_WORDS = {"descriptive only": N_("descriptive only"),
                  "comparison adjusted for prior achievement and background":
                      N_("comparison adjusted for prior achievement and background"),
                  "baseline-equivalent comparison": N_("baseline-equivalent comparison"),
                  "groups not comparable": N_("groups not comparable")}


def story_evidence(label: str) -> str:
    """". Evidence: groups not comparable" in the report's language (an unknown label as it is)."""
    words = _(EVIDENCE_WORDS[label]) if label in EVIDENCE_WORDS else label
    return _(". Evidence: {label}").format(label=words)


def story_mde(mde_text: str) -> str:
    return _("; with this many students only differences above {mde} standard deviations could be "
             "detected").format(mde=figure(mde_text))


def story_few_schools() -> str:
    return _("; with fewer than 10 schools the test is optimistic")


def story_participation(shown: str, partner: str, term: str, k: int) -> str:
    if shown == "none":
        return _("No students took part in {partner}'s programs in {term}.").format(partner=partner, term=term)
    if shown.startswith("<"):
        return _("Fewer than {k} students took part in {partner}'s programs in {term}, so outcomes are not "
                 "reported.").format(k=k, partner=partner, term=term)
    return _("About {n} students took part in {partner}'s programs in {term}.").format(
        n=figure(shown), partner=partner, term=term)


def story_no_outcomes() -> str:
    return _("Student outcome comparisons are not yet recorded for this term.")


def story_fit(band: str, gap_label: str | None) -> str:
    if gap_label:
        return _("The latest partnership fit survey places the partnership in the \u201c{band}\u201d band; the "
                 "district and the partner see \u201c{dimension}\u201d most differently.").format(
            band=code_words(band), dimension=gap_label)
    return _("The latest partnership fit survey places the partnership in the \u201c{band}\u201d band.").format(
        band=code_words(band))


def _goal_count(key: str, n: int) -> str | None:
    """"2 on track" for a goal status code (None for an unknown code)."""
    msgs = {
        "met": lambda: ngettext("{n} met", "{n} met", n),
        "on_track": lambda: ngettext("{n} on track", "{n} on track", n),
        "at_risk": lambda: ngettext("{n} at risk", "{n} at risk", n),
        "off_track": lambda: ngettext("{n} off track", "{n} off track", n),
        "no_data": lambda: ngettext("{n} without data yet", "{n} without data yet", n),
        "not shown (small group)": lambda: ngettext("{n} not shown because a group is too small",
                                                    "{n} not shown because a group is too small", n),
    }
    return msgs[key]().format(n=n) if key in msgs else None


def story_goals(counts: list[tuple[str, int]]) -> str:
    """"Of the partnership's 3 goals: 1 met, 2 on track." from (status code, count) pairs."""
    n = sum(c for _k, c in counts)
    parts = []
    for key, c in counts:
        parts.append(_goal_count(key, c) or f"{c} {code_words(key)}")
    return ngettext("Of the partnership's {n} goal: {parts}.", "Of the partnership's {n} goals: {parts}.",
                    n).format(n=n, parts=", ".join(parts))


def story_checkin(status: str) -> str:
    return _("Check-in status this term: {status}.").format(status=code_words(status))


# -- the district board (index.py) -------------------------------------------------------------------------
def vs_similar_summary(better: int, worse: int, same: int) -> str:
    """"better on 2, worse on 1 of 3 shown": the headline differences vs similar students that are shown."""
    shown = better + worse + same
    if not shown:
        return label("not_shown")
    parts = [_("better on {n}").format(n=better) if better else "",
             _("worse on {n}").format(n=worse) if worse else "",
             _("about the same on {n}").format(n=same) if same else ""]
    return _("{parts} of {n} shown").format(parts=", ".join(p for p in parts if p), n=shown)


def portfolio_levels(label_text: str, before: str, now: str) -> str:
    return _("{label}: {before} \u2192 {now}").format(label=label_text, before=figure(before), now=figure(now))


def cost_per_sd(money_text: str, label_text: str) -> str:
    return _("{money} per 0.1 SD on {label}").format(money=figure(money_text), label=label_text)


def no_adjusted_effect() -> str:
    return _("no adjusted effect to compare")


def report_failed(stage: str) -> str:
    return _("report failed at {stage}").format(stage=stage)


def since_last_term(change_text: str) -> str:
    return _("since last term: {change}").format(change=change_text)


def attention_count(n: int) -> str:
    return ngettext("{n} item", "{n} items", n).format(n=n)


def index_caption(term: str) -> str:
    return _("Partnerships in {term}: headline results with their status").format(term=term)


def index_brief_link(term: str) -> str:
    return _("Read the community brief for {term}").format(term=term)


def index_brief_tail() -> str:
    return _("(one page to share).")


def index_heading(term: str) -> str:
    return _("Partnership reports, {term}").format(term=term)


def index_title(term: str, district: str) -> str:
    if district:
        return _("Partnership reports {term}, {district}").format(term=term, district=district)
    return _("Partnership reports {term}").format(term=term)


def index_intro(n_ok: int, n: int) -> str:
    return ngettext("{k} of {n} partner report is ready. Changes are since the previous term; figures for groups "
                    "of fewer than the district's minimum are not shown (*).",
                    "{k} of {n} partner reports are ready. Changes are since the previous term; figures for groups "
                    "of fewer than the district's minimum are not shown (*).", n).format(k=n_ok, n=n)


def index_notes() -> list[str]:
    return [
        _("Status: \u2714 good, \u25cf watch, \u25b2 concern, \u2013 not shown; a concern is an unfavourable result "
          "unlikely to be chance, a level beyond the district's alert level or a goal off track."),
        _("Investment: how the value of contributions is shared between the district and the partner, with who "
          "pays the larger share."),
        _("Cost per participant: the term's combined investment divided by the rounded number of participating "
          "students."),
        _("Overdue check-ins and actions are listed under Needs attention."),
        ytd_note(),
    ]


# -- the community brief (brief.py) and the story (story.py) ------------------------------------------------
#: Small counts read aloud as words (partnerships, partners); larger ones as numerals.
NUMBER_WORDS = (N_("no"), N_("one"), N_("two"), N_("three"), N_("four"), N_("five"), N_("six"), N_("seven"),
                N_("eight"), N_("nine"), N_("ten"))


def number_word(count: int) -> str:
    """"two" for 2 (0-10 in words, in the report's language), "1,234" beyond."""
    if 0 <= count < len(NUMBER_WORDS):
        return _(NUMBER_WORDS[count])
    return privacy.localize(f"{count:,}", language())


def join(items) -> str:
    """"a, b and c" in the report's language."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


ORDINAL_QUARTERS = {"1": N_("the first quarter of the {year} school year"),
                    "2": N_("the second quarter of the {year} school year"),
                    "3": N_("the third quarter of the {year} school year"),
                    "4": N_("the fourth quarter of the {year} school year")}


def quarter_words(quarter: str, year: str) -> str:
    return _(ORDINAL_QUARTERS[quarter]).format(year=year)


def period_words(quarterly: bool) -> str:
    return _("this quarter") if quarterly else _("this term")


def sector_phrase(code: str, count: int) -> str:
    """"a healthcare provider", "two employers" (count in words)."""
    n = number_word(count)
    msgs = {
        "healthcare": lambda: ngettext("a healthcare provider", "{n} healthcare providers", count),
        "employer": lambda: ngettext("an employer", "{n} employers", count),
        "higher_education": lambda: ngettext("a college or university", "{n} colleges and universities", count),
        "community": lambda: ngettext("a community organization", "{n} community organizations", count),
        "government": lambda: ngettext("a government agency", "{n} government agencies", count),
        "other": lambda: ngettext("an other partner", "{n} other partners", count),
        "unrecorded": lambda: ngettext("a partner without a recorded sector", "{n} partners without a recorded "
                                       "sector", count),
    }
    if code in msgs:
        return msgs[code]().format(n=n)
    return f"{n} {code.replace('_', ' ')}"


SECTOR_CELLS = {"healthcare": N_("Healthcare"), "employer": N_("Employer"), "higher_education": N_("Higher education"),
                "community": N_("Community organization"), "government": N_("Government"), "other": N_("Other")}


def sector_cell(code: str | None) -> str:
    if code in SECTOR_CELLS:
        return _(SECTOR_CELLS[code])
    return (code or _("not recorded")).replace("_", " ")


def brief_partners(when: str, who: str | None, n: int, parts: str) -> str:
    who = who or _("The district")
    return ngettext("In {when}, {who} worked with {n} community partner: {parts}.",
                    "In {when}, {who} worked with {n} community partners: {parts}.", n).format(
        when=when, who=who, n=number_word(n), parts=parts)


def brief_no_reports(when: str) -> str:
    return _("No partnership reports were built for {when}.").format(when=when)


def brief_small_tail(small: int, k: int) -> str:
    return ngettext("; {n} partnership worked with fewer than {k} students, so its count and results are not shown",
                    "; {n} partnerships worked with fewer than {k} students, so their count and results are not "
                    "shown", small).format(n=number_word(small), k=k)


def brief_all_small(k: int) -> str:
    return _("Each partnership worked with fewer than {k} students, so no counts or results are shown.").format(k=k)


def brief_no_participation() -> str:
    return _("Student participation is not yet recorded for this term.")


def brief_students(total_text: str, tail: str) -> str:
    return _("About {n} students took part in partner programs (a student in two partnerships is counted "
             "twice){tail}.").format(n=figure(total_text), tail=tail)


def fewer_than(k) -> str:
    return _("fewer than {k}").format(k=k)


def brief_thing(label_text: str, higher: bool, binary: bool) -> str:
    if binary:
        return (_("a higher share of students \u201c{label}\u201d") if higher
                else _("a lower share of students \u201c{label}\u201d")).format(label=label_text)
    return (_("a higher {label}") if higher else _("a lower {label}")).format(label=label_text)


def brief_every(n: int, first: bool) -> str:
    if n == 1:
        return _("the one partnership with results to report") if first else _("that one")
    if n == 2:
        return _("both partnerships with results to report") if first else _("both")
    return (_("all {n} partnerships with results to report") if first else _("all {n}")).format(n=number_word(n))


def brief_k_of(k: int, n: int, first: bool) -> str:
    if first:
        return ngettext("{k} of {n} partnership with results to report",
                        "{k} of {n} partnerships with results to report", n).format(
            k=number_word(k), n=number_word(n))
    return _("{k} of {n}").format(k=number_word(k), n=number_word(n))


def brief_same(label_text: str, every: str) -> str:
    return _("{label} was about the same for participants as for non-participants at {every}").format(
        label=label_text, every=every)


def brief_clause(thing: str, comparable: bool, count: str, extra: list[str]) -> str:
    text = (_("{thing} than in a comparable group at {count}") if comparable else _("{thing} at {count}")).format(
        thing=thing, count=count)
    return text + (f" ({', '.join(extra)})" if extra else "")


def brief_extra(kind: str, k: int) -> str:
    msgs = {"higher": N_("higher at {k}"), "lower": N_("lower at {k}"), "same": N_("about the same at {k}")}
    return _(msgs[kind]).format(k=number_word(k))


def brief_group(kind: str, clauses: str) -> str:
    if kind == "association":
        return _("taking part was associated with {clauses}").format(clauses=clauses)
    if kind == "effect":
        return _("taking part was followed by {clauses}").format(clauses=clauses)
    return clauses


def brief_outcomes(groups: list[str]) -> str:
    return _("Compared with similar students who did not take part, {groups}.").format(groups="; ".join(groups))


def brief_no_outcome_groups() -> str:
    return _("No partnership had a group large enough to report student outcomes this term.")


def brief_band(band: str, count: int, first: bool, n: int) -> str:
    """"one of the four partnerships was balanced", "two were one-sided"."""
    msgs = {
        "balanced": lambda: ngettext("{k} was balanced", "{k} were balanced", count),
        "leaning": lambda: ngettext("{k} leaned toward one side", "{k} leaned toward one side", count),
        "one-sided": lambda: ngettext("{k} was one-sided", "{k} were one-sided", count),
    }
    if band in msgs:
        text = msgs[band]()
    else:
        text = ngettext("{k} was {band}", "{k} were {band}", count)
    if first:
        text = _first_band(text, n)
    return text.format(k=number_word(count), n=number_word(n), band=code_words(band))


def _first_band(text: str, n: int) -> str:
    # "{k} was balanced" -> "{k} of the {n} partnerships was balanced": the first band says what it counts
    return text.replace("{k}", ngettext("{k} of the {n} partnership", "{k} of the {n} partnerships", n), 1)


def brief_investment(bands: str, period: str, district_money: str, partner_money: str) -> str:
    return _("Looking at what each side contributed, {bands}; {period} the district contributed about {district} "
             "and partners about {partner} in money, staff time and goods.").format(
        bands=bands, period=period, district=figure(district_money), partner=figure(partner_money))


def brief_checkins(held: int, n: int, period: str, others: list[tuple[str, int]]) -> str:
    if held == 0:
        text = ngettext("No check-in meeting was held with the {n} partner {period}",
                        "No check-in meetings were held with the {n} partners {period}", n)
    elif held == n:
        text = ngettext("Check-in meetings were held with the only partner {period}",
                        "Check-in meetings were held with all {n} partners {period}", n)
    else:
        text = ngettext("Check-in meetings were held with {k} of {n} partner {period}",
                        "Check-in meetings were held with {k} of {n} partners {period}", n)
    text = text.format(k=number_word(held), n=number_word(n), period=period)
    if others:
        text += " (" + "; ".join(f"{code_words(s)}: {number_word(c)}" for s, c in others) + ")"
    return text + "."


def brief_fit(parts: list[tuple[str, int]]) -> str:
    """"The latest partnership fit surveys place one partnership in the “strength” band and one in ..."."""
    items = []
    for i, (band, c) in enumerate(parts):
        if i == 0:
            items.append(ngettext("{k} partnership in the \u201c{band}\u201d band",
                                  "{k} partnerships in the \u201c{band}\u201d band", c).format(
                k=number_word(c), band=code_words(band)))
        else:
            items.append(_("{k} in the \u201c{band}\u201d band").format(k=number_word(c), band=code_words(band)))
    return _("The latest partnership fit surveys place {parts}.").format(parts=join(items))


def brief_outcome_header(label_text: str) -> str:
    return _("{outcome}: participants compared with similar students").format(outcome=label_text)


def brief_table_caption(term: str) -> str:
    return _("Partnerships in {term}: one row per partner").format(term=term)


def brief_notes(k: int, outcome_label: str | None, primary: str, complementary: str) -> list[str]:
    return [
        _("Students taking part are rounded to the nearest 5. A partnership with fewer than {k} students shows "
          "\u201cfewer than {k}\u201d, and none of its outcome figures are shown, so that no student can be "
          "picked out.").format(k=k),
        _("A student who took part in two partnerships is counted in both."),
        _("\u201cAssociated with\u201d means the difference was seen alongside the program; it does not show that "
          "the program caused it. The brief says \u201cfollowed by\u201d only where participants and the "
          "comparison group were alike before the program."),
        _("The {outcome} column is the difference between participating students and similar students who did "
          "not take part; whether a difference could be due to chance is in each partner's report.").format(
            outcome=outcome_label or _("headline outcome")),
        _("Contributions are valued in dollars (money, staff time, facilities and goods) and rounded to the "
          "nearest $100. Balanced: both sides give about equally; leaning: one side gives noticeably more; "
          "one-sided: one side gives almost everything."),
        _("Fit band: how the district and the partner rate their partnership in the latest fit survey (strength, "
          "borderline or concern)."),
        _("{primary} Not shown: fewer than {k} students in a group, or the figure could reveal a student. "
          "{complementary} Hidden to protect another figure.").format(primary=primary, k=k,
                                                                      complementary=complementary),
    ]


def brief_title(who: str, term: str) -> str:
    return _("Community brief: {district}, {term}").format(district=who, term=term)


def spotlight_heading(name: str) -> str:
    return _("Partner spotlight: {partner}").format(partner=name) if name else label("spotlight")


def brief_footer(day) -> str:
    return _("Generated {date} by partner_analysis from de-identified aggregates only.").format(date=date_text(day))


#: Labels of the toolkit's own KPIs (partner_analysis/kpi/kpis.yml), translated where a report shows them; a
#: district's own KPI labels are shown as written.
KPI_LABELS = (N_("Attendance rate"), N_("Chronically absent (missed 10% or more of enrolled days)"),
              N_("Missed 15 or more days (CRDC-style variant)"), N_("GPA (credit-weighted)"), N_("Failed any course"),
              N_("Failed a core course"), N_("Credits earned"),
              N_("On track (credits and core failures, year to date)"), N_("College credits earned"),
              N_("Earned any college credit"), N_("Engagement score"), N_("Work-based learning hours"),
              N_("Any work-based learning"), N_("GPA"), N_("Chronically absent"), N_("On track"))


def kpi_label(text) -> str:
    """A KPI label in the report's language (the catalog's own KPIs; other labels unchanged)."""
    t = "" if text is None else str(text)
    return _(_KPI_BY_TEXT[t]) if t in _KPI_BY_TEXT else t


_KPI_BY_TEXT = {label: label for label in KPI_LABELS}


# -- the meeting deck (deck.py) and the brief's headline figures (story.py) ---------------------------------
DECK = {"reach_axis": N_("Students taking part (rounded to 5)"), "partnerships_axis": N_("Partnerships"),
        "reach": N_("Reach"), "outcomes": N_("Outcomes"), "investment": N_("Investment"), "next": N_("Next steps"),
        "no_outcomes": N_("No outcomes to report."),
        "caveat": N_("Differences are associated with taking part; they do not show that the programs caused them."),
        "no_investments": N_("Investments are not yet recorded."),
        "no_spotlight_notes": N_("No spotlight was chosen this term (district.yml: report.spotlight)."),
        "no_spotlight": N_("A partner story goes here: add it under report.spotlight in district.yml."),
        "reports": N_("Partnership reports"), "district": N_("District"),
        "reached": N_("students reached (rounded)"), "combined": N_("combined investment this term"),
        "skip_report": N_("Skip to the report")}


def deck(key: str) -> str:
    """A fixed text of the deck, the headline figures or the page furniture (:data:`DECK`)."""
    return _(DECK[key])


def deck_title(term: str) -> str:
    return _("Community partnerships, {term}").format(term=term)


def deck_figure(figure_text: str, label_text: str) -> str:
    return _("{figure} {label}").format(figure=figure_text, label=label_text)


def deck_status(label_text: str, counts: dict) -> str:
    return _("{label}: {good} good, {watch} watch, {concern} concern, {none} not shown").format(
        label=label_text, **counts)


def deck_status_alt(parts: list[str]) -> str:
    return _("Stacked bar chart of partnership status by headline result. {parts}.").format(parts="; ".join(parts))


def deck_attention(n: int) -> str:
    return ngettext("{n} item needs attention across the partnerships.",
                    "{n} items need attention across the partnerships.", n).format(n=n)


def partner_item(partner: str, item: str) -> str:
    return _("{partner}: {item}").format(partner=partner, item=item)


def on_track_label(n: int) -> str:
    return ngettext("partnership on track", "partnerships on track", n)


def reach_alt(parts: list[tuple[str, str]]) -> str:
    text = "; ".join(_("{partner}: {students}").format(partner=p, students=s) for p, s in parts)
    return _("Bar chart of students taking part by partnership. {parts}.").format(parts=text)
