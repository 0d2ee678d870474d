"""Tests for partner_analysis.privacy.

Rule cases come from ../shared/reference/privacy.md §2 ("Test cases for the
rule engine") and §3/§5; each parametrised case names its source rule.
Hypothesis checks the suppression invariants on random tables.
"""
from __future__ import annotations

import dataclasses
import doctest
import hashlib
import json
import re
from base64 import b64encode

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partner_analysis import privacy
from partner_analysis.config import load_config
from partner_analysis.exceptions import ConfigError, InputDataError
from partner_analysis.privacy import (PROFILES, Leak, PrivacyProfile, ReleaseLedger, change_allowed, drb_round,
                                      edfacts_perturb, format_count, format_effect, format_mean, format_percent,
                                      get_profile, primary_suppressed, scan_outputs, suppress_comparisons,
                                      suppress_table)

HYP = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_docstring_examples_run():
    import importlib
    attempted = failed = 0
    for name in ("profile", "display", "suppress", "linked", "scan", "ledger"):
        result = doctest.testmod(importlib.import_module(f"partner_analysis.privacy.{name}"))
        attempted, failed = attempted + result.attempted, failed + result.failed
    assert attempted >= 15
    assert failed == 0


# =========================================================================== profiles
class TestProfile:
    def test_public_defaults_match_privacy_md_section_5(self):
        p = PrivacyProfile()
        assert (p.name, p.min_group_n, p.min_numerator, p.inference_min_n) == ("public", 10, 3, 20)
        assert p.small_numerator_action == "suppress"
        assert (p.low_code_pct, p.high_code_pct, p.extreme_codes_min_n) == (5.0, 95.0, 200)
        assert p.bound_at_least_one_student
        assert (p.percent_decimals, p.count_to, p.small_count_label, p.mean_decimals, p.effect_decimals) == (
            0, 5, "<10", 1, 2)
        assert p.no_numerator_denominator_percent_below_n == 30
        assert p.markers == {"primary": "*", "complementary": "‡"}
        assert "small_group_median" in p.never_publish
        assert p.footnote() == "* fewer than 10 students; ‡ hidden to protect another cell"

    def test_from_config_yaml_shape(self):
        # the YAML block of privacy.md §5, verbatim
        cfg = {
            "profile": "public", "min_group_n": 10, "min_numerator": 3, "small_numerator_action": "suppress",
            "top_bottom_code": {"low": "≤5%", "high": "≥95%", "extreme_codes_min_n": 200,
                                "bound_at_least_one_student": True},
            "complementary": {"rows": True, "columns": True,
                              "linked_tables": ["participant_vs_all", "quarter_vs_ytd"]},
            "rounding": {"percent": 0, "count_to": 5, "small_count_label": "<10", "mean": 1, "effect_size": 2},
            "no_numerator_denominator_percent_below_n": 30,
            "never_publish": ["student_rows", "student_names", "min", "max", "small_group_median"],
            "markers": {"primary": "*", "complementary": "‡"}, "release_ledger": True,
        }
        assert PrivacyProfile.from_config(cfg) == PrivacyProfile()
        assert hash(PrivacyProfile.from_config(cfg)) == hash(PrivacyProfile())

    def test_from_district_config(self):
        p = PrivacyProfile.from_config(load_config().privacy)
        assert p == PrivacyProfile()
        assert PrivacyProfile.from_config({"min_group_n": 15}).min_group_n == 15
        assert PrivacyProfile.from_config({"profile": "california"}).change_min_n == 20

    @pytest.mark.parametrize("cfg,match", [
        pytest.param({"min_group_n": 10, "minimum_n": 5}, "unknown privacy setting 'minimum_n'", id="unknown-key"),
        pytest.param({"rounding": {"pct": 0}}, "unknown key 'pct'", id="unknown-nested"),
        pytest.param({"profile": "partner", "min_group_n": 5}, "not be less strict", id="partner-floor"),
        pytest.param({"min_group_n": 25}, "inference_min_n", id="inference-below-k"),
        pytest.param({"small_numerator_action": "blur"}, "small_numerator_action", id="action"),
        pytest.param({"min_group_n": -1}, "min_group_n", id="negative"),
    ])
    def test_config_errors(self, cfg, match):
        with pytest.raises(ConfigError, match=match):
            PrivacyProfile.from_config(cfg)

    def test_partner_profile(self):
        assert get_profile("partner").min_group_n >= get_profile("public").min_group_n
        assert PrivacyProfile(name="partner", min_group_n=15).min_group_n == 15
        with pytest.raises(ConfigError, match="partner"):
            PrivacyProfile(name="partner", min_group_n=9)
        with pytest.raises(ConfigError, match="partner"):
            get_profile("partner").replace(min_group_n=3)

    def test_frozen_and_named(self):
        p = PrivacyProfile.named("texas")
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.min_group_n = 3  # type: ignore[misc]
        assert p.name == "texas"
        for name in PROFILES:
            assert get_profile(name).name == name
        with pytest.raises(ConfigError, match="profile"):
            get_profile("atlantis")


