"""Demo records, the report-bundle summary and the notebook run top to bottom."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from partner_analysis.data.dataset import read_dataset
from partner_analysis.records import (checkin_status, goals_at_risk, investment_balance, read_checkin_tables,
                                      read_goals, read_investments, summary_for_bundle)
from partner_analysis.records.demo import write_demo_records
from partner_analysis.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    from partner_analysis.data.synth import make_demo_district
    out = tmp_path_factory.mktemp("records_demo") / "district"
    make_demo_district(out, students=400, partners=8, seed=11)
    return out


@pytest.fixture
def store(district):
    s = Store(district / "records" / "records.sqlite")
    yield s
    s.close()


def test_demo_ledgers_one_partner_clearly_one_sided(district, store):
    cfg = read_dataset(district).config
    bal = investment_balance(read_investments(store), cfg)
    current = bal[bal["term"] == "2025-26-Q2"].set_index("partner_id")
    assert current.loc["P05", "balance_band"] == "one-sided" and current.loc["P05", "partner_share"] < 0.1
    others = current.drop(index="P05")
    assert set(others["balance_band"]) <= {"balanced", "leaning"}
    assert (bal[bal["partner_id"] == "P05"]["balance_band"].isin(["one-sided", "no data"])).all()


def test_demo_checkins_one_missing_quarter_and_goals(district, store):
    cfg = read_dataset(district).config
    tabs = read_checkin_tables(store)
    status = checkin_status(tabs["checkins"], cfg, as_of=dt.date(2026, 1, 16),
                            terms=["2025-26-Q1", "2025-26-Q2"])
    assert status[status["status"] == "overdue"][["partner_id", "term"]].values.tolist() == [["P03", "2025-26-Q1"]]
    goals = read_goals(store)
    assert goals.groupby("partner_id").size().eq(2).all()
    assert goals["kpi_id"].notna().sum() == 8
    flagged = goals_at_risk(tabs["goal_reviews"], tabs["checkins"], cfg)
    assert "P02-G2" in set(flagged["goal_id"])
    assert not tabs["attendees"]["name"].str.fullmatch(r"\d{6}").any()  # staff names only, no student ids


def test_demo_records_are_seeded(district, tmp_path):
    ds = read_dataset(district)
    a, b = Store(tmp_path / "a.sqlite"), Store(tmp_path / "b.sqlite")
    write_demo_records(a, ds, seed=3)
    write_demo_records(b, ds, seed=3)
    pd.testing.assert_frame_equal(read_investments(a).drop(columns="entered_at"),
                                  read_investments(b).drop(columns="entered_at"))
    a.close(), b.close()


def test_summary_for_bundle_contract(district, store):
    cfg = read_dataset(district).config
    kpi = pd.DataFrame({"partner_id": ["P01"] * 2, "program_id": ["all"] * 2, "term": ["2025-26-Q2"] * 2,
                        "kpi_id": ["wbl_hours", "credits_earned"], "subgroup": ["all"] * 2, "n_t": [20, 20],
                        "mean_t": [14.0, 1.5], "mean_c": [0.0, 1.4], "mean_all": [3.0, 1.42]})
    out = summary_for_bundle(store, cfg, term="2025-26-Q2", partner_id="P01", kpi_table=kpi)
    for key, cols in {
        "investment_balance": ["term", "district_value", "partner_value", "total_value", "partner_share",
                               "balance_band"],
        "investment_by_category": ["term", "party", "category", "value"],
        "checkin_status": ["term", "held", "n_checkins", "last_date", "status"],
        "open_actions": ["description", "owner", "due_date", "past_due"],
        "goals": ["goal_id", "description", "kpi_id", "baseline", "target", "due_term", "latest_value", "attainment"],
    }.items():
        assert set(cols) <= set(out[key].columns), key
    assert out["investment_balance"]["term"].iloc[-1] == "2025-26-Q2"
    g1 = out["goals"].set_index("goal_id").loc["P01-G1"]
    assert g1.source == "kpi" and g1.latest_value == 14.0
    per = out["investment_per_outcome"].iloc[0]
    assert per.participants == 20 and per.value_per_student == pytest.approx(per.total_value / 20)
    empty = summary_for_bundle(store, cfg, term="2025-26-Q2", partner_id="P99")
    assert empty["investment_balance"].empty


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(district, tmp_path):
    import papermill as pm
    out = tmp_path / "partnership_records.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "partnership_records.ipynb"), str(out),
                        parameters={"db": "", "data_dir": str(district)}, kernel_name="python3",
                        progress_bar=False, cwd=str(tmp_path))
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    alts = [o["metadata"]["image/png"]["alt"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(alts) == 2 and all(len(a) > 40 for a in alts)
    assert any("P05" in "".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    # the investment, check-in and goal forms
    assert sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs) == 3


def test_notebook_session_on_a_district_without_records(district, tmp_path):
    import shutil

    from partner_analysis.records.session import open_records
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("district.yml", "partners.parquet"):
        shutil.copy(district / name, empty / name)
    r = open_records("", str(empty), term="2025-26-Q2", as_of="2026-02-01")
    assert r.as_of == dt.date(2026, 1, 16)  # capped at the term's last day
    assert (r.balance_this_term()["balance_band"] == "no data").all()
    assert "No investment entries" in r.category_chart().alt
    status = r.checkin_status().set_index(["partner_id", "term"])["status"]
    assert status[("P01", "2025-26-Q1")] == "overdue" and status[("P01", "2025-26-Q2")] == "due"  # last day
    assert r.open_actions().empty and r.goals().empty
    assert r.checkin_form().controller.fields[0].name == "date"
    r.store.close()
