"""What the board judges: status chips, the "needs attention" list, cost per outcome, proposed actions.

Every rule reads only what the reader is shown: a direction or a level is used
only when :mod:`partner_analysis.privacy.display` prints it plainly, so a chip,
an attention item or a proposed action never gives back a hidden figure.

Status chip of a headline KPI (first rule that applies):

1. ``none``: the level is not shown (small group, coded or hidden);
2. ``concern``: the goal is off track; or the participants' level is beyond the
   district's alert level (``report.alert_levels``); or the difference vs
   similar students is unfavourable, shown, tested and unlikely to be chance
   (adjusted p < 0.05) with comparable groups (evidence label not "groups not
   comparable");
3. ``watch``: the goal is at risk; or the difference is unfavourable but could
   be chance, untested, or from groups that are not comparable; or the level
   fell (unfavourably) since last term by a shown change (not for a
   year-to-date KPI, whose second-quarter dip is its definition: see
   ``text.ytd_note``);
4. ``good``: otherwise (level shown, no unfavourable sign).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import privacy
from ..config import DEFAULT_ALERT_LEVELS, DEFAULT_HEADLINE_KPIS
from . import text as T
from ._html import goal_status_words, missing
from .bundle import GOAL_NOT_SHOWN, Bundle
from .narrative import in_sentence

__all__ = ["Chip", "kpi_chip", "board_kpis", "attention_items", "cost_per_outcome", "proposed_actions",
           "report_settings", "displayed_number", "NOT_COMPARABLE", "goal_status"]

NOT_COMPARABLE = "groups not comparable"
_GOAL_CONCERN = ("off track", "behind")
_GOAL_WATCH = ("at risk",)


@dataclass(frozen=True)
class Chip:
    """A status chip: ``status`` (good / watch / concern / none) and the reasons in words."""

    status: str
    reasons: tuple[str, ...] = ()

    @property
    def word(self) -> str:
        return T._(T.STATUS_WORDS[self.status])

    @property
    def icon(self) -> str:
        return T.STATUS_ICONS[self.status]


def report_settings(bundle: Bundle) -> dict[str, Any]:
    """``headline_kpis``, ``alert_levels`` and ``spotlight`` of the bundle (defaults for older bundles)."""
    raw = dict(bundle.meta.get("report") or {})
    return {"headline_kpis": tuple(raw.get("headline_kpis") or DEFAULT_HEADLINE_KPIS),
            "alert_levels": dict(raw.get("alert_levels") or DEFAULT_ALERT_LEVELS),
            "spotlight": dict(raw.get("spotlight") or {})}


def board_kpis(bundle: Bundle) -> pd.DataFrame:
    """The configured headline KPIs present in the bundle, in the configured order."""
    kpi = bundle.table("kpi_comparison")
    if not bundle.has("kpi") or kpi is None or not len(kpi):
        return pd.DataFrame()
    ids = list(report_settings(bundle)["headline_kpis"])
    rank = {k: i for i, k in enumerate(ids)}
    keep = kpi[kpi["kpi_id"].astype(str).isin(rank)]
    return keep.iloc[sorted(range(len(keep)), key=lambda i: rank[str(keep["kpi_id"].iloc[i])])]


_NUMBER = re.compile(r"[-+\u2212]?\d[\d,]*(?:\.\d+)?")


def displayed_number(text: str) -> float | None:
    """The number a reader sees in a plainly shown figure ("45%" -> 0.45, "2.9 credits" -> 2.9, "$1,200")."""
    t = str(text)
    if not privacy.shown_plainly(t) and not t.lstrip("$\u20ac\u00a3").replace(",", "").replace(".", "").isdigit():
        return None
    m = _NUMBER.search(t)
    if not m:
        return None
    v = float(m.group(0).replace(",", "").replace("\u2212", "-"))
    return v / 100 if t.rstrip().endswith("%") else v


def _level(r: pd.Series, profile) -> str:
    return privacy.format_level(r.get("mean_t"), r.get("n_t"), unit=r.get("unit"), kind=r.get("kind"),
                                profile=profile)


def _vs_text(r: pd.Series, profile) -> str:
    return privacy.format_change(r.get("mean_t"), r.get("mean_c"), n_now=r.get("n_t"), n_before=r.get("n_c"),
                                 unit=r.get("unit"), kind=r.get("kind"), profile=profile,
                                 change=r.get("difference"))


def _since_text(r: pd.Series, profile) -> str:
    return privacy.format_change(r.get("mean_t"), r.get("prev_term_mean_t"), n_now=r.get("n_t"),
                                 n_before=r.get("prev_term_n_t"), unit=r.get("unit"), kind=r.get("kind"),
                                 profile=profile, change=r.get("change_prev_term"))


def _signed(text: str) -> float | None:
    """The sign of a shown change ("+4 percentage points" -> 4.0); None when not shown, 0 for "no change"."""
    if text == "no change":
        return 0.0
    m = _NUMBER.match(str(text))
    return float(m.group(0).replace("\u2212", "-")) if m else None


def _higher_is_better(r: pd.Series) -> bool:
    v = r.get("higher_is_better")
    return True if missing(v) else bool(v)


def kpi_chip(r: pd.Series, goal: str, profile, alert_levels: dict[str, float] | None = None) -> Chip:
    """The status chip of one KPI row (see the module docstring for the rules)."""
    level = _level(r, profile)
    if bool(not missing(r.get("suppressed")) and r.get("suppressed")) and missing(r.get("mean_t")) \
            or not privacy.shown_plainly(level):
        return Chip("none", (T.chip_reason("hidden"),))
    hib = _higher_is_better(r)
    concern, watch = [], []
    if goal in _GOAL_CONCERN:
        concern.append(T.goal_reason(goal))
    elif goal in _GOAL_WATCH:
        watch.append(T.goal_reason(goal))
    alert = (alert_levels or {}).get(str(r.get("kpi_id")))
    shown = displayed_number(level)
    if alert is not None and shown is not None and ((shown < alert) if hib else (shown > alert)):
        concern.append(T.chip_reason("alert"))
    diff = _signed(_vs_text(r, profile))
    if diff is not None and diff != 0 and (diff > 0) != hib:
        p_adj = r.get("p_adj")
        tested = str(r.get("sample_status", "tested")) == "tested" and not missing(p_adj)
        comparable = str(r.get("evidence_label") or "") != NOT_COMPARABLE
        if tested and float(p_adj) < 0.05 and comparable:
            concern.append(T.chip_reason("worse_solid"))
        else:
            watch.append(T.chip_reason("worse_chance"))
    # A year-to-date KPI (on track) is not compared with last term: its value accumulates over the school year
    # (failures arrive with semester grades), so a second-quarter dip is the definition, not a change; the board
    # says so (text.ytd_note) and the sparkline shows the same term last year.
    since = None if str(r.get("scope")) == "year_to_date" else _signed(_since_text(r, profile))
    if since is not None and since != 0 and (since > 0) != hib:
        watch.append(T.chip_reason("worse_last_term"))
    if concern:
        return Chip("concern", tuple(concern + watch))
    if watch:
        return Chip("watch", tuple(watch))
    return Chip("good")


def _goal_words(bundle: Bundle, kpi_id: str) -> str:
    return goal_status(bundle, kpi_id)


def goal_status(bundle: Bundle, kpi_id: str) -> str:
    """The goal status of one KPI in words ("met", "on track", "behind", "no goal set", "not yet recorded").

    A goal whose KPI is hidden for this partner reads "not shown (small group)":
    its status would place the hidden value relative to the target.
    """
    if not bundle.has("goals"):
        return "not yet recorded"
    goals = bundle.table("goals")
    if goals is None or "kpi_id" not in goals.columns:
        return "no goal set"
    mine = goals[goals["kpi_id"].astype(str) == str(kpi_id)]
    if not len(mine):
        return "no goal set"
    g = mine.iloc[0]
    kpi = bundle.table("kpi_comparison")
    row = None if kpi is None or "kpi_id" not in kpi.columns else kpi[kpi["kpi_id"].astype(str) == str(kpi_id)]
    hidden_kpi = False
    if row is not None and len(row):
        r = row.iloc[0]
        hidden_kpi = bool((not missing(r.get("suppressed")) and bool(r.get("suppressed")))) or missing(r.get("mean_t"))
    status = g.get("status")
    if str(status) == GOAL_NOT_SHOWN or hidden_kpi:
        # Defence in depth: bundles built before masking carried a status derived from the hidden value.
        return GOAL_NOT_SHOWN
    if not missing(status):
        return goal_status_words(status, g.get("source"))
    att = g.get("attainment")
    if missing(att):
        return "not measurable yet"
    att = float(att)
    return "met" if att >= 1 else ("on track" if att >= 0.5 else "behind")




def attention_items(bundle: Bundle) -> list[dict[str, str]]:
    """What needs attention: off-track goals, overdue check-ins and actions, significant unfavourable results.

    Each item: ``kind`` (goal / checkin / action / result), ``severity``
    (concern / watch) and ``text``; concerns first, then the order found.
    """
    items: list[dict[str, str]] = []
    goals = bundle.table("goals")
    if bundle.has("goals") and goals is not None and len(goals) and "status" in goals.columns:
        for _, g in goals.iterrows():
            status = str(g.get("status"))
            if status == GOAL_NOT_SHOWN or status not in ("off_track", "at_risk"):
                continue
            words = goal_status_words(status, g.get("source"))
            items.append({"kind": "goal", "severity": "concern" if status == "off_track" else "watch",
                          "text": T.attention_goal(str(g.get("description") or g.get("kpi_id") or ""),
                                                   T.goal_words(words))})
    chk = bundle.table("checkin_status")
    if bundle.has("checkins") and chk is not None and len(chk) and "status" in chk.columns:
        for _, c in chk.iterrows():
            if str(c.get("status")) == "overdue":
                items.append({"kind": "checkin", "severity": "concern",
                              "text": T.checkin_missing(str(c.get("term")))})
    actions = bundle.table("open_actions")
    if bundle.has("checkins") and actions is not None and len(actions) and "past_due" in actions.columns:
        for _, a in actions.iterrows():
            if missing(a.get("past_due")) or not bool(a.get("past_due")):
                continue
            days = a.get("days_past_due")
            items.append({"kind": "action", "severity": "concern",
                          "text": T.attention_action(str(a.get("description") or ""),
                                                     None if missing(days) else float(days))})
    settings = report_settings(bundle)
    for _, r in board_kpis(bundle).iterrows():
        chip = kpi_chip(r, _goal_words(bundle, str(r["kpi_id"])), bundle.profile, settings["alert_levels"])
        label = T.kpi_label(r.get("kpi_label", r["kpi_id"]))
        if chip.status == "concern":
            items.append({"kind": "result", "severity": "concern",
                          "text": T.attention_reasons(label, list(chip.reasons))})
    order = {"concern": 0, "watch": 1}
    return sorted(items, key=lambda i: order.get(i["severity"], 2))


def _participants_text(bundle: Bundle) -> str | None:
    part = bundle.table("participation")
    if part is None or not len(part):
        return None
    allrow = part[part["program_id"].astype(str) == "all"]
    return None if not len(allrow) else str(allrow.iloc[0]["participants_display"])


def cost_per_outcome(bundle: Bundle) -> dict[str, str]:
    """Combined investment this term per participant, per credit earned and per WBL hour, as displayed money.

    Derived only from figures the report prints plainly: the term's total
    contribution (money, not student data), the rounded participant count and
    the participants' displayed average credits / WBL hours. An exact count
    never enters, so the quotient gives nothing back. Missing pieces leave the
    entry out.
    """
    out: dict[str, str] = {}
    bal = bundle.table("investment_balance")
    if not bundle.has("investments") or bal is None or not len(bal) or "total_value" not in bal.columns:
        return out
    mine = bal[bal["term"].astype(str) == str(bundle.term)] if "term" in bal.columns else bal
    if not len(mine) or missing(mine.iloc[-1].get("total_value")):
        return out
    total = float(mine.iloc[-1]["total_value"])
    cur = str(bundle.meta.get("currency") or "USD")
    shown_n = _participants_text(bundle)
    n = displayed_number(shown_n) if shown_n and privacy.shown_plainly(shown_n) else None
    if not n:
        return out
    out["participant"] = privacy.format_money(total / n, cur)
    kpi = bundle.table("kpi_comparison")
    if bundle.has("kpi") and kpi is not None and len(kpi):
        for kid, key in (("credits_earned", "credit"), ("wbl_hours", "wbl_hour")):
            row = kpi[kpi["kpi_id"].astype(str) == kid]
            if not len(row):
                continue
            per_student = displayed_number(_level(row.iloc[0], bundle.profile))
            if per_student:
                out[key] = privacy.format_money(total / (per_student * n), cur)
    return out


def proposed_actions(bundle: Bundle) -> list[dict[str, str]]:
    """Check-in actions the board's concerns propose: one per headline KPI beyond its alert level or worse
    than similar students (unlikely chance). ``key`` identifies the proposal across runs (deduplication)."""
    settings = report_settings(bundle)
    out = []
    for _, r in board_kpis(bundle).iterrows():
        chip = kpi_chip(r, _goal_words(bundle, str(r["kpi_id"])), bundle.profile, settings["alert_levels"])
        if chip.status != "concern":
            continue
        kid = str(r["kpi_id"])
        label = in_sentence(str(r.get("kpi_label", kid)))
        alert = settings["alert_levels"].get(kid)
        threshold = "" if alert is None else (
            privacy.format_share(alert) if str(r.get("kind")) == "binary" or str(r.get("unit")) in privacy.PERCENT_UNITS
            else f"{alert:g}")
        text = (T.proposed_action_text(label, _level(r, bundle.profile), threshold) if alert is not None
                else T.proposed_action_plain(label))
        out.append({"key": f"board:{bundle.partner_id}:{bundle.term}:{kid}", "kpi_id": kid,
                    "partner_id": bundle.partner_id, "term": bundle.term, "description": text,
                    "reasons": "; ".join(chip.reasons)})
    return out