# =========================================================================== state rules (privacy.md §2)
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_any_profile_suppresses_count_2(name):
    # privacy.md §2: any profile, count 2 -> suppressed
    assert primary_suppressed(2, profile=name)
    assert format_mean(3.0, 2, name) == "*"


@pytest.mark.parametrize("profile,n,hidden", [
    pytest.param("public", 9, True, id="public-9"),
    pytest.param("public", 10, False, id="public-10"),
    pytest.param("delaware_assessment", 15, True, id="delaware-assessment-15"),
    pytest.param("delaware_assessment", 16, False, id="delaware-assessment-16"),
    pytest.param("delaware_accountability", 40, True, id="delaware-accountability-40"),
    pytest.param("delaware_accountability", 41, False, id="delaware-accountability-41"),
    pytest.param("vermont", 10, True, id="vermont-10"),
    pytest.param("vermont", 11, False, id="vermont-11"),
    pytest.param("california", 10, True, id="california-10"),
    pytest.param("california", 11, False, id="california-11"),
    pytest.param("new_york", 4, True, id="new-york-4"),
    pytest.param("new_york", 5, False, id="new-york-5"),
])
def test_group_size_rules(profile, n, hidden):
    # privacy.md §2: Delaware "Rule of X" (n <= 15 / n <= 40 masked), Vermont (< 11), California (n < 11)
    assert primary_suppressed(n, profile=profile) is hidden
    assert (format_mean(12.34, n, profile) == "*") is hidden


@pytest.mark.parametrize("profile,x,n,expected", [
    pytest.param("delaware_assessment", 1, 25, "≤5%", id="delaware-4pct"),
    pytest.param("delaware_assessment", 24, 25, "≥95%", id="delaware-96pct"),
    pytest.param("delaware_assessment", 12, 25, "48%", id="delaware-48pct"),
    pytest.param("texas", 0, 5, "<1%", id="texas-0/5"),
    pytest.param("texas", 1, 201, "<1%", id="texas-1/201"),
    pytest.param("texas", 201, 201, ">99%", id="texas-201/201"),
    pytest.param("texas", 2, 5, "40%", id="texas-2/5"),
])
def test_percent_rules(profile, x, n, expected):
    assert format_percent(x, n, profile) == expected


def test_california_change_rule():
    # privacy.md §2: change measures need n >= 20 in both years
    assert not change_allowed(19, 300, "california")
    assert change_allowed(20, 20, "california")
    assert not change_allowed(float("nan"), 300, "california")


@pytest.mark.parametrize("count,expected", [(14, "<15"), (47, 50), (234, 250), (4321, 4300), (15, 20), (0, "<15"),
                                            (99, 100), (12345, 12350), (12344, 12340)])
def test_census_drb(count, expected):
    # privacy.md §2: 14 -> "<15"; 47 -> 50; 234 -> 250; 4,321 -> 4,300 (plus band edges)
    assert drb_round(count) == expected


def test_census_drb_format():
    assert format_count(4321, "census_drb") == "4,300"
    assert format_count(14, "census_drb") == "<15"


def test_edfacts_perturbation_bound():
    # privacy.md §2: cell 4 -> published value within +-1 (test the bound, not the value)
    rng = np.random.default_rng(1)
    values = {edfacts_perturb(4, rng=rng) for _ in range(300)}
    assert values <= {3, 4, 5} and len(values) > 1
    assert {edfacts_perturb(0, rng=rng) for _ in range(100)} <= {0, 1}
    assert edfacts_perturb(5, rng=rng) == 5
    assert edfacts_perturb(4, rng=rng, profile="public") == 4


