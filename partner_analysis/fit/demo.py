"""Synthetic fit-survey answers for the demo district.

Every partner gets a district side and a partner side with 1-3 respondents each. Partners follow
profiles so the reports have something to show: "aligned" (both sides high, small gaps), "gapped"
(the partner side far more positive than the district on several dimensions, or the reverse),
"developing" (both middling) and "mixed". About half of the partners also have a
``pre_partnership`` wave answered before the ``annual`` one, with weaker, less aligned answers.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .instrument import Instrument, read_instrument
from . import responses

__all__ = ["write_demo_fit", "PROFILES"]

PROFILES = ("aligned", "gapped", "developing", "mixed")

_WHY = ("We have not agreed this in writing yet.", "Staff turnover on the other side slowed things down.",
        "Meetings keep being cancelled.", "We only hear about problems at the end of term.",
        "It depends on which school you ask.", "Funding for next year is still uncertain.")
_COMMENTS = ("Good first year; we would like a clearer plan for next year.", "",
             "Thanks to the school coordinators for their time.", "")


def _side_levels(profile: str, dims: tuple[str, ...], rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """True mean per side × dimension on the 1-5 scale."""
    base = {"aligned": 4.3, "gapped": 3.6, "developing": 3.2, "mixed": 3.7}[profile]
    district = {d: base + rng.normal(0, 0.25) for d in dims}
    partner = {d: district[d] + rng.normal(0, 0.2) for d in dims}
    if profile == "gapped":
        # large, systematic disagreement on a few dimensions, in both directions
        picks = rng.choice(len(dims), size=3, replace=False)
        for k, i in enumerate(picks):
            d = dims[i]
            if k < 2:
                district[d], partner[d] = 2.3 + rng.normal(0, 0.1), 4.5 + rng.normal(0, 0.1)
            else:
                district[d], partner[d] = 4.4, 3.0
    if profile == "mixed":
        d = dims[int(rng.integers(len(dims)))]
        partner[d] = district[d] - 0.8
    return {"district": district, "partner": partner}


def _answers(instrument: Instrument, role: str, levels: dict[str, float], offset: float, name: str, org: str,
             rng: np.random.Generator) -> dict[str, Any]:
    answers: dict[str, Any] = {"respondent_name": name, "respondent_role": "Partnership coordinator",
                               "organisation": org}
    for it in instrument.items_for(role):
        if not it.scored:
            continue
        lo, hi = it.score_range
        if rng.random() < 0.04:
            answers[it.name] = next(c.name for c in it.choices if c.score is None)
            continue
        x = float(np.clip(np.rint(levels[it.dimension] + offset + rng.normal(0, 0.45)), lo, hi))
        if it.reverse:
            x = hi + lo - x
        answers[it.name] = next(c.name for c in it.choices if c.score == x)
    for it in instrument.items_for(role):
        if it.type == "text" and it.name.endswith("_why") and instrument.is_relevant(it.name, answers):
            if rng.random() < 0.7:
                answers[it.name] = str(rng.choice(_WHY))
    level = int(np.clip(np.rint(np.mean(list(levels.values())) - 1 + rng.normal(0, 0.5)), 1, 5))
    answers["collab_level"] = str(level)
    answers["collab_level_goal"] = str(min(5, level + 1))
    kinds = ["staff", "money"] if role == "partner" else ["staff", "space", "equipment"]
    answers["resources_given"] = kinds
    answers["staff_hours_month"] = int(rng.integers(4, 60))
    comment = str(rng.choice(_COMMENTS))
    if comment:
        answers["comments"] = comment
    return {k: v for k, v in answers.items() if instrument.is_relevant(k, answers)}


def write_demo_fit(store: Any, dataset: Any, *, seed: int, instrument: Instrument | None = None) -> int:
    """Write submitted demo responses for every partner in ``dataset.tables["partners"]``.

    Parameters
    ----------
    store : partner_analysis.store.Store
    dataset : partner_analysis.data.dataset.Dataset
    seed : int
    instrument : Instrument, optional
        Default: the shipped instrument.

    Returns
    -------
    int
        Number of responses submitted. The second partner (by id) always has the "gapped" profile,
        the first "aligned".
    """
    instrument = instrument or read_instrument(pyxform_check=False)
    rng = np.random.default_rng([int(seed), 7301])
    responses.register_instrument(store, instrument, instrument.path)
    partners = dataset.tables["partners"].sort_values("partner_id")
    n = 0
    for i, row in enumerate(partners.itertuples(index=False)):
        pid = str(row.partner_id)
        pname = str(getattr(row, "name", pid))
        store.upsert_partnership(pid, pname)
        profile = PROFILES[i % len(PROFILES)]
        annual = _side_levels(profile, instrument.dimensions, rng)
        waves = [("annual", annual)]
        if i % 2 == 1:
            pre = {side: {d: v - 0.4 + rng.normal(0, 0.2) for d, v in lv.items()} for side, lv in annual.items()}
            pre["partner"] = {d: v + 0.3 for d, v in pre["partner"].items()}
            waves.insert(0, ("pre_partnership", pre))
        for wave, levels in waves:
            for role in ("district", "partner"):
                org = "School district" if role == "district" else pname
                for k in range(int(rng.integers(1, 4))):
                    respondent = f"{pid}-{role[0]}{k + 1}"
                    answers = _answers(instrument, role, levels[role], rng.normal(0, 0.15),
                                       f"{role.title()} respondent {k + 1}", org, rng)
                    rid = responses.open_response(store, instrument.form_id, instrument.version, pid, role, respondent,
                                              wave=wave)
                    responses.submit(store, rid, answers, validator=lambda a, r=role: instrument.validate_answers(a, role=r))
                    n += 1
    return n
