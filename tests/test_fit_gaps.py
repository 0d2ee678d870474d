"""Fit gaps compare only what both sides rated (issue #11): same words, or a declared mirrored pair quoted both."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from partner_analysis.fit import gap_report, pair_gaps, read_instrument

SHIPPED = Path(__file__).resolve().parents[1] / "surveys" / "partner_fit_v1.xlsx"

# Every pair of the shipped instrument whose two wordings differ, reviewed by hand: each side is asked the same
# claim about the same organisation, written from its own side ("the partner" for the district is "we"/"our" for
# the partner), except sv2, a reciprocal pair (each side rates its trust in the other) kept on purpose. A prompt
# about any of them quotes both wordings.
MIRRORED = {
    "so2": "partner can name the district's results (district: 'the partner can', partner: 'we can')",
    "so3": "students' needs vs the partner's hiring needs ('the partner's' / 'our')",
    "sv2": "reciprocal: trust in the other side",
    "ca2": "partner staff welcome in the district's schools ('partner staff' / 'our staff')",
    "ca3": "partner staff understand the communities ('partner staff' / 'our staff')",
    "re1": "partner commits staff time ('the partner commits' / 'we commit')",
    "re3": "district provides space and tools ('we provide' / 'the district provides')",
    "mb2": "the partner's benefit ('the partner gets' / 'our organisation gets')",
}


@pytest.fixture(scope="module")
def inst():
    return read_instrument(SHIPPED)


def _pairs(inst):
    out: dict[str, dict[str, object]] = {}
    for it in inst.items:
        if it.pair:
            out.setdefault(it.pair, {})[it.role] = it
    return out


def test_every_pair_of_the_shipped_instrument_compares_the_same_claim(inst):
    pairs = _pairs(inst)
    assert len(pairs) == 33
    differing = set()
    for pair, sides in pairs.items():
        assert set(sides) == {"district", "partner"}, pair  # one item per side
        d, p = sides["district"].label, sides["partner"].label
        assert sides["district"].dimension == sides["partner"].dimension, pair
        assert sides["district"].reverse == sides["partner"].reverse, pair
        if " ".join(d.split()).casefold() != " ".join(p.split()).casefold():
            differing.add(pair)
    assert differing == set(MIRRORED)  # a new mirrored pair must be reviewed and listed above
    # mutual benefit: one claim per pair about one side's benefit (the pairs used to cross the two claims)
    assert pairs["mb1"]["district"].label == pairs["mb1"]["partner"].label == \
        "The district gets enough out of this partnership to justify its effort."
    assert pairs["mb2"]["district"].label.startswith("The partner gets enough")
    assert pairs["mb2"]["partner"].label.startswith("Our organisation gets enough")


def _answers(inst, overrides):
    rows = []
    for rid, role in ((1, "district"), (2, "district"), (3, "partner"), (4, "partner")):
        for it in inst.scored_items():
            if it.role != role:
                continue
            rows.append(dict(response_id=rid, form_id=inst.form_id, version=str(inst.version), partner_id="P01",
                             role=role, respondent=f"r{rid}", wave="annual", item=it.name,
                             value=overrides.get(it.name, "3")))
    return pd.DataFrame(rows)


def test_a_mirrored_pair_prompt_quotes_both_wordings(inst):
    # the district thinks the partner gets little (d_mb2 = 1); the partner says it gets a lot (p_mb1 = 5)
    ans = _answers(inst, {"d_mb2": "1", "p_mb1": "5"})
    gaps = pair_gaps(ans, inst).set_index("pair")
    assert gaps.loc["mb2", "gap"] == pytest.approx(4.0)
    assert gaps.loc["mb1", "gap"] == pytest.approx(0.0) and bool(gaps.loc["mb1", "same_words"])
    assert not bool(gaps.loc["mb2", "same_words"])
    rep = gap_report(ans, inst).set_index("dimension")
    prompt = rep.loc["mutual_benefit", "prompt"]
    assert "'The partner gets enough out of this partnership to justify its effort'" in prompt
    assert "'Our organisation gets enough out of this partnership to justify its effort'" in prompt
    # never: "the partner rates 'The partner gets enough...'" - words the partner was not shown
    assert "the partner rates 'The partner" not in prompt


def test_a_same_words_pair_prompt_names_the_statement_once(inst):
    ans = _answers(inst, {"d_mb1": "1", "p_mb2": "5"})
    prompt = gap_report(ans, inst).set_index("dimension").loc["mutual_benefit", "prompt"]
    assert prompt.startswith("On mutual benefit, the partner rates 'The district gets enough out of this "
                             "partnership to justify its effort' 4.0 points higher than the district")