def test_new_york_next_smallest():
    # privacy.md §2: subgroups 3, 8, 20, 31 with total 62 shown -> suppress 3 and 8
    t = pd.DataFrame({"school": "S1", "subgroup": ["a", "b", "c", "d"], "n": [3, 8, 20, 31],
                      "pct_proficient": [33.3, 50.0, 45.0, 61.3]})
    out = suppress_table(t, value_cols=["pct_proficient"], n_col="n", row_keys=["school"], col_key="subgroup",
                         total_published="rows", profile="new_york")
    assert out["suppressed"].tolist() == [True, True, False, False]
    assert out["marker"].tolist() == ["*", "‡", "", ""]
    assert out["pct_proficient"].isna().tolist() == [True, True, False, False]
    assert out["n"].isna().tolist() == [True, True, False, False]


def test_louisiana_second_cell_in_row():
    # privacy.md §2: one suppressed cell in a row with its total -> a second cell in that row suppressed
    t = pd.DataFrame({"row": ["r1"] * 3 + ["r2"] * 3, "col": ["a", "b", "c"] * 2,
                      "n": [4, 30, 12, 40, 41, 42]})
    out = suppress_table(t, value_cols=[], n_col="n", row_keys="row", col_key="col", total_published="rows")
    assert out["suppressed"].tolist() == [True, False, True, False, False, False]
    # with column totals as well, columns a and c now hold one hidden cell each: their row-2 cells follow
    both = suppress_table(t, value_cols=[], n_col="n", row_keys="row", col_key="col", total_published=True)
    assert both["suppressed"].tolist() == [True, False, True, True, False, True]


def test_louisiana_all_zero_cells():
    # privacy.md §2 (Louisiana): hidden cells that are all 0 with the total shown disclose -> hide another
    t = pd.DataFrame({"row": "r", "col": list("abcd"), "n": [0, 0, 40, 50]})
    out = suppress_table(t, value_cols=[], n_col="n", row_keys="row", col_key="col", total_published="rows")
    assert out["suppressed"].tolist() == [True, True, True, False]


def test_single_cell_line_withholds_total():
    t = pd.DataFrame({"row": ["r1", "r2"], "col": ["a", "a"], "n": [3, 40]})
    out = suppress_table(t, value_cols=[], n_col="n", row_keys="row", col_key="col", total_published="rows")
    assert out.attrs["withheld_totals"] == [("row", "r1")]


def test_suppress_table_errors():
    t = pd.DataFrame({"row": ["r", "r"], "col": ["a", "a"], "n": [3, 4]})
    with pytest.raises(InputDataError, match="more than once"):
        suppress_table(t, value_cols=[], n_col="n", row_keys="row", col_key="col")
    with pytest.raises(InputDataError, match="no column"):
        suppress_table(t, value_cols=["x"], n_col="n", row_keys="row", col_key="col")
    with pytest.raises(ConfigError, match="total_published"):
        suppress_table(t.iloc[:1], value_cols=[], n_col="n", row_keys="row", col_key="col", total_published="diag")


def test_numerator_rule_in_cells():
    t = pd.DataFrame({"row": "r", "col": list("abc"), "n": [50, 60, 70], "x": [2, 30, 69]})
    out = suppress_table(t, value_cols=["x"], n_col="n", row_keys="row", col_key="col", total_published=False,
                         numerator_col="x", hide_n=False)
    assert out["suppressed"].tolist() == [True, False, True]
    assert out["n"].tolist() == [50, 60, 70]


