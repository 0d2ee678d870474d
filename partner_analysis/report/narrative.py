"""A short plain-language story generated from the bundle's numbers.

Rules (statistics.md, privacy.md):

- a difference is called an *effect* only when baseline equivalence holds
  (``baseline_verdict == "satisfied"`` and the KPI engine's ``wording`` is
  ``"effect"``); otherwise the text says *associated with*;
- a suppressed statistic is never named, not even through a comparison word:
  the story says the group was too small to report;
- differences without a test (``sample_status == "descriptive_only"``) are not
  called significant.
"""
from __future__ import annotations

import pandas as pd

from .. import privacy
from ._html import esc, missing, section
from . import text as T
from .bundle import GOAL_NOT_SHOWN, Bundle, dimension_label, headline_kpis

__all__ = ["story", "render_story"]


def is_effect(r: pd.Series) -> bool:
    """Whether a KPI row may be worded as an effect (balanced baseline and ``wording == "effect"``)."""
    return str(r.get("baseline_verdict", "")) == "satisfied" and str(r.get("wording", "association")) == "effect"


def in_sentence(label: str) -> str:
    """A label as it reads inside a sentence: "Attendance rate" -> "attendance rate", "GPA" stays "GPA".

    Only the first word is lower-cased, and only when it is an ordinary
    capitalised word (no other capitals, no digits): acronyms and names keep
    their case.
    """
    label = str(label)
    first, sep, rest = label.partition(" ")
    core = first.strip("()\"'\u201c\u201d")
    if len(core) > 1 and core[0].isupper() and core[1:].islower() and core.isalpha():
        return first[:1].lower() + first[1:] + sep + rest
    return label


def _kpi_sentence(r: pd.Series, k: int, profile: privacy.PrivacyProfile) -> str:
    label = str(r.get("kpi_label", r["kpi_id"]))
    lower = in_sentence(label)
    if bool(r.get("suppressed")) or missing(r.get("mean_t")):
        return (f"Results for {lower} are not reported because a group had fewer than {k} students "
                "or a result could reveal one.")
    level = privacy.format_level(r["mean_t"], r.get("n_t"), unit=r.get("unit"), kind=r.get("kind"), profile=profile)
    if not privacy.shown_plainly(level):
        level = {"≤": "at most ", "≥": "at least ", "<": "below ", ">": "above "}.get(level[:1], "") + level.lstrip("≤≥<>")
        if level.endswith(profile.primary_marker):
            return (f"Results for {lower} are not reported because a group had fewer than {k} students "
                    "or a result could reveal one.")
    text = f"{label} among participating students was {level}"
    change = privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                   unit=r.get("unit"), kind=r.get("kind"), profile=profile,
                                   change=r.get("difference"))
    if not missing(r.get("difference")) and change != privacy.NOT_SHOWN:
        diff = float(r["difference"])
        if change == "no change":
            text += ", about the same as for similar students who did not take part"
        else:
            direction = "higher" if diff > 0 else "lower"
            verb = "was" if is_effect(r) else "was associated with a"
            if is_effect(r):
                text += (f"; taking part {verb} followed by a level {T.percentage_points(change.lstrip('+-'))} {direction} than for a "
                         "comparable group (the groups were similar before the program)")
            else:
                text += (f"; taking part {verb} {T.percentage_points(change.lstrip('+-'))} {direction} level than for students who did "
                         "not take part (this does not show that the program caused the difference)")
        status = str(r.get("sample_status", ""))
        p_adj = r.get("p_adj")
        if status == "descriptive_only" or missing(p_adj):
            text += ". The groups are too small for a statistical test"
        elif float(p_adj) < 0.05:
            text += ". The difference is statistically significant after adjusting for the number of outcomes tested"
        else:
            text += ". The difference could be due to chance"
        # issue #11: the evidence label and the minimum detectable effect beside every effect
        if not missing(r.get("evidence_label")) and status == "tested":
            text += f". Evidence: {r['evidence_label']}"
        if not missing(r.get("mde")) and status == "tested":
            text += (f"; with this many students only differences above {float(r['mde']):.1f} standard deviations "
                     "could be detected")
        if status == "tested" and "optimistic" in str(r.get("design_warnings") or ""):
            text += "; with fewer than 10 schools the test is optimistic"
    return text + "."


