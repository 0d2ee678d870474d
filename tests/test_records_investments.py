"""Investment ledger: valuation (units, rates, FTE), balance index and bands, metrics per term and year."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner_analysis import load_config
from partner_analysis.config import config_from_dict
from partner_analysis.exceptions import ConfigError, InputDataError
from partner_analysis.records.investments import (Valuation, balance_band, balance_index, investment_balance,
                                                  investment_by_category, investment_year_to_date,
                                                  outcomes_from_kpi_table, value_investments, value_per_outcome)


@pytest.fixture
def val():
    return Valuation(currency="USD", fte_hours_per_term=360, hours_per_day=8,
                     hourly_rates={"teacher": 52.0, "engineer": 70.0}, default_hourly_rate=40.0)


def ledger(rows):
    cols = ["partner_id", "term", "party", "category", "amount", "unit", "role"]
    return pd.DataFrame(rows, columns=cols)


# -- valuation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, unit, role, hours, rate, value", [
    pytest.param(1000.0, "USD", None, np.nan, np.nan, 1000.0, id="money-as-is"),
    pytest.param(10.0, "hours", "teacher", 10.0, 52.0, 520.0, id="hours-x-role-rate"),
    pytest.param(10.0, "hours", "engineer", 10.0, 70.0, 700.0, id="hours-other-role"),
    pytest.param(10.0, "hours", "juggler", 10.0, 40.0, 400.0, id="unknown-role-default-rate"),
    pytest.param(2.0, "days", "teacher", 16.0, 52.0, 832.0, id="days-x-8h"),
    # 0.5 FTE x 360 h per term = 180 h; x 52 = 9360
    pytest.param(0.5, "fte", "teacher", 180.0, 52.0, 9360.0, id="fte-to-hours"),
    pytest.param(1.0, "fte", None, 360.0, 40.0, 14400.0, id="fte-no-role-default"),
])
def test_valuation_by_unit(val, amount, unit, role, hours, rate, value):
    out = value_investments(ledger([("P01", "2025-26-Q1", "district", "x", amount, unit, role)]), valuation=val)
    assert out["value"].iloc[0] == pytest.approx(value)
    np.testing.assert_allclose(out["hours"].iloc[0], hours)
    np.testing.assert_allclose(out["hourly_rate"].iloc[0], rate)


def test_valuation_keeps_original_unit_and_input(val):
    data = ledger([("P01", "2025-26-Q1", "partner", "staff_fte", 0.25, "fte", "engineer")])
    before = data.copy()
    out = value_investments(data, valuation=val)
    pd.testing.assert_frame_equal(data, before)
    assert out["unit"].iloc[0] == "fte" and out["amount"].iloc[0] == 0.25
    assert out["value"].iloc[0] == pytest.approx(0.25 * 360 * 70)


def test_rates_come_from_config_and_changing_them_revalues():
    cfg = load_config()
    raw = cfg.to_dict()
    raw["valuation"] = dict(raw["valuation"], fte_hours_per_term=400, hourly_rates={"teacher": 60})
    cfg2 = config_from_dict(raw)
    data = ledger([("P01", "2025-26-Q1", "district", "staff_fte", 0.5, "fte", "teacher")])
    v1 = value_investments(data, valuation=Valuation.from_config(cfg))["value"].iloc[0]
    v2 = value_investments(data, valuation=Valuation.from_config(cfg2))["value"].iloc[0]
    assert v1 == pytest.approx(0.5 * 360 * 52.0)  # embedded district.yml: 360 h, teacher 52
    assert v2 == pytest.approx(0.5 * 400 * 60.0)


def test_unknown_unit_in_frame_raises(val):
    with pytest.raises(InputDataError, match="unknown unit 'EUR'"):
        value_investments(ledger([("P01", "t", "district", "funding", 5.0, "EUR", None)]), valuation=val)


@pytest.mark.parametrize("bands", [
    pytest.param({"balanced": [0.3, 0.6], "leaning": [0.35, 0.8]}, id="not-nested"),
    pytest.param({"balanced": [0.55, 0.6], "leaning": [0.25, 0.75]}, id="balanced-excludes-half"),
    pytest.param({"balanced": [0.4, 0.6], "leaning": [-0.1, 0.75]}, id="below-zero"),
])
def test_bad_band_config_is_a_config_error(bands):
    with pytest.raises(ConfigError, match="balance bands"):
        Valuation.from_config({"balance_bands": bands})


def test_non_positive_fte_hours_is_a_config_error():
    with pytest.raises(ConfigError, match="fte_hours_per_term"):
        Valuation.from_config({"fte_hours_per_term": 0})


# -- balance index and bands -----------------------------------------------------------------------

@pytest.mark.parametrize("d, p, share, band", [
    pytest.param(500, 500, 0.5, "balanced", id="equal"),
    pytest.param(600, 400, 0.4, "balanced", id="lower-edge-balanced"),
    pytest.param(400, 600, 0.6, "balanced", id="upper-edge-balanced"),
    pytest.param(610, 390, 0.39, "leaning", id="just-below-balanced"),
    pytest.param(750, 250, 0.25, "leaning", id="lower-edge-leaning"),
    pytest.param(250, 750, 0.75, "leaning", id="upper-edge-leaning"),
    pytest.param(760, 240, 0.24, "one-sided", id="district-carries"),
    pytest.param(100, 900, 0.9, "one-sided", id="partner-carries"),
    pytest.param(1000, 0, 0.0, "one-sided", id="partner-nothing"),
    pytest.param(0, 0, np.nan, "no data", id="nothing-entered"),
])
def test_balance_index_and_band(d, p, share, band):
    val = Valuation()
    b = balance_index(d, p)
    np.testing.assert_allclose(b, share)
    assert balance_band(b, valuation=val) == band


def test_band_thresholds_are_configurable():
    strict = Valuation(balanced=(0.45, 0.55), leaning=(0.35, 0.65))
    assert balance_band(0.42, valuation=strict) == "leaning"
    assert balance_band(0.30, valuation=strict) == "one-sided"
    assert balance_band(0.42, valuation=Valuation()) == "balanced"


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1e7), st.floats(0, 1e7))
def test_balance_index_properties(d, p):
    b = balance_index(d, p)
    if d + p == 0:
        assert np.isnan(b)
    else:
        assert 0 <= b <= 1
        # swapping the sides mirrors the index
        assert balance_index(p, d) == pytest.approx(1 - b, abs=1e-9)


# -- metrics on a hand-computed ledger --------------------------------------------------------------

@pytest.fixture
def hand_ledger():
    # 2025-26-Q1, P01: district 0.25 FTE teacher = 90 h x 52 = 4680 + 1000 USD facilities = 5680
    #                   partner 40 h engineer x 70 = 2800 + 2000 USD funding = 4800 -> share 4800/10480
    # 2025-26-Q2, P01: district 10 h teacher = 520; partner 3000 USD -> share 3000/3520
    # 2025-26-Q1, P02: district 2 days coordinator (default 40 in this fixture) = 640; partner 0
    return ledger([
        ("P01", "2025-26-Q1", "district", "staff_fte", 0.25, "fte", "teacher"),
        ("P01", "2025-26-Q1", "district", "facilities", 1000.0, "USD", None),
        ("P01", "2025-26-Q1", "partner", "staff_hours", 40.0, "hours", "engineer"),
        ("P01", "2025-26-Q1", "partner", "funding", 2000.0, "USD", None),
        ("P01", "2025-26-Q2", "district", "staff_hours", 10.0, "hours", "teacher"),
        ("P01", "2025-26-Q2", "partner", "funding", 3000.0, "USD", None),
        ("P02", "2025-26-Q1", "district", "staff_hours", 2.0, "days", "coordinator"),
    ])


@pytest.fixture
def hand_config(config):
    raw = config.to_dict()
    raw["valuation"] = dict(raw["valuation"], fte_hours_per_term=360,
                            hourly_rates={"teacher": 52.0, "engineer": 70.0}, default_hourly_rate=40.0)
    return config_from_dict(raw)


def test_investment_balance_hand_computed(hand_ledger, hand_config):
    out = investment_balance(hand_ledger, hand_config, terms=["2025-26-Q1", "2025-26-Q2"])
    assert list(out.columns[:6]) == ["partner_id", "term", "district_value", "partner_value", "total_value",
                                     "partner_share"]
    r = out.set_index(["partner_id", "term"])
    q1 = r.loc[("P01", "2025-26-Q1")]
    assert q1.district_value == pytest.approx(5680)
    assert q1.partner_value == pytest.approx(4800)
    assert q1.partner_share == pytest.approx(4800 / 10480)
    assert q1.balance_band == "balanced"
    assert q1.district_hours == pytest.approx(90) and q1.partner_hours == pytest.approx(40)
    q2 = r.loc[("P01", "2025-26-Q2")]
    assert q2.partner_share == pytest.approx(3000 / 3520)
    assert q2.balance_band == "one-sided"
    assert q2.change_partner_share == pytest.approx(3000 / 3520 - 4800 / 10480)
    p2 = r.loc[("P02", "2025-26-Q1")]
    assert p2.district_value == pytest.approx(16 * 40) and p2.partner_share == 0 and p2.balance_band == "one-sided"
    p2q2 = r.loc[("P02", "2025-26-Q2")]
    assert p2q2.n_entries == 0 and p2q2.balance_band == "no data"


def test_year_to_date_sums_terms_of_the_year(hand_ledger, hand_config):
    extra = ledger([("P01", "2024-25-Q4", "partner", "funding", 99999.0, "USD", None)])  # prior year: excluded
    ytd = investment_year_to_date(pd.concat([hand_ledger, extra]), hand_config, term="2025-26-Q2")
    r = ytd.set_index("partner_id").loc["P01"]
    assert r.district_value == pytest.approx(5680 + 520)
    assert r.partner_value == pytest.approx(4800 + 3000)
    assert r.partner_share == pytest.approx(7800 / 14000)
    assert r.terms_included == 2


def test_by_category_and_value_per_outcome(hand_ledger, hand_config):
    cat = investment_by_category(hand_ledger, hand_config, terms=["2025-26-Q1"])
    p01 = cat[cat["partner_id"] == "P01"].set_index(["party", "category"])["value"]
    assert p01[("district", "staff_fte")] == pytest.approx(4680)
    assert p01[("partner", "staff_hours")] == pytest.approx(2800)
    assert p01.sum() == pytest.approx(10480)
    bal = investment_balance(hand_ledger, hand_config, terms=["2025-26-Q1"])
    outcomes = pd.DataFrame({"partner_id": ["P01", "P02"], "term": ["2025-26-Q1"] * 2, "participants": [20, 0],
                             "credits_earned": [40.0, 5.0], "wbl_hours": [262.0, np.nan]})
    per = value_per_outcome(bal, outcomes).set_index("partner_id")
    assert per.loc["P01", "value_per_student"] == pytest.approx(10480 / 20)
    assert per.loc["P01", "value_per_credit"] == pytest.approx(10480 / 40)
    assert per.loc["P01", "value_per_wbl_hour"] == pytest.approx(10480 / 262)
    assert np.isnan(per.loc["P02", "value_per_student"])  # zero participants: undefined, not infinite
    assert np.isnan(per.loc["P02", "value_per_wbl_hour"])


def test_outcomes_from_kpi_comparison_table():
    kpi = pd.DataFrame({
        "partner_id": ["P01"] * 4, "program_id": ["all", "all", "all", "P01-A"], "term": ["2025-26-Q1"] * 4,
        "kpi_id": ["attendance_rate", "credits_earned", "wbl_hours", "wbl_hours"], "subgroup": ["all"] * 4,
        "n_t": [25, 24, 25, 10], "mean_t": [0.93, 1.5, 12.0, 99.0]})
    out = outcomes_from_kpi_table(kpi).iloc[0]
    assert out.participants == 25
    assert out.credits_earned == pytest.approx(1.5 * 24)
    assert out.wbl_hours == pytest.approx(12.0 * 25)


def test_partner_outcomes_on_tiny_dataset(config):
    from partner_analysis.data.dataset import Dataset
    from partner_analysis.records.investments import partner_outcomes
    tables = {
        "programs": pd.DataFrame({"program_id": ["P01-A", "P02-A"], "partner_id": ["P01", "P02"]}),
        "participation": pd.DataFrame({
            "student_id": ["000001", "000002", "000003", "000001"],
            "program_id": ["P01-A", "P01-A", "P02-A", "P02-A"],
            "start_date": pd.to_datetime(["2025-09-01", "2025-12-01", "2025-01-01", "2025-08-20"]),
            "end_date": pd.to_datetime(["2025-12-20", None, "2025-03-01", "2025-09-01"])}),
        "course_grades": pd.DataFrame({"student_id": ["000001", "000002", "000001"],
                                       "term_id": ["2025-26-Q1", "2025-26-Q1", "2025-26-Q2"],
                                       "credits_earned": [1.0, 0.5, 2.0]}),
        "wbl_hours": pd.DataFrame({"student_id": ["000001", "000001"], "program_id": ["P01-A", "P01-A"],
                                   "date": pd.to_datetime(["2025-09-10", "2025-11-03"]), "hours": [3.0, 4.0]}),
    }
    out = partner_outcomes(Dataset(config=config, tables=tables), terms=["2025-26-Q1", "2025-26-Q2"])
    r = out.set_index(["partner_id", "term"])
    # Q1 (Aug 18 - Oct 24): P01 has student 1 only (student 2 starts in Dec); P02 has student 1 (Aug 20-Sep 1)
    assert r.loc[("P01", "2025-26-Q1"), "participants"] == 1
    assert r.loc[("P01", "2025-26-Q1"), "wbl_hours"] == 3.0
    assert r.loc[("P01", "2025-26-Q1"), "credits_earned"] == 1.0
    assert r.loc[("P02", "2025-26-Q1"), "participants"] == 1
    # Q2 (Oct 27 - Jan 16): P01 has students 1 and 2; credits of student 1 in Q2 = 2
    assert r.loc[("P01", "2025-26-Q2"), "participants"] == 2
    assert r.loc[("P01", "2025-26-Q2"), "credits_earned"] == 2.0
    assert r.loc[("P01", "2025-26-Q2"), "wbl_hours"] == 4.0
    assert ("P02", "2025-26-Q2") not in r.index


def test_charts_carry_alt_text_and_data(hand_ledger, hand_config):
    from partner_analysis.records.plots import plot_balance_trend, plot_investment_by_category
    cat = investment_by_category(hand_ledger[hand_ledger["partner_id"] == "P01"], hand_config, terms=["2025-26-Q1"])
    chart = plot_investment_by_category(cat)
    assert "district $5,680" in chart.alt and "partner $4,800" in chart.alt
    assert chart.data["value"].sum() == pytest.approx(10480)
    assert chart.fig.axes[0].get_xlabel() == "Value (USD)"
    bal = investment_balance(hand_ledger[hand_ledger["partner_id"] == "P01"], hand_config,
                             terms=["2025-26-Q1", "2025-26-Q2"])
    chart = plot_balance_trend(bal, valuation=Valuation.from_config(hand_config))
    assert "46% in 2025-26-Q1" in chart.alt and "85% in 2025-26-Q2 (one-sided)" in chart.alt
    line = [ln for ln in chart.fig.axes[0].get_lines() if len(ln.get_ydata()) == 2][0]
    np.testing.assert_allclose(line.get_ydata(), [4800 / 10480, 3000 / 3520])