# =========================================================================== formatting
class TestFormatting:
    @pytest.mark.parametrize("x,n,expected", [
        pytest.param(9, 20, "45%", id="plain"),
        pytest.param(5, 9, "*", id="below-k"),
        pytest.param(2, 40, "*", id="small-numerator"),
        pytest.param(38, 40, "*", id="small-complement"),
        pytest.param(3, 199, "≤5%", id="low-code-under-200"),
        pytest.param(3, 400, "<1%", id="lt1-n400"),
        pytest.param(397, 400, ">99%", id="gt99-n400"),
        pytest.param(196, 200, "≥95%", id="high-code"),
        pytest.param(3, 12, "25%", id="three-of-twelve"),
        pytest.param(float("nan"), 40, "*", id="nan"),
    ])
    def test_public_percent(self, x, n, expected):
        # privacy.md §3.1 (x < 3 or n - x < 3), §3.3 (≤5%/≥95%; <1%/>99% only for n >= 200), §3.4 whole %
        assert format_percent(x, n) == expected

    def test_extreme_codes_need_one_student_below_one_percent(self):
        p = PrivacyProfile(extreme_codes_min_n=50)
        # 100/60 % > 1 %: "<1%" would mean 0 students, so the 5 % code is used
        assert format_percent(0, 60, p.replace(min_numerator=0)) == "≤5%"
        assert format_percent(0, 150, p.replace(min_numerator=0)) == "<1%"

    def test_coded_bound_covers_one_student(self):
        # privacy.md §3.3: a coded bound must be at least 100/n %
        p = PrivacyProfile(min_numerator=0)
        assert format_percent(0, 12, p) == "≤9%"   # 100/12 = 8.3 %
        assert format_percent(12, 12, p) == "≥91%"
        assert format_percent(1, 40, p) == "≤5%"

    @HYP
    @given(st.integers(10, 400), st.data())
    def test_small_numerators_indistinguishable_when_coded(self, n, data):
        p = PrivacyProfile(small_numerator_action="code")
        low = {format_percent(x, n, p) for x in range(0, 3)}
        high = {format_percent(n - x, n, p) for x in range(0, 3)}
        assert len(low) == 1 and len(high) == 1
        code = low.pop()
        if code == "<1%":
            assert 100 * 2 / n < 1  # every small numerator is below 1 %
        else:
            match = re.fullmatch(r"≤(\d+)%", code)
            assert match, code
            assert int(match.group(1)) >= 100 * 2 / n - 1e-9 and int(match.group(1)) >= 100 / n - 1e-9

    @HYP
    @given(st.integers(10, 1000), st.data())
    def test_coded_bounds_never_mean_zero(self, n, data):
        x = data.draw(st.integers(0, n))
        text = format_percent(x, n, PrivacyProfile(min_numerator=0))
        m = re.fullmatch(r"≤(\d+)%", text)
        if m:
            assert int(m.group(1)) >= 100 / n - 1e-9 and 100 * x / n <= int(m.group(1))
        m = re.fullmatch(r"≥(\d+)%", text)
        if m:
            assert 100 - int(m.group(1)) >= 100 / n - 1e-9 and 100 * x / n >= int(m.group(1))
        if text == "<1%":
            assert n >= 100 and 100 * x / n < 1

    @pytest.mark.parametrize("count,expected", [(0, "<10"), (9, "<10"), (10, "10"), (12, "10"), (13, "15"),
                                                (1234, "1,235"), (float("nan"), "")])
    def test_counts(self, count, expected):
        # privacy.md §3.4: counts to the nearest 5 or "<10"
        assert format_count(count) == expected

    def test_means_and_effects(self):
        assert format_mean(3.456, 25) == "3.5"
        assert format_mean(-0.04, 25) == "0.0"
        assert format_effect(-0.246639, 51, 344) == "-0.25"
        assert format_effect(0.0049, 51, 344) == "0.00"
        assert format_effect(0.3, 15, 300) == "—"   # descriptive only (statistics.md §7)
        assert format_effect(0.3, 9, 300) == "*"

    def test_errors(self):
        with pytest.raises(InputDataError, match="outside"):
            format_percent(11, 10)
        with pytest.raises(InputDataError, match="negative"):
            format_count(-1)


# =========================================================================== suppress_table properties
@st.composite
def grids(draw):
    n_rows = draw(st.integers(1, 5))
    n_cols = draw(st.integers(1, 5))
    rows = []
    for r in range(n_rows):
        for c in range(n_cols):
            if draw(st.integers(0, 9)) == 0:  # some cells absent
                continue
            rows.append({"row": f"r{r}", "col": f"c{c}", "n": draw(st.integers(0, 40)),
                         "value": draw(st.floats(0, 100))})
    frame = pd.DataFrame(rows, columns=["row", "col", "n", "value"])
    total = draw(st.sampled_from([True, "rows", "columns", False]))
    return frame.sample(frac=1, random_state=draw(st.integers(0, 100))).reset_index(drop=True), total


@HYP
@given(grids())
def test_suppress_table_invariants(case):
    frame, total = case
    before = frame.copy()
    out = suppress_table(frame, value_cols=["value"], n_col="n", row_keys="row", col_key="col",
                         total_published=total)
    pd.testing.assert_frame_equal(frame, before)  # not mutated
    withheld = set(out.attrs["withheld_totals"])
    directions = {True: ["row", "col"], "rows": ["row"], "columns": ["col"], False: []}[total]
    for key in directions:
        kind = "row" if key == "row" else "column"
        for value, line in out.groupby(key):
            if (kind, value) in withheld:
                continue
            assert line["suppressed"].sum() != 1, (key, value)
    # every primary cell stays hidden; hidden cells show nothing
    primary = (frame["n"] < 10).to_numpy()
    assert out["suppressed"].to_numpy()[primary].all()
    assert (out.loc[primary, "marker"] == "*").all()
    assert out.loc[out["suppressed"], "value"].isna().all()
    assert out.loc[~out["suppressed"], "value"].notna().all()
    assert set(out["marker"]) <= {"", "*", "‡"}
    # idempotent
    again = suppress_table(out, value_cols=["value"], n_col="n", row_keys="row", col_key="col",
                           total_published=total)
    pd.testing.assert_frame_equal(again, out)


