"""Goal attainment against KPI values (hand-built KPI tables) and from check-in reviews."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from partner_analysis import load_config
from partner_analysis.records import RecordsContext, add_checkin, add_goal, goal_attainment, read_goals
from partner_analysis.records.goals import kpi_values
from partner_analysis.store import Store

TERMS = ["2025-26-Q1", "2025-26-Q2", "2025-26-Q3", "2025-26-Q4"]


@pytest.fixture(scope="module")
def config():
    return load_config()


def goals_frame(rows):
    cols = ["goal_id", "partner_id", "description", "kpi_id", "population", "baseline", "target", "start_term",
            "due_term"]
    return pd.DataFrame(rows, columns=cols)


def kpi(rows):
    return pd.DataFrame(rows, columns=["partner_id", "term", "kpi_id", "value"])


@pytest.mark.parametrize("value, term, attainment, expected, status", [
    # baseline 0.90 -> target 0.95 from Q1 to Q4: expected share e = (r(t) - 0) / 3
    pytest.param(0.95, "2025-26-Q2", 1.0, 1 / 3, "met", id="met"),
    pytest.param(0.92, "2025-26-Q2", 0.4, 1 / 3, "on_track", id="ahead-of-linear-path"),
    pytest.param(0.91, "2025-26-Q3", 0.2, 2 / 3, "off_track", id="less-than-half-of-expected"),
    pytest.param(0.925, "2025-26-Q3", 0.5, 2 / 3, "at_risk", id="behind-but-over-half"),
    pytest.param(0.94, "2025-26-Q4", 0.8, 1.0, "at_risk", id="due-term-not-met-yet"),
    pytest.param(0.89, "2025-26-Q1", -0.2, 0.0, "off_track", id="wrong-direction-at-start"),
])
def test_attainment_against_kpi_values(config, value, term, attainment, expected, status):
    goals = goals_frame([("G1", "P01", "attendance", "attendance_rate", "participants", 0.90, 0.95, "2025-26-Q1",
                          "2025-26-Q4")])
    out = goal_attainment(goals, config, term=term, kpi_table=kpi([("P01", term, "attendance_rate", value)]))
    r = out.iloc[0]
    assert r.attainment == pytest.approx(attainment)
    assert r.expected == pytest.approx(expected)
    assert r.status == status and r.source == "kpi" and r.latest_value == value


def test_lower_is_better_goal(config):
    # chronic absence 16% -> 12%: falling to 13% is (0.13 - 0.16) / (0.12 - 0.16) = 0.75 of the way
    goals = goals_frame([("G1", "P01", "absence", "chronic_absence", None, 0.16, 0.12, "2025-26-Q1", "2025-26-Q3")])
    out = goal_attainment(goals, config, term="2025-26-Q2",
                          kpi_table=kpi([("P01", "2025-26-Q2", "chronic_absence", 0.13)]))
    assert out["attainment"].iloc[0] == pytest.approx(0.75)
    assert out["expected"].iloc[0] == pytest.approx(0.5)
    assert out["status"].iloc[0] == "on_track"


def test_past_due_unmet_goal_is_off_track_and_latest_value_is_used(config):
    goals = goals_frame([("G1", "P01", "wbl", "wbl_hours", "participants", 10.0, 20.0, "2025-26-Q1", "2025-26-Q2")])
    table = kpi([("P01", "2025-26-Q1", "wbl_hours", 30.0),   # older value met it
                 ("P01", "2025-26-Q2", "wbl_hours", 18.0),   # latest one not: the latest counts
                 ("P01", "2025-26-Q4", "wbl_hours", 99.0)])  # after the judged term: ignored
    out = goal_attainment(goals, config, term="2025-26-Q3", kpi_table=table).iloc[0]
    assert out.latest_term == "2025-26-Q2" and out.latest_value == 18.0
    assert out.attainment == pytest.approx(0.8) and out.status == "off_track"


def test_compare_table_population_and_suppressed_values(config):
    """The KPI engine's comparison table: mean_t for participants, mean_c for comparison; NaN = suppressed."""
    compare = pd.DataFrame({
        "partner_id": ["P01"] * 4, "program_id": ["all", "all", "P01-A", "all"],
        "term": ["2025-26-Q1", "2025-26-Q2", "2025-26-Q2", "2025-26-Q2"],
        "kpi_id": ["gpa"] * 4, "subgroup": ["all", "all", "all", "frl"], "subgroup_value": ["", "", "", "true"],
        "mean_t": [2.8, np.nan, 3.9, 3.9], "mean_c": [2.7, 2.75, 2.0, 2.0], "mean_all": [2.72, 2.76, 2.5, 2.5]})
    vals = kpi_values(compare)
    assert set(vals["population"]) == {"participants", "comparison", "all"}
    goals = goals_frame([
        ("G1", "P01", "gpa of participants", "gpa", "participants", 2.6, 3.0, "2025-26-Q1", "2025-26-Q4"),
        ("G2", "P01", "gpa of comparison", "gpa", "comparison", 2.5, 3.0, "2025-26-Q1", "2025-26-Q4"),
    ])
    out = goal_attainment(goals, config, term="2025-26-Q2", kpi_table=compare).set_index("goal_id")
    # participants' Q2 value is suppressed (NaN) -> the Q1 value (2.8) is the latest; program/subgroup rows ignored
    assert out.loc["G1", "latest_term"] == "2025-26-Q1" and out.loc["G1", "latest_value"] == 2.8
    assert out.loc["G1", "attainment"] == pytest.approx(0.5)
    assert out.loc["G2", "latest_value"] == 2.75 and out.loc["G2", "attainment"] == pytest.approx(0.5)


