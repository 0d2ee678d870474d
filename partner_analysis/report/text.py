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
    """The singular or plural form of a message for ``n`` in the report's language."""
    return _catalog().ngettext(singular, plural, n)


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
    return privacy.localize(t, language())


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
    return _("about {n} students").format(n=t)


def days_overdue(days: float) -> str:
    n = int(round(float(days)))
    return ngettext("{n} day overdue", "{n} days overdue", n).format(n=f"{n:,}")


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
    """A tile's change since last term (already displayed), with singular/plural points."""
    return percentage_points(display_text)


def tile_vs_similar(display_text: str, better: bool | None) -> str:
    """A tile's difference vs similar students: "+4 percentage points (better)"."""
    text = percentage_points(display_text)
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