@HYP
@given(grids())
def test_suppress_table_row_order_free(case):
    frame, total = case
    kw = dict(value_cols=["value"], n_col="n", row_keys="row", col_key="col", total_published=total)
    a = suppress_table(frame, **kw).sort_values(["row", "col"]).reset_index(drop=True)
    b = suppress_table(frame.iloc[::-1], **kw).sort_values(["row", "col"]).reset_index(drop=True)
    pd.testing.assert_series_equal(a["suppressed"], b["suppressed"])


# =========================================================================== suppress_comparisons
def _kpi_row(**kw):
    row = {"partner_id": "P01", "program_id": "all", "term": "2025-26-Q1", "kpi_id": "attendance_rate",
           "kind": "continuous", "unit": "rate", "subgroup": "all", "subgroup_value": "all",
           "n_t": 40, "n_c": 300, "n_all": 340, "mean_t": 0.93, "mean_c": 0.90, "mean_all": 0.9035,
           "sd_t": 0.05, "sd_c": 0.06, "difference": 0.03, "ci_low_t": 0.91, "ci_high_t": 0.95,
           "ci_low_c": 0.89, "ci_high_c": 0.91, "effect_size": 0.5, "es_method": "hedges_g", "es_ci_low": 0.2,
           "es_ci_high": 0.8, "improvement_index": 19.1, "p_val": 0.001, "p_adj": 0.004, "test": "welch_t",
           "baseline_es": 0.02, "baseline_verdict": "satisfied", "wording": "effect", "sample_status": "tested",
           "prev_term_mean_t": 0.92, "change_prev_term": 0.01, "last_year_mean_t": 0.91,
           "change_last_year": 0.02, "suppressed": False, "marker": "", "suppression_reason": ""}
    row.update(kw)
    return row


CONTRAST = ["difference", "effect_size", "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj"]