def story(bundle: Bundle) -> list[str]:
    """A few sentences generated from the bundle's numbers (plain text, no suppressed value named)."""
    k = bundle.min_group_n
    out = []
    part = bundle.table("participation")
    if part is not None and len(part):
        allrow = part[part["program_id"].astype(str) == "all"]
        if len(allrow):
            shown = allrow.iloc[0]["participants_display"]
            if str(shown) == "none":
                out.append(f"No students took part in {bundle.partner_name}'s programs in {bundle.term}.")
            elif str(shown).startswith("<"):
                out.append(f"Fewer than {k} students took part in {bundle.partner_name}'s programs in "
                           f"{bundle.term}, so outcomes are not reported.")
            else:
                out.append(f"About {shown} students took part in {bundle.partner_name}'s programs in "
                           f"{bundle.term}.")
    kpi = bundle.table("kpi_comparison")
    if bundle.has("kpi") and kpi is not None and len(kpi):
        for _, r in headline_kpis(kpi, 3).iterrows():
            out.append(_kpi_sentence(r, k, bundle.profile))
    else:
        out.append("Student outcome comparisons are not yet recorded for this term.")
    b = bundle.meta.get("board", {})
    if bundle.has("fit") and b.get("fit_band"):
        s = f"The latest partnership fit survey places the partnership in the \u201c{b['fit_band']}\u201d band"
        if b.get("biggest_gap_dimension"):
            label = b.get("biggest_gap_label") or dimension_label(bundle.table("fit_dimensions"),
                                                                  b["biggest_gap_dimension"])
            s += f"; the district and the partner see \u201c{in_sentence(label)}\u201d most differently"
        out.append(s + ".")
    goals = bundle.table("goals")
    if bundle.has("goals") and goals is not None and len(goals) and "status" in goals.columns:
        out.append(_goals_sentence(goals, bundle.table("kpi_comparison")))
    if bundle.has("checkins") and b.get("checkin_status"):
        out.append(f"Check-in status this term: {str(b['checkin_status']).replace('_', ' ')}.")
    return out


def _goals_sentence(goals: pd.DataFrame, kpi: pd.DataFrame | None) -> str:
    """How many goals are met, on track, behind; goals on hidden KPIs are only counted as not shown."""
    status = goals["status"].astype("string").copy()
    if kpi is not None and len(kpi) and "kpi_id" in goals.columns:
        sup = kpi["suppressed"].fillna(False).astype(bool) if "suppressed" in kpi.columns else False
        hidden = set(kpi.loc[sup | kpi["mean_t"].isna(), "kpi_id"].astype(str))
        status[goals["kpi_id"].astype("string").isin(hidden).fillna(False).to_numpy()] = GOAL_NOT_SHOWN
    names = {"met": "met", "on_track": "on track", "at_risk": "at risk", "off_track": "off track",
             "no_data": "without data yet", GOAL_NOT_SHOWN: "not shown because a group is too small"}
    counts = status.fillna("no_data").value_counts()
    parts = [f"{int(counts[key])} {text}" for key, text in names.items() if key in counts.index]
    parts += [f"{int(n)} {str(key).replace('_', ' ')}" for key, n in counts.items() if key not in names]
    n = len(goals)
    return f"Of the partnership's {n} goal{'s' if n != 1 else ''}: " + ", ".join(parts) + "."


def render_story(bundle: Bundle) -> str:
    """HTML section holding :func:`story` as paragraphs."""
    body = "".join(f"<p>{esc(s)}</p>" for s in story(bundle))
    return section("What the numbers say", body, id="story")
