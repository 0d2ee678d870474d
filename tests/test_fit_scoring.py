"""Scoring, bands, gaps, prompts, agreement and reliability, checked against hand-computed values."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partner_analysis.exceptions import PartnerAnalysisWarning, ScoringError
from partner_analysis.fit import (comments, discussion_prompts, fit_index, gap_report, item_scores,
                                  pair_gaps, read_instrument, reliability, score_responses, side_scores,
                                  wave_change)
from xlsform_helpers import write_xlsform

COLS = ["type", "name", "label", "relevant", "fit::dimension", "fit::reverse", "fit::weight", "fit::role"]
SURVEY = [
    COLS,
    ["begin group", "ga", "Alpha things", None, None, None, None, None],
    ["select_one agree", "a1", "Statement a1", None, "a", None, None, None],
    ["select_one agree", "a2", "Statement a2", None, "a", None, None, None],
    ["select_one agree", "a3", "Statement a3 is negative", None, "a", "yes", None, None],
    ["select_one agree", "a4", "Statement a4 counts double", None, "a", None, 2, None],
    ["end group", None, None, None, None, None, None, None],
    ["begin group", "gb", "Beta things", None, None, None, None, None],
    ["select_one agree", "b1", "Statement b1.", None, "b", None, None, None],
    ["select_one agree", "b2", "Statement b2", None, "b", None, None, None],
    ["select_one agree", "b3", "Statement b3", None, "b", None, None, None],
    ["text", "b_why", "Why?", "${b1} <= 2", None, None, None, None],
    ["end group", None, None, None, None, None, None, None],
]
CHOICES = [["list_name", "name", "label", "fit::score"]] + [["agree", str(i), f"L{i}", i] for i in range(1, 6)] + \
    [["agree", "dk", "Don't know", None]]
SETTINGS = [["form_id", "version", "fit::bands", "fit::gap_watch", "fit::gap_discuss", "fit::min_items_pct",
             "fit::min_n", "fit::confidential"],
            ["score_test", "7", "concern<3.0; borderline<4.0; strength", 0.5, 1.0, 0.75, 5, "no"]]


def _form(path, settings=SETTINGS, survey=SURVEY):
    return write_xlsform(path, survey=survey, choices=CHOICES, settings=settings)


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    return read_instrument(_form(tmp_path_factory.mktemp("f") / "score.xlsx"))


@pytest.fixture(scope="module")
def confidential_inst(tmp_path_factory):
    s = [SETTINGS[0], SETTINGS[1][:-1] + ["yes"]]
    return read_instrument(_form(tmp_path_factory.mktemp("c") / "conf.xlsx", settings=s))


def long(responses):
    """{(response_id, role, partner, wave): {item: value}} -> answers_long frame."""
    rows = []
    for (rid, role, pid, wave), answers in responses.items():
        for item, value in answers.items():
            rows.append(dict(response_id=rid, form_id="score_test", version="7", partner_id=pid, role=role,
                             respondent=f"r{rid}", wave=wave, item=item, value=value))
    return pd.DataFrame(rows)


def one(rid, answers, role="district", pid="P01", wave="annual"):
    return {(rid, role, pid, wave): answers}


def score_of(frame, rid, dim):
    row = frame[(frame["response_id"] == rid) & (frame["dimension"] == dim)].iloc[0]
    return row


# -- dimension scores ----------------------------------------------------------------------------

@pytest.mark.parametrize("answers, expected, used", [
    # (4 + 5 + (6-2) + 2*3) / (1+1+1+2) = 19/5
    pytest.param({"a1": "4", "a2": "5", "a3": "2", "a4": "3"}, 19 / 5, 4, id="reverse-and-weight"),
    # don't know on a1: 3 of 4 answered = 75 % -> valid; (5 + 4 + 2*3) / 4
    pytest.param({"a1": "dk", "a2": "5", "a3": "2", "a4": "3"}, 15 / 4, 3, id="dont-know-excluded"),
    # unanswered a3 counts like don't know: (1 + 1 + 2*1) / 4
    pytest.param({"a1": "1", "a2": "1", "a4": "1"}, 1.0, 3, id="missing-item"),
    # 2 of 4 answered = 50 % < 75 % -> missing
    pytest.param({"a1": "dk", "a2": "dk", "a3": "2", "a4": "3"}, math.nan, 2, id="below-75-percent"),
    pytest.param({}, math.nan, 0, id="nothing-answered"),
    # reverse: 1 -> 5 and 5 -> 1 ; (5 + 5 + 5 + 2*5)/5
    pytest.param({"a1": "5", "a2": "5", "a3": "1", "a4": "5"}, 5.0, 4, id="reverse-extreme"),
])
def test_dimension_score_hand_computed(inst, answers, expected, used):
    frame = score_responses(long(one(1, {**answers, "b1": "3"})), inst)
    row = score_of(frame, 1, "a")
    assert row["items_used"] == used and row["items_total"] == 4
    assert row["share_used"] == pytest.approx(used / 4)
    if math.isnan(expected):
        assert math.isnan(row["score"]) and row["band"] == ""
    else:
        assert row["score"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("values, band", [
    pytest.param(("3", "3", "3"), "borderline", id="3.0-is-borderline"),
    pytest.param(("4", "4", "4"), "strength", id="4.0-is-strength"),
    pytest.param(("3", "3", "2"), "concern", id="2.67-is-concern"),
    pytest.param(("4", "4", "3"), "borderline", id="3.67-is-borderline"),
    pytest.param(("5", "5", "5"), "strength", id="5-is-strength"),
])
def test_bands_half_open(inst, values, band):
    frame = score_responses(long(one(1, dict(zip(["b1", "b2", "b3"], values)))), inst)
    assert score_of(frame, 1, "b")["band"] == band
    assert inst.band(2.9999999) == "concern" and inst.band(3.0) == "borderline" and inst.band(4.0) == "strength"


def test_item_scores_columns_and_reverse(inst):
    items = item_scores(long(one(1, {"a3": "2", "b1": "dk"})), inst)
    a3 = items[items["item"] == "a3"].iloc[0]
    assert (a3["raw"], a3["score"]) == (2.0, 4.0)
    assert math.isnan(items[items["item"] == "b1"]["raw"].iloc[0])
    assert len(items) == 7  # every scored item shown to the role, answered or not


@pytest.mark.parametrize("frame, match", [
    pytest.param(long(one(1, {"a1": "6"})), "not one of its choices", id="unknown-choice"),
    pytest.param(long(one(1, {"a1": "4"})).assign(version="6"), "version", id="other-version"),
    pytest.param(long(one(1, {"a1": "4"})).assign(form_id="other"), "form", id="other-form"),
    pytest.param(long(one(1, {"a1": "4"})).assign(role="parent"), "role", id="bad-role"),
    pytest.param(long(one(1, {"a1": "4"})).drop(columns="item"), "missing column", id="no-item-column"),
])
def test_scoring_errors(inst, frame, match):
    with pytest.raises(ScoringError, match=match):
        score_responses(frame, inst)


def test_role_specific_items(tmp_path):
    inst = read_instrument(_role_form(tmp_path))
    frame = score_responses(long({**one(1, {"d1": "4", "c1": "2"}, role="district"),
                                  **one(2, {"p1": "2", "c1": "2"}, role="partner")}), inst)
    assert score_of(frame, 1, "a")["items_total"] == 2 and score_of(frame, 1, "a")["score"] == 3.0
    assert score_of(frame, 2, "a")["items_total"] == 2 and score_of(frame, 2, "a")["score"] == 2.0


def _role_form(tmp_path):
    survey = [COLS, ["select_one agree", "d1", "D", None, "a", None, None, "district"],
              ["select_one agree", "p1", "P", None, "a", None, None, "partner"],
              ["select_one agree", "c1", "C", None, "a", None, None, "both"]]
    return _form(tmp_path / "roles.xlsx", survey=survey)


# -- property tests ------------------------------------------------------------------------------

_answer = st.sampled_from(["1", "2", "3", "4", "5", "dk", None])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({k: _answer for k in ["a1", "a2", "a3", "a4", "b1", "b2", "b3"]}),
                min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_scores_within_scale_order_free_and_input_untouched(inst, responses, rnd):
    frame = long({(i + 1, "district" if i % 2 else "partner", "P01", "annual"):
                  {k: v for k, v in r.items() if v is not None} for i, r in enumerate(responses)})
    if frame.empty:
        return
    before = frame.copy(deep=True)
    scores = score_responses(frame, inst)
    pd.testing.assert_frame_equal(frame, before)
    valid = scores["score"].dropna()
    assert ((valid >= 1) & (valid <= 5)).all()
    shuffled = frame.sample(frac=1.0, random_state=rnd.randint(0, 10_000)).reset_index(drop=True)
    again = score_responses(shuffled, inst).sort_values(["response_id", "dimension"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(scores.sort_values(["response_id", "dimension"]).reset_index(drop=True), again)


@given(st.integers(1, 5))
def test_reverse_twice_is_identity(x):
    lo, hi = 1, 5
    assert hi + lo - (hi + lo - x) == x


# -- sides, gaps, prompts ----------------------------------------------------------------------

def _two_sides():
    return long({
        **one(1, {"a1": "4", "a2": "5", "a3": "2", "a4": "3", "b1": "2", "b2": "3", "b3": "4"}, role="district"),
        **one(2, {"a1": "dk", "a2": "5", "a3": "2", "a4": "3", "b1": "2", "b2": "3", "b3": "3"}, role="district"),
        **one(3, {"a1": "4", "a2": "5", "a3": "1", "a4": "4", "b1": "4", "b2": "4", "b3": "4"}, role="partner"),
    })


def test_side_scores_and_fit_index(inst):
    sides = side_scores(score_responses(_two_sides(), inst), inst)
    d_a = sides[(sides["role"] == "district") & (sides["dimension"] == "a")].iloc[0]
    assert d_a["mean"] == pytest.approx((19 / 5 + 15 / 4) / 2)
    assert d_a["sd"] == pytest.approx(np.std([19 / 5, 15 / 4], ddof=1))
    assert d_a["n_respondents"] == 2
    p_a = sides[(sides["role"] == "partner") & (sides["dimension"] == "a")].iloc[0]
    assert p_a["mean"] == pytest.approx((4 + 5 + 5 + 8) / 5) and math.isnan(p_a["sd"])
    fi = fit_index(sides, inst).iloc[0]
    d_b, p_b = (3 + 8 / 3) / 2, 4.0
    expected = (((19 / 5 + 15 / 4) / 2 + 22 / 5) / 2 + (d_b + p_b) / 2) / 2
    assert fi["fit_index"] == pytest.approx(expected) and fi["band"] == inst.band(expected)


def test_gap_report_hand_computed(inst):
    rep = gap_report(_two_sides(), inst)
    a = rep[rep["dimension"] == "a"].iloc[0]
    b = rep[rep["dimension"] == "b"].iloc[0]
    assert a["gap"] == pytest.approx(22 / 5 - (19 / 5 + 15 / 4) / 2)  # 0.625 -> watch
    assert a["gap_flag"] == "watch" and a["partner_band"] == "strength" and a["district_band"] == "borderline"
    assert b["gap"] == pytest.approx(4 - (3 + 8 / 3) / 2) and b["gap_flag"] == "discuss"  # 1.1667
    assert (a["n_district"], a["n_partner"]) == (2, 1)
    assert a["dimension_label"] == "Alpha things"
    # b1 disagrees most: district 2, 2 -> mean 2; partner 4 -> +2.0
    assert b["top_pair"] == "b1" and b["top_pair_gap"] == pytest.approx(2.0)
    assert b["prompt"] == ("On beta things, the partner rates 'Statement b1' 2.0 points higher than the district: "
                           "what does each side see?")
    # a3 (reverse-coded) is compared on the scale people ticked: district 2, 2 vs partner 1; it ties with
    # a4 (3, 3 vs 4) at |1.0| and comes first in form order
    assert a["top_pair"] == "a3" and a["top_pair_gap"] == pytest.approx(-1.0)
    assert "the district rates 'Statement a3 is negative' 1.0 point higher than the partner" in a["prompt"]
    top = pair_gaps(_two_sides(), inst, n_largest=2)
    assert list(top["pair"]) == ["b1", "a3"] and list(top["gap"]) == pytest.approx([2.0, -1.0])
    prompts = discussion_prompts(rep)
    assert list(prompts["dimension"]) == ["b", "a"]  # biggest gap first


@pytest.mark.parametrize("district, partner, flag", [
    pytest.param(("3", "3", "3"), ("4", "3", "3"), "ok", id="0.33-ok"),
    pytest.param(("3", "3", "3"), ("4", "4", "2"), "ok", id="0.33-ok-mixed"),
    pytest.param(("4", "4", "4"), ("4", "4", "5"), "ok", id="0.33-ok-b"),
    pytest.param(("3", "3", "3"), ("4", "4", "3"), "watch", id="0.67-watch"),
    pytest.param(("3", "3", "3"), ("4", "4", "4"), "discuss", id="1.0-discuss"),
    pytest.param(("4", "4", "4"), ("3", "3", "3"), "discuss", id="minus-1.0-discuss"),
])
def test_gap_flags_use_instrument_thresholds(inst, district, partner, flag):
    frame = long({**one(1, dict(zip(["b1", "b2", "b3"], district)), role="district"),
                  **one(2, dict(zip(["b1", "b2", "b3"], partner)), role="partner")})
    rep = gap_report(frame, inst)
    assert rep[rep["dimension"] == "b"]["gap_flag"].iloc[0] == flag


def test_gap_flag_boundary_half_point():
    from partner_analysis.fit.instrument import GapThresholds
    t = GapThresholds(0.5, 1.0)
    assert [t.flag(g) for g in (0.49, 0.5, -0.5, 0.99, 1.0, 4.5 - 4.0, math.nan)] == \
        ["ok", "watch", "watch", "watch", "discuss", "watch", ""]


def test_rwg_j_matches_published_vector(inst):
    # surveys.md §3: 4 raters x 3 items -> rwg(J) = 0.9545 (A = 5)
    ratings = [[4, 4, 5], [4, 3, 4], [5, 4, 4], [4, 4, 4]]
    frame = long({k: v for i, r in enumerate(ratings)
                  for k, v in one(i + 1, dict(zip(["b1", "b2", "b3"], map(str, r))), role="district").items()})
    rep = gap_report(frame, inst)
    assert rep[rep["dimension"] == "b"]["district_rwg"].iloc[0] == pytest.approx(0.9545, abs=1e-4)
    assert math.isnan(rep[rep["dimension"] == "b"]["partner_rwg"].iloc[0])


def test_confidential_hides_spread_and_comments(confidential_inst, inst):
    frame = long({k: v for i in range(3)
                  for k, v in one(i + 1, {"b1": "2", "b2": "3", "b3": str(3 + i % 2), "b_why": f"reason {i}"},
                                  role="district").items()})
    frame = frame.assign(form_id="score_test")
    assert gap_report(frame, inst)["district_rwg"].notna().any()
    with pytest.warns(PartnerAnalysisWarning, match="fewer than 5 respondents"):
        assert gap_report(frame, confidential_inst)["district_rwg"].isna().all()
    assert len(comments(frame, inst)) == 3
    with pytest.warns(PartnerAnalysisWarning, match="fewer than 5"):
        assert comments(frame, confidential_inst).empty


def test_reliability_matches_published_alpha(inst):
    # surveys.md §3: alpha = 0.9300 for these 5 respondents x 4 items; a3 is reverse-coded, so store 6 - x
    data = [[4, 5, 4, 4], [3, 3, 2, 3], [5, 5, 4, 5], [2, 3, 3, 2], [4, 4, 5, 4]]
    responses = {}
    for i, (x1, x2, x3, x4) in enumerate(data):
        role = "district" if i % 2 else "partner"  # pooled across sides
        responses.update(one(i + 1, {"a1": str(x1), "a2": str(x2), "a3": str(6 - x3), "a4": str(x4)}, role=role,
                             pid=f"P0{i % 3}"))
    rel = reliability(long(responses), inst)
    a = rel[rel["dimension"] == "a"].iloc[0]
    assert a["alpha"] == pytest.approx(0.9300, abs=1e-4) and a["n"] == 5 and a["n_items"] == 4 and a["shown"]
    hidden = reliability(long(responses), inst, min_n=6)
    assert math.isnan(hidden[hidden["dimension"] == "a"]["alpha"].iloc[0])
    assert "fewer than 6" in hidden[hidden["dimension"] == "a"]["note"].iloc[0]


def test_reliability_against_pingouin(inst, rng):
    pingouin = pytest.importorskip("pingouin")  # GPL: used in tests only
    base = rng.integers(2, 5, size=40)
    mat = np.clip(base[:, None] + rng.integers(-1, 2, size=(40, 3)), 1, 5)
    responses = {}
    for i, r in enumerate(mat):
        responses.update(one(i + 1, dict(zip(["b1", "b2", "b3"], map(str, r))), role="partner"))
    rel = reliability(long(responses), inst)
    expected = pingouin.cronbach_alpha(pd.DataFrame(mat))[0]
    assert rel[rel["dimension"] == "b"]["alpha"].iloc[0] == pytest.approx(expected, abs=1e-10)


def test_empty_answers_give_empty_tables(inst):
    empty = pd.DataFrame(columns=["response_id", "form_id", "version", "partner_id", "role", "respondent", "wave",
                                  "item", "value"])
    assert score_responses(empty, inst).empty
    assert gap_report(empty, inst).empty
    assert comments(empty, inst).empty
    rel = reliability(empty, inst)
    assert len(rel) == 2 and not rel["shown"].any()


def test_wave_change(inst):
    pre = long({**one(1, {"b1": "2", "b2": "2", "b3": "2"}, wave="pre_partnership"),
                **one(2, {"b1": "4", "b2": "4", "b3": "4"}, role="partner", wave="pre_partnership")})
    annual = long({**one(3, {"b1": "3", "b2": "3", "b3": "3"}), **one(4, {"b1": "4", "b2": "3", "b3": "4"},
                                                                        role="partner")})
    rep = gap_report(pd.concat([pre, annual]), inst)
    ch = wave_change(rep, from_wave="pre_partnership", to_wave="annual")
    b = ch[ch["dimension"] == "b"].iloc[0]
    assert b["district_change"] == pytest.approx(1.0)
    assert b["partner_change"] == pytest.approx(11 / 3 - 4)
    assert b["gap_from"] == pytest.approx(2.0) and b["gap_to"] == pytest.approx(2 / 3)
    assert b["gap_change"] == pytest.approx(2 / 3 - 2.0)
    with pytest.raises(ScoringError, match="no answers for wave"):
        wave_change(rep, from_wave="baseline", to_wave="annual")