class TestSuppressComparisons:
    def test_group_of_nine(self):
        # privacy.md §2: public, group n = 9 -> every statistic of the group "*"
        out = suppress_comparisons(pd.DataFrame([_kpi_row(n_t=9, n_all=309)]))
        r = out.iloc[0]
        for col in ["n_t", "mean_t", "sd_t", "ci_low_t", "ci_high_t", "prev_term_mean_t", "change_prev_term",
                    *CONTRAST]:
            assert pd.isna(r[col]), col
        assert r["marker"] == "*" and r["suppressed"] and r["sample_status"] == "suppressed"
        assert "participants: fewer than 10 students" in r["suppression_reason"]
        assert r["test"] == ""

    def test_triplet_differencing(self):
        # privacy.md §2: participants 25, comparison 8, all shown -> comparison and contrast hidden, and the
        # participant or all-students figure hidden too
        out = suppress_comparisons(pd.DataFrame([_kpi_row(n_t=25, n_c=8, n_all=33)]))
        r = out.iloc[0]
        assert pd.isna(r["mean_c"]) and pd.isna(r["n_c"])
        assert all(pd.isna(r[c]) for c in CONTRAST)
        assert pd.isna(r["mean_t"]) or pd.isna(r["mean_all"])
        assert pd.isna(r["n_t"]) or pd.isna(r["n_all"])  # n_c = n_all - n_t otherwise
        assert r["marker"] == "*"

    def test_shared_all_figure_hides_participants_instead(self):
        # the same all-students figure is published in another row: hiding it here would not protect anything
        rows = [_kpi_row(partner_id="P01", n_t=25, n_c=8, n_all=33, mean_all=0.9),
                _kpi_row(partner_id="P02", n_t=20, n_c=13, n_all=33, mean_all=0.9)]
        out = suppress_comparisons(pd.DataFrame(rows))
        assert pd.notna(out.loc[0, "mean_all"]) and pd.isna(out.loc[0, "mean_t"])
        assert not out.loc[1, "suppressed"]

    def test_descriptive_only(self):
        # statistics.md §7: 10-19 per group -> descriptive only
        out = suppress_comparisons(pd.DataFrame([_kpi_row(n_t=15, n_all=315)]))
        r = out.iloc[0]
        assert r["sample_status"] == "descriptive_only" and not r["suppressed"] and r["marker"] == ""
        assert r["mean_t"] == 0.93 and r["difference"] == 0.03
        for col in ["effect_size", "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj"]:
            assert pd.isna(r[col]), col
        assert r["wording"] == "association"

    def test_tested_row_untouched(self):
        row = pd.DataFrame([_kpi_row()])
        out = suppress_comparisons(row)
        pd.testing.assert_frame_equal(out, row, check_dtype=False)

    def test_binary_small_numerator(self):
        # privacy.md §3.1: x < 3 -> suppress; 2 of 50 participants
        out = suppress_comparisons(pd.DataFrame([_kpi_row(kind="binary", unit="share", mean_t=0.04,
                                                          mean_c=0.2, mean_all=0.1868)]))
        r = out.iloc[0]
        assert pd.isna(r["mean_t"]) and pd.isna(r["difference"])
        assert r["n_t"] == 40  # n >= k stays visible when only the numerator is small
        assert pd.isna(r["mean_all"])  # triplet
        assert r["marker"] == "*"
        assert "with (or without) the outcome" in r["suppression_reason"]

    def test_subgroup_remainder(self):
        # subgroup rows add up to the subgroup == "all" row: one small subgroup exposes itself by subtraction
        rows = [_kpi_row(),
                _kpi_row(subgroup="gender", subgroup_value="F", n_t=32, n_c=150, n_all=182),
                _kpi_row(subgroup="gender", subgroup_value="M", n_t=8, n_c=150, n_all=158)]
        out = suppress_comparisons(pd.DataFrame(rows))
        assert not out.loc[0, "suppressed"]
        assert out.loc[2, "suppressed"] and out.loc[2, "marker"] == "*"
        assert out.loc[1, "suppressed"] and out.loc[1, "marker"] == "‡"
        assert pd.isna(out.loc[1, "n_t"])  # 40 - 32 would give the hidden 8

    def test_trend_columns(self):
        # California (privacy.md §2): change measures need n >= 20 in both years; public: earlier groups < k hidden
        rows = [_kpi_row(prev_term_n_t=19, last_year_n_t=8), _kpi_row(prev_term_n_t=25, last_year_n_t=40)]
        ca = suppress_comparisons(pd.DataFrame(rows), "california")
        assert pd.isna(ca.loc[0, "change_prev_term"]) and ca.loc[0, "prev_term_mean_t"] == 0.92
        assert pd.isna(ca.loc[0, "last_year_mean_t"]) and pd.isna(ca.loc[0, "last_year_n_t"])
        assert ca.loc[1, "change_prev_term"] == 0.01 and ca.loc[1, "change_last_year"] == 0.02
        pub = suppress_comparisons(pd.DataFrame(rows))
        assert pub.loc[0, "change_prev_term"] == 0.01 and pd.isna(pub.loc[0, "change_last_year"])

    def test_errors(self):
        with pytest.raises(InputDataError, match="n_c"):
            suppress_comparisons(pd.DataFrame({"n_t": [3]}))


@st.composite
def kpi_tables(draw):
    rows = []
    for partner in ("P01", "P02"):
        for kpi in ("gpa", "pass"):
            binary = kpi == "pass"
            subs = [("all", "all")] + ([("gender", "F"), ("gender", "M")] if draw(st.booleans()) else [])
            for sub, value in subs:
                n_t = draw(st.integers(0, 60))
                n_c = draw(st.integers(0, 60))
                mt = draw(st.integers(0, max(n_t, 0))) / n_t if binary and n_t else draw(st.floats(0, 4))
                mc = draw(st.integers(0, max(n_c, 0))) / n_c if binary and n_c else draw(st.floats(0, 4))
                mall = (mt * n_t + mc * n_c) / (n_t + n_c) if n_t + n_c else float("nan")
                rows.append(_kpi_row(partner_id=partner, kpi_id=kpi, kind="binary" if binary else "continuous",
                                     subgroup=sub, subgroup_value=value, n_t=n_t, n_c=n_c, n_all=n_t + n_c,
                                     mean_t=mt, mean_c=mc, mean_all=mall, difference=mt - mc))
    return pd.DataFrame(rows)


