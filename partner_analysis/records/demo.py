"""Demo partnership records for the synthetic district: ledgers, check-ins and goals.

Called by :func:`partner_analysis.data.synth.make_demo_district` through
:func:`write_demo_records`. The records are seeded and realistic enough to
exercise every flag of the records area:

- most partners are balanced or leaning; the fifth partner (``P05`` in the
  default demo) is clearly one-sided (the district carries almost everything);
- every partner holds one check-in per quarter, except the third (``P03``),
  which misses the first quarter of the current school year;
- each partner has a KPI goal and a free-form goal; the second partner's
  free-form goal is reviewed at risk in two consecutive quarters; a few action
  items are left open past their due date.

Records cover the prior school years and the first half of the current one,
the terms a demo report (default ``2025-26-Q2``) looks at. All names are
fictional staff; nothing refers to a student.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ..config import DistrictConfig
from ._common import RecordsContext, term_order
from .checkins import check_checkin, write_checkin
from .goals import check_goal, write_goal
from .investments import check_investment

__all__ = ["write_demo_records", "demo_terms", "ONE_SIDED_INDEX", "MISSING_CHECKIN_INDEX"]

#: position (0-based) in the partner list of the one-sided partner, of the partner with a missed
#: check-in, and of the partner with a goal at risk two terms running
ONE_SIDED_INDEX = 4
MISSING_CHECKIN_INDEX = 2
AT_RISK_INDEX = 1

_DISTRICT_STAFF = [("Maria Alvarez", "coordinator"), ("James Okafor", "teacher"), ("Priya Natarajan", "counselor"),
                   ("Daniel Brooks", "administrator"), ("Lena Fischer", "teacher")]
_PARTNER_ROLE = {"healthcare": "nurse", "employer": "engineer", "higher_education": "teacher",
                 "community": "mentor", "government": "staff", "other": "staff"}
_PARTNER_NAMES = ["Chris Morgan", "Avery Chen", "Sam Patel", "Jordan Reyes", "Taylor Kim", "Robin Walsh",
                  "Casey Nguyen", "Morgan Diaz", "Jamie Ross", "Riley Shah"]
_KPI_FOR_SECTOR = {"healthcare": "wbl_hours", "employer": "wbl_hours", "higher_education": "credits_earned",
                   "community": "chronic_absence", "government": "attendance_rate", "other": "attendance_rate"}
_FREE_GOALS = ["Hold a joint planning session before each semester",
               "Recruit two new mentors from the partner's staff each year",
               "Share program rosters and outcomes with the partner every quarter",
               "Co-design one new student project with partner staff"]
_NOTES = {"met": "Target reached; keep it up", "on_track": "Progress as planned",
          "at_risk": "Behind plan; both sides to follow up", "off_track": "Missed; goal to be reset"}
_ACTIONS = ["Send participant roster to partner", "Schedule site visit for counselors",
            "Draft student showcase agenda", "Update data-sharing agreement", "Confirm mentor background checks",
            "Share quarterly attendance summary", "Plan spring recruitment event"]


def demo_terms(config: DistrictConfig) -> list[str]:
    """Prior school years in full and the first half of the current one."""
    order = term_order(config)
    current = [t for t in order if config.term(t).school_year == config.school_year]
    keep_current = current[: (len(current) + 1) // 2]
    return [t for t in order if config.term(t).school_year < config.school_year or t in keep_current]


def _ts(day: dt.date, rng) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(15, 0)) + dt.timedelta(days=int(rng.integers(0, 4)),
                                                                   minutes=int(rng.integers(0, 240)))


def write_demo_records(store, dataset, *, seed: int) -> dict[str, int]:
    """Fill the records store with demo ledgers, goals and check-ins for every partner of ``dataset``.

    Everything is checked with the same rules as user input and written in one
    transaction. Returns the number of rows written per kind.
    """
    config = dataset.config
    rng = np.random.default_rng([seed, 4217])
    partners = dataset["partners"].sort_values("partner_id")
    for r in partners.itertuples():
        store.upsert_partnership(str(r.partner_id), str(r.name))
    ctx = RecordsContext.build(config, partners["partner_id"])
    terms = demo_terms(config)
    starts = {}
    for p in partners.itertuples():
        start = pd.Timestamp(p.start_date).date() if "start_date" in partners and not pd.isna(p.start_date) else None
        starts[str(p.partner_id)] = next((t for t in terms if start is None or config.term(t).end >= start), None)
    baselines = _kpi_baselines(dataset, [t for t in starts.values() if t is not None])
    inv_rows, goal_rows, checkin_rows = [], [], []
    ids = [str(p) for p in partners["partner_id"]]
    for idx, p in enumerate(partners.itertuples()):
        pid, sector = str(p.partner_id), str(getattr(p, "sector", "other") or "other")
        start = pd.Timestamp(p.start_date).date() if "start_date" in partners and not pd.isna(p.start_date) else None
        active = [t for t in terms if start is None or config.term(t).end >= start]
        if not active:
            continue
        one_sided = idx == ONE_SIDED_INDEX or (len(ids) <= ONE_SIDED_INDEX and idx == len(ids) - 1 and len(ids) > 2)
        inv_rows += _ledger(pid, sector, active, config, rng, one_sided=one_sided)
        goals = _goals(pid, sector, active, term_order(config), config, baselines, rng)
        goal_rows += goals
        missing = active[-2] if idx == MISSING_CHECKIN_INDEX and len(active) >= 2 else None
        checkin_rows += _checkins(pid, sector, active, config, goals, rng, missing=missing,
                                  at_risk=idx == AT_RISK_INDEX)
    cleaned = []
    for kind, rows, check in (("investment", inv_rows, lambda r: check_investment(r, ctx)),
                              ("goal", goal_rows, lambda r: check_goal(r, ctx)),
                              ("check-in", checkin_rows, lambda r: check_checkin(r, ctx))):
        for r in rows:
            clean, problems = check(r)
            if problems:  # a bug in this module, not user input
                raise RuntimeError(f"demo {kind} is invalid: {problems}")
            cleaned.append((kind, clean))
    from .tables import investments
    with store.transaction() as conn:
        for kind, clean in cleaned:
            if kind == "goal":
                write_goal(conn, clean)
        inv = [c for k, c in cleaned if k == "investment"]
        if inv:
            conn.execute(investments.insert(), inv)
        for kind, clean in cleaned:
            if kind == "check-in":
                write_checkin(conn, clean)
    return {"investments": len(inv_rows), "goals": len(goal_rows), "checkins": len(checkin_rows)}


def _ledger(pid, sector, terms, config, rng, *, one_sided: bool) -> list[dict]:
    rows = []
    prole = _PARTNER_ROLE.get(sector, "staff")
    # partner generosity: share of combined value it aims for; the one-sided partner gives little
    for t in terms:
        start = config.term(t).start

        def entry(party, category, amount, unit, role=None, desc="", who=None):
            rows.append({"partner_id": pid, "term": t, "party": party, "category": category,
                         "amount": round(float(amount), 2), "unit": unit, "role": role, "description": desc,
                         "entered_by": who or ("Maria Alvarez" if party == "district" else "Chris Morgan"),
                         "entered_at": _ts(start + dt.timedelta(days=50), rng)})
        entry("district", "staff_fte", rng.choice([0.1, 0.15, 0.2, 0.25]), "fte", "coordinator",
              "Program coordinator time")
        entry("district", "staff_hours", rng.integers(20, 60), "hours", "teacher", "Teacher supervision and planning")
        entry("district", "facilities", rng.integers(8, 20) * 100, "USD", None, "Classroom and lab use")
        if rng.random() < 0.5:
            entry("district", "training", rng.integers(4, 12), "hours", "counselor", "Counselor orientation")
        if one_sided:
            entry("partner", "in_kind_goods", rng.integers(2, 6) * 50, "USD", None, "Branded supplies")
            continue
        scale = rng.uniform(0.45, 1.3)
        entry("partner", "staff_hours", rng.integers(60, 160) * scale, "hours", prole, "Mentors and supervisors")
        if sector in ("employer", "healthcare", "other"):
            entry("partner", "funding", rng.integers(10, 40) * 250 * scale, "USD", None, "Stipends and transport")
        if sector in ("employer", "healthcare", "higher_education"):
            entry("partner", "equipment_software", rng.integers(2, 10) * 200, "USD", None, "Equipment and licences")
        if sector in ("community", "government"):
            entry("partner", "facilities", rng.integers(5, 15) * 150, "USD", None, "Site and meeting space")
        if rng.random() < 0.4:
            entry("partner", "training", rng.integers(1, 3), "days", prole, "Staff training for student hosts")
    return rows


def _kpi_baselines(dataset, terms: list[str]) -> dict[tuple[str, str, str], float]:
    """Participants' KPI means per (partner, term, kpi) from the KPI engine.

    Only groups of at least ``privacy.min_group_n`` students give a baseline: a goal's baseline
    appears in partner reports, so it must not be a small-group figure.
    """
    from ..kpi.compare import compare_partners
    k = int(dataset.config.privacy.get("min_group_n", 10))
    out = {}
    for t in sorted(set(terms)):
        c = compare_partners(dataset, term=t, suppress=False, kpis=sorted(set(_KPI_FOR_SECTOR.values())))
        c = c[(c["program_id"].astype(str) == "all") & (c["subgroup"].astype(str) == "all") & (c["n_t"] >= k)]
        out.update({(str(r.partner_id), t, str(r.kpi_id)): float(r.mean_t) for r in c.itertuples()
                    if pd.notna(r.mean_t)})
    return out


#: kpi -> (fallback baseline, target from baseline, description)
_GOAL_RULES = {
    "wbl_hours": (12.0, lambda b: round(b * 1.3, 1), "Raise work-based learning hours per participant by 30%"),
    "credits_earned": (1.3, lambda b: round(b + 0.2, 2), "Participants earn 0.2 credits more per term"),
    "chronic_absence": (0.18, lambda b: round(b * 0.75, 3), "Cut chronic absence among participants by a quarter"),
    "attendance_rate": (0.92, lambda b: round(min(b + 0.02, 0.99), 3), "Raise participants' attendance rate "
                                                                        "by 2 points"),
}


def _goals(pid, sector, terms, all_terms, config, baselines, rng) -> list[dict]:
    kpi = _KPI_FOR_SECTOR.get(sector, "attendance_rate")
    fallback, to_target, desc = _GOAL_RULES[kpi]
    base = baselines.get((pid, terms[0], kpi))
    base = fallback if base is None or base <= 0 else round(base, 3)
    target = to_target(base)
    common = {"partner_id": pid, "entered_by": "Maria Alvarez", "start_term": terms[0],
              "entered_at": dt.datetime.combine(config.term(terms[0]).start, dt.time(9, 0))}
    due, free_due = all_terms[-1], terms[-1]
    return [
        dict(common, goal_id=f"{pid}-G1", description=desc, kpi_id=kpi, population="participants", baseline=base,
             target=target, due_term=due),
        dict(common, goal_id=f"{pid}-G2", description=_FREE_GOALS[int(rng.integers(len(_FREE_GOALS)))],
             due_term=free_due),
    ]


def _checkins(pid, sector, terms, config, goals, rng, *, missing, at_risk: bool) -> list[dict]:
    rows = []
    last = terms[-1]
    pnames = list(rng.choice(_PARTNER_NAMES, size=2, replace=False))
    for i, t in enumerate(terms):
        if t == missing:
            continue
        term = config.term(t)
        span = (term.end - term.start).days
        day = term.start + dt.timedelta(days=int(rng.integers(min(20, span // 3), max(span - 5, span // 3 + 1))))
        staff = [_DISTRICT_STAFF[0], _DISTRICT_STAFF[1 + int(rng.integers(len(_DISTRICT_STAFF) - 1))]]
        attendees = [{"name": n, "side": "district", "role": r} for n, r in staff]
        attendees += [{"name": n, "side": "partner", "role": _PARTNER_ROLE.get(sector, "staff")} for n in pnames]
        reviews = []
        for g in goals:
            # isolated at-risk reviews only (even terms), so the two-in-a-row flag fires where intended
            status = str(rng.choice(["on_track", "on_track", "on_track", "met", "at_risk"] if i % 2 == 0
                                    else ["on_track", "on_track", "met"]))
            if at_risk and g["goal_id"].endswith("G2") and i >= len(terms) - 3 and t != last:
                status = "at_risk"
            if g["due_term"] == t and status == "at_risk":
                status = "off_track"
            reviews.append({"goal_id": g["goal_id"], "status": status,
                            "note": _NOTES[status]})
        actions = []
        for k in range(int(rng.integers(1, 3))):
            due = day + dt.timedelta(days=int(rng.integers(14, 45)))
            # older actions are mostly done; the latest ones stay open, some of them past due
            done = t != last and (rng.random() < 0.85 or i < len(terms) - 3)
            actions.append({"description": _ACTIONS[int(rng.integers(len(_ACTIONS)))] + ("" if k == 0 else " (2)"),
                            "owner": staff[k % 2][0] if k % 2 == 0 else pnames[0],
                            "side": "district" if k % 2 == 0 else "partner", "due_date": due, "done": done,
                            "done_date": due - dt.timedelta(days=2) if done else None})
        rows.append({"partner_id": pid, "term": t, "date": day, "entered_by": "Maria Alvarez",
                     "entered_at": _ts(day, rng), "attendees": attendees, "goal_reviews": reviews,
                     "action_items": actions,
                     "data_shared": "Participation counts and attendance summary (aggregates)",
                     "challenges": str(rng.choice(["Transport to the site", "Scheduling around exams",
                                                   "Mentor turnover", "None raised"])),
                     "adjustments": str(rng.choice(["Moved sessions to Thursdays", "Added a virtual option",
                                                    "No change"]))})
    return rows