def test_free_form_and_missing_kpi_fall_back_to_latest_checkin(config, tmp_path):
    store = Store(tmp_path / "r.sqlite")
    ctx = RecordsContext.build(config, ["P01"])
    g1 = add_goal(store, ctx, partner_id="P01", description="Quarterly data sharing", due_term="2025-26-Q4",
                  entered_by="Ana")
    g2 = add_goal(store, ctx, partner_id="P01", description="Attendance", kpi_id="attendance_rate", baseline=0.9,
                  target=0.95, start_term="2025-26-Q1", due_term="2025-26-Q4", entered_by="Ana")
    g3 = add_goal(store, ctx, partner_id="P01", description="Never reviewed", due_term="2025-26-Q4",
                  entered_by="Ana")
    assert (g1, g2, g3) == ("P01-G1", "P01-G2", "P01-G3")
    add_checkin(store, ctx, partner_id="P01", term="2025-26-Q1", date="2025-09-10", entered_by="Ana",
                goal_reviews=[{"goal_id": g1, "status": "on_track"}, {"goal_id": g2, "status": "met"}])
    add_checkin(store, ctx, partner_id="P01", term="2025-26-Q2", date="2025-11-10", entered_by="Ana",
                goal_reviews=[{"goal_id": g1, "status": "at_risk"}])
    add_checkin(store, ctx, partner_id="P01", term="2025-26-Q3", date="2026-02-10", entered_by="Ana",
                goal_reviews=[{"goal_id": g1, "status": "off_track"}])
    from partner_analysis.records import read_checkin_tables
    tabs = read_checkin_tables(store)
    goals = read_goals(store)
    out = goal_attainment(goals, config, term="2025-26-Q2", kpi_table=kpi([("P01", "2025-26-Q2", "gpa", 3.0)]),
                          reviews=tabs["goal_reviews"], checkins=tabs["checkins"]).set_index("goal_id")
    assert out.loc[g1, "status"] == "at_risk" and out.loc[g1, "source"] == "checkin"  # Q3 review is later: ignored
    assert out.loc[g2, "status"] == "met" and out.loc[g2, "source"] == "checkin"  # no attendance value -> review
    assert np.isnan(out.loc[g2, "attainment"])
    assert out.loc[g3, "status"] == "no_data" and out.loc[g3, "source"] == "none"
    store.close()


def test_default_start_term_is_the_term_of_entry(config, tmp_path):
    store = Store(tmp_path / "r.sqlite")
    ctx = RecordsContext.build(config, ["P01"])
    add_goal(store, ctx, partner_id="P01", description="x", kpi_id="gpa", baseline=2.5, target=3.0,
             due_term="2025-26-Q4", entered_by="Ana", entered_at=dt.datetime(2025, 11, 3, 10, 0))
    assert read_goals(store)["start_term"].iloc[0] == "2025-26-Q2"
    store.close()


# -- goal checks of the API (shared by the goal form and the CSV import) ---------------------------------

GOAL = dict(partner_id="P01", description="Attendance up", kpi_id="attendance_rate", baseline=0.9, target=0.95,
            start_term="2025-26-Q1", due_term="2025-26-Q4", entered_by="Ana", owner="Raj")


@pytest.mark.parametrize("change, column, text", [
    pytest.param(dict(start_term="2025-26-Q3", due_term="2025-26-Q2"), "due_term", "before the start term",
                 id="due-before-start"),
    pytest.param(dict(kpi_id="attendence_rate"), "kpi_id", "unknown KPI 'attendence_rate'", id="unknown-kpi"),
    pytest.param(dict(target=95), "target", "between 0 and 1, found 95", id="percent-given-for-proportion"),
    pytest.param(dict(kpi_id="wbl_hours", baseline=10, target=-2), "target", "cannot be negative",
                 id="negative-hours"),
    pytest.param(dict(population="subgroup:"), "population", "subgroup has no name", id="unnamed-subgroup"),
    pytest.param(dict(population="subgroup:" + "x" * 30), "population", "longer than 23", id="long-subgroup"),
])
def test_add_goal_refuses(config, tmp_path, change, column, text):
    from partner_analysis.exceptions import InputDataError
    store = Store(tmp_path / "r.sqlite")
    ctx = RecordsContext.build(config, ["P01"])
    with pytest.raises(InputDataError) as err:
        add_goal(store, ctx, **dict(GOAL, **change))
    assert err.value.column == column and text in str(err.value), str(err.value)
    assert err.value.fix  # every refusal says how to fix it
    assert read_goals(store).empty
    store.close()


def test_owner_and_subgroup_stored_and_exported(config, tmp_path):
    from partner_analysis.records.csvio import export_records, import_records
    store = Store(tmp_path / "r.sqlite")
    ctx = RecordsContext.build(config, ["P01"])
    gid = add_goal(store, ctx, **dict(GOAL, population="subgroup:English learners"))
    free = add_goal(store, ctx, partner_id="P01", description="No owner via the API", due_term="2025-26-Q4",
                    entered_by="Ana")
    got = read_goals(store).set_index("goal_id")
    assert got.loc[gid, "owner"] == "Raj" and got.loc[gid, "population"] == "subgroup:English learners"
    assert pd.isna(got.loc[free, "owner"])
    written = export_records(store, tmp_path / "out")
    csv = pd.read_csv(written["goals"], dtype=str, keep_default_na=False)
    assert csv.set_index("goal_id").loc[gid, "owner"] == "Raj"
    again = Store(tmp_path / "r2.sqlite")
    import_records(tmp_path / "out", again, config, partners=["P01"])
    back = read_goals(again).set_index("goal_id")
    assert back.loc[gid, "owner"] == "Raj" and back.loc[gid, "population"] == "subgroup:English learners"
    store.close()
    again.close()