@HYP
@given(kpi_tables())
def test_suppress_comparisons_invariants(table):
    before = table.copy()
    out = suppress_comparisons(table)
    pd.testing.assert_frame_equal(table, before)  # not mutated
    hidden = {g: out[f"mean_{g}"].isna().to_numpy() & out["suppressed"].to_numpy() for g in ("t", "c", "all")}
    count = hidden["t"].astype(int) + hidden["c"].astype(int) + hidden["all"].astype(int)
    assert not (count == 1).any()  # never exactly one of participants / comparison / all hidden
    small = (table["n_t"] < 10) | (table["n_c"] < 10)
    assert out.loc[small, "difference"].isna().all()
    assert (out.loc[small, "sample_status"] == "suppressed").all()
    assert out.loc[table["n_t"] < 10, "n_t"].isna().all()
    assert out.loc[table["n_c"] < 10, "n_c"].isna().all()
    # n of a shown group never lets a hidden small n be recovered: if n_c is hidden, n_t or n_all is too
    assert (out["n_c"].notna() | out["n_t"].isna() | out["n_all"].isna()).all()
    assert (out["n_t"].notna() | out["n_c"].isna() | out["n_all"].isna()).all()
    # subgroup remainders: within each partner x kpi x group, never exactly one subgroup hidden under a shown total
    for (_, _), part in out.groupby(["partner_id", "kpi_id"]):
        total = part[part["subgroup"] == "all"]
        members = part[part["subgroup"] != "all"]
        if members.empty:
            continue
        for g in ("t", "c", "all"):
            if total[f"mean_{g}"].isna().iloc[0]:
                continue
            assert (members[f"mean_{g}"].isna() & members["suppressed"]).sum() != 1
    again = suppress_comparisons(out)
    pd.testing.assert_frame_equal(again, out)


@HYP
@given(kpi_tables(), st.integers(0, 1000))
def test_suppress_comparisons_row_order_free(table, seed):
    shuffled = table.sample(frac=1, random_state=seed)
    a = suppress_comparisons(table)
    b = suppress_comparisons(shuffled).loc[table.index]
    pd.testing.assert_frame_equal(a, b)


