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
    label = T.kpi_label(r.get("kpi_label", r["kpi_id"]))
    lower = in_sentence(label)
    if bool(r.get("suppressed")) or missing(r.get("mean_t")):
        return T.story_hidden(lower, k)
    level = privacy.format_level(r["mean_t"], r.get("n_t"), unit=r.get("unit"), kind=r.get("kind"), profile=profile)
    if not privacy.shown_plainly(level):
        if level.endswith(profile.primary_marker):
            return T.story_hidden(lower, k)
    text = T.story_level(label, T.coded_level(level))
    change = privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                   unit=r.get("unit"), kind=r.get("kind"), profile=profile,
                                   change=r.get("difference"))
    if not missing(r.get("difference")) and change != privacy.NOT_SHOWN:
        diff = float(r["difference"])
        if change == "no change":
            text += T.story_same()
        else:
            text += T.story_difference(T.figure(change.lstrip("+-")), diff > 0, is_effect(r))
        status = str(r.get("sample_status", ""))
        p_adj = r.get("p_adj")
        if status == "descriptive_only" or missing(p_adj):
            text += T.story_test("untested")
        elif float(p_adj) < 0.05:
            text += T.story_test("significant")
        else:
            text += T.story_test("chance")
        # issue #11: the evidence label and the minimum detectable effect beside every effect
        if not missing(r.get("evidence_label")) and status == "tested":
            text += T.story_evidence(str(r["evidence_label"]))
        if not missing(r.get("mde")) and status == "tested":
            text += T.story_mde(f"{float(r['mde']):.1f}")
        if status == "tested" and "optimistic" in str(r.get("design_warnings") or ""):
            text += T.story_few_schools()
    return text + "."


def story(bundle: Bundle) -> list[str]:
    """A few sentences generated from the bundle's numbers (plain text, no suppressed value named)."""
    k = bundle.min_group_n
    out = []
    part = bundle.table("participation")
    if part is not None and len(part):
        allrow = part[part["program_id"].astype(str) == "all"]
        if len(allrow):
            out.append(T.story_participation(str(allrow.iloc[0]["participants_display"]), bundle.partner_name,
                                             bundle.term, k))
    kpi = bundle.table("kpi_comparison")
    if bundle.has("kpi") and kpi is not None and len(kpi):
        for _, r in headline_kpis(kpi, 3).iterrows():
            out.append(_kpi_sentence(r, k, bundle.profile))
    else:
        out.append(T.story_no_outcomes())
    b = bundle.meta.get("board", {})
    if bundle.has("fit") and b.get("fit_band"):
        gap = None
        if b.get("biggest_gap_dimension"):
            gap = in_sentence(b.get("biggest_gap_label") or dimension_label(bundle.table("fit_dimensions"),
                                                                            b["biggest_gap_dimension"]))
        out.append(T.story_fit(str(b["fit_band"]), gap))
    goals = bundle.table("goals")
    if bundle.has("goals") and goals is not None and len(goals) and "status" in goals.columns:
        out.append(_goals_sentence(goals, bundle.table("kpi_comparison")))
    if bundle.has("checkins") and b.get("checkin_status"):
        out.append(T.story_checkin(str(b["checkin_status"])))
    return out


def _goals_sentence(goals: pd.DataFrame, kpi: pd.DataFrame | None) -> str:
    """How many goals are met, on track, behind; goals on hidden KPIs are only counted as not shown."""
    status = goals["status"].astype("string").copy()
    if kpi is not None and len(kpi) and "kpi_id" in goals.columns:
        sup = kpi["suppressed"].fillna(False).astype(bool) if "suppressed" in kpi.columns else False
        hidden = set(kpi.loc[sup | kpi["mean_t"].isna(), "kpi_id"].astype(str))
        status[goals["kpi_id"].astype("string").isin(hidden).fillna(False).to_numpy()] = GOAL_NOT_SHOWN
    order = ("met", "on_track", "at_risk", "off_track", "no_data", GOAL_NOT_SHOWN)
    counts = status.fillna("no_data").value_counts()
    pairs = [(key, int(counts[key])) for key in order if key in counts.index]
    pairs += [(str(key), int(n)) for key, n in counts.items() if key not in order]
    return T.story_goals(pairs)


def render_story(bundle: Bundle) -> str:
    """HTML section holding :func:`story` as paragraphs."""
    body = "".join(f"<p>{esc(s)}</p>" for s in story(bundle))
    return section(T.label("story"), body, id="story")