# =========================================================================== leak scan
class TestScan:
    IDS = ["004217", "118030", "123", "S-00991"]

    def _png(self, path, text):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        fig.savefig(path, format="png", metadata={"Description": text})
        plt.close(fig)

    def test_finds_ids_in_each_format(self, tmp_path):
        (tmp_path / "report.html").write_text("<p>Student 004217 attended</p>", encoding="utf-8")
        nb = {"cells": [{"cell_type": "code", "source": "x", "outputs": [
            {"output_type": "stream", "text": "row: 118030, 0.91"}]}], "metadata": {}}
        (tmp_path / "report.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        (tmp_path / "table.csv").write_text("student_id,value\n004217,3\n", encoding="utf-8")
        (tmp_path / "data.json").write_text(json.dumps({"ids": ["S-00991"]}), encoding="utf-8")
        (tmp_path / "notes.md").write_text("see 118030.", encoding="utf-8")
        (tmp_path / "chart.svg").write_text('<svg><text x="1">004217</text></svg>', encoding="utf-8")
        self._png(tmp_path / "chart.png", "made for 118030")
        leaks = scan_outputs(tmp_path, self.IDS)
        found = {(leak.kind, leak.file.rsplit("/", 1)[-1], leak.student_id) for leak in leaks}
        assert found == {("text", "report.html", "004217"), ("notebook", "report.ipynb", "118030"),
                         ("text", "table.csv", "004217"), ("text", "data.json", "S-00991"),
                         ("text", "notes.md", "118030"), ("svg_text", "chart.svg", "004217"),
                         ("png_text", "chart.png", "118030")}
        assert all(isinstance(leak, Leak) and leak.student_id in leak.snippet for leak in leaks)

    def test_embedded_png_in_html(self, tmp_path):
        self._png(tmp_path / "c.png", "id 004217")
        blob = b64encode((tmp_path / "c.png").read_bytes()).decode()
        (tmp_path / "c.png").unlink()
        (tmp_path / "r.html").write_text(f'<img alt="chart" src="data:image/png;base64,{blob}">', encoding="utf-8")
        leaks = scan_outputs(tmp_path / "r.html", self.IDS)
        assert [(leak.kind, leak.student_id) for leak in leaks] == [("embedded_png", "004217")]

    def test_embedded_png_in_notebook(self, tmp_path):
        self._png(tmp_path / "c.png", "id 118030")
        blob = b64encode((tmp_path / "c.png").read_bytes()).decode()
        (tmp_path / "c.png").unlink()
        wrapped = "\n".join(blob[i:i + 76] for i in range(0, len(blob), 76))  # nbformat may wrap base64
        nb = {"cells": [{"cell_type": "code", "source": "plot()", "outputs": [
            {"output_type": "display_data", "data": {"image/png": wrapped}, "metadata": {}}]}], "metadata": {}}
        (tmp_path / "r.ipynb").write_text(json.dumps(nb), encoding="utf-8")
        leaks = scan_outputs(tmp_path, self.IDS)
        assert [(leak.kind, leak.student_id) for leak in leaks] == [("embedded_png", "118030")]

    @pytest.mark.parametrize("text", [
        pytest.param("1004217 students", id="longer-number"),
        pytest.param("0042170", id="suffix"),
        pytest.param("id4217 and 4217", id="no-leading-zeros"),
        pytest.param("total 123 students", id="short-id-ignored"),
        pytest.param("S-009910", id="punctuated-suffix"),
    ])
    def test_word_boundaries(self, tmp_path, text):
        (tmp_path / "r.md").write_text(text, encoding="utf-8")
        assert scan_outputs([tmp_path / "r.md"], self.IDS) == []

    def test_boundaries_match(self, tmp_path):
        (tmp_path / "r.md").write_text("(004217) and 'S-00991'.", encoding="utf-8")
        assert sorted(leak.student_id for leak in scan_outputs(tmp_path, self.IDS)) == ["004217", "S-00991"]

    def test_clean_and_errors(self, tmp_path):
        (tmp_path / "ok.html").write_text("<p>n = 40, 93 %</p>", encoding="utf-8")
        assert scan_outputs(tmp_path, self.IDS) == []
        with pytest.raises(InputDataError, match="does not exist"):
            scan_outputs(tmp_path / "missing.html", self.IDS)

    def test_filename(self, tmp_path):
        (tmp_path / "student_118030 report.txt").write_text("nothing", encoding="utf-8")
        (tmp_path / "118030.csv").write_text("a\n1\n", encoding="utf-8")
        leaks = scan_outputs(tmp_path, self.IDS)
        assert [(leak.kind, leak.student_id) for leak in leaks] == [("filename", "118030")]


# =========================================================================== release ledger
class TestLedger:
    def test_append_and_frame(self, tmp_path):
        ledger = ReleaseLedger(tmp_path / "ledger.jsonl")
        assert list(ledger.frame().columns) == list(ReleaseLedger.COLUMNS) and len(ledger) == 0
        table = pd.DataFrame({"kpi_id": ["gpa"], "mean_t": [3.1]})
        e1 = ledger.append(term="2025-26-Q1", partner_id="007", table="kpi", data=table,
                           profile=get_profile("public"))
        assert e1["sha256"] == hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()
        assert e1["rows"] == 1 and e1["profile"] == "public"
        first = (tmp_path / "ledger.jsonl").read_bytes()
        # the call report/bundle.py makes
        ledger.append(**{"term": "2025-26-Q1", "partner_id": "P02", "table": "fit", "sha256": "a" * 64,
                         "profile": "partner", "released_at": "2025-11-01T00:00:00+00:00"})
        assert (tmp_path / "ledger.jsonl").read_bytes().startswith(first)  # append-only
        frame = ledger.frame()
        assert frame["partner_id"].tolist() == ["007", "P02"]  # leading zeros kept
        assert frame["rows"].iloc[0] == 1 and pd.isna(frame["rows"].iloc[1])
        assert frame["released_at"].iloc[1] == "2025-11-01T00:00:00+00:00"
        assert len(ledger.released(partner_id="P02")) == 1
        pd.testing.assert_frame_equal(ledger.read(), frame)

    def test_errors(self, tmp_path):
        ledger = ReleaseLedger(tmp_path / "l.jsonl")
        with pytest.raises(InputDataError, match="sha256"):
            ledger.append(term="t", partner_id="P01", table="x", sha256="abc")
        with pytest.raises(InputDataError, match="sha256= or data="):
            ledger.append(term="t", partner_id="P01", table="x")
        with pytest.raises(InputDataError, match="partner_id"):
            ledger.append(term="t", partner_id=7, table="x", sha256="a" * 64)
        (tmp_path / "l.jsonl").write_text("{not json\n", encoding="utf-8")
        with pytest.raises(InputDataError, match="row 1"):
            ledger.frame()


def test_a_change_of_one_point_is_singular():
    from partner_analysis.privacy.display import format_change, format_points
    assert format_change(0.50, 0.49, n_now=100, n_before=100, kind="binary") == "+1 percentage point"
    assert format_change(0.52, 0.49, n_now=100, n_before=100, kind="binary") == "+3 percentage points"
    assert format_points(-0.01) == "-1 percentage point" and format_points(0.2) == "+20 percentage points"
