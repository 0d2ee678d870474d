"""Records widget forms driven through their widgets and controller into the store, and read back."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from partner_analysis.records import RecordsContext, add_goal, read_checkin_tables, read_investments
from partner_analysis.records.forms import (checkin_controller, checkin_form, investment_controller,
                                            investment_form, load_draft)

D = dt.date


@pytest.fixture
def ctx(config):
    return RecordsContext.build(config, ["P01", "P02"])


def test_investment_form_widgets_into_store(store, ctx):
    saved = []
    form = investment_form(store, ctx, entered_by="Ana Ruiz", on_saved=saved.append)
    w = form.inputs
    assert w["entered_by"].value == "Ana Ruiz"
    w["partner_id"].value = "P02"
    w["term"].value = "2025-26-Q1"
    w["party"].value = "partner"
    w["category"].value = "staff_fte"
    w["amount"].value = "0.5"
    assert not form.controller.is_visible("role")
    w["unit"].value = "fte"
    assert form.controller.is_visible("role")  # staff time needs a role
    w["role"].value = "engineer"
    w["description"].value = "Half-time engineer mentor"
    form.submit_button.click()
    assert "submitted" in form.status.value
    got = read_investments(store)
    assert len(got) == 1 and saved == [int(got["entry_id"].iloc[0])]
    row = got.iloc[0]
    assert (row.partner_id, row.term, row.party, row.category, row.amount, row.unit, row.role, row.entered_by) == \
        ("P02", "2025-26-Q1", "partner", "staff_fte", 0.5, "fte", "engineer", "Ana Ruiz")
    assert load_draft(store, "investment", entered_by="Ana Ruiz") == {}  # draft gone after submit


def test_investment_form_refuses_bad_entry_and_keeps_draft(store, ctx):
    c = investment_controller(store, ctx, entered_by="Bo")
    for name, value in [("partner_id", "P01"), ("term", "2025-26-Q1"), ("party", "district"),
                        ("category", "funding"), ("amount", "1200")]:
        assert c.set(name, value) is None
    assert c.set("amount", "-3") == "The amount must not be negative."
    assert "must not be negative" in dict(c.errors())["amount"]
    c.set("amount", "1200")
    c.set("unit", "hours")  # funding is money, not hours
    assert "Funding in USD" in dict(c.errors())["unit"]
    assert c.submit()  # refused
    assert read_investments(store).empty
    # a reloaded page resumes from the autosaved draft
    again = investment_controller(store, ctx, entered_by="Bo")
    assert again.answers["category"] == "funding" and again.answers["amount"] == 1200.0
    again.set("unit", "USD")
    assert again.submit() == []
    assert read_investments(store)["amount"].tolist() == [1200.0]


def test_checkin_form_widgets_into_store(store, ctx):
    g1 = add_goal(store, ctx, partner_id="P01", description="Share data", due_term="2025-26-Q4", entered_by="Ana")
    g2 = add_goal(store, ctx, partner_id="P01", description="Attendance", kpi_id="attendance_rate", baseline=0.9,
                  target=0.95, due_term="2025-26-Q4", entered_by="Ana")
    saved = []
    form = checkin_form(store, ctx, partner_id="P01", entered_by="Ana", on_saved=saved.append)
    w, c = form.inputs, form.controller
    w["date"].value = D(2025, 11, 12)
    w["term"].value = "2025-26-Q2"
    assert not c.is_visible("attendee_2_name")
    w["attendee_1_name"].value = "Ana"
    w["attendee_1_side"].value = "district"
    w["attendee_1_role"].value = "coordinator"
    assert c.is_visible("attendee_2_name")
    w["attendee_2_name"].value = "Raj"
    w["attendee_2_side"].value = "partner"
    w[f"goal_{g1}_status"].value = "at_risk"
    w[f"goal_{g1}_note"].value = "late data"
    w["challenges"].value = "Bus schedule"
    w["action_1_description"].value = "Send roster"
    form.submit_button.click()  # action without owner: refused
    assert "Not submitted" in form.status.value and "owner" in form.status.value
    assert "Every action item needs an owner." in form.errors["action_1_owner"].value
    w["action_1_owner"].value = "Ana"
    w["action_1_side"].value = "district"
    w["action_1_due_date"].value = D(2025, 12, 1)
    form.submit_button.click()
    assert "submitted" in form.status.value and saved == ["P01-2025-11-12"]
    tabs = read_checkin_tables(store, partner_id="P01")
    chk = tabs["checkins"].iloc[0]
    assert (chk.term, chk.date, chk.challenges, chk.entered_by) == ("2025-26-Q2", D(2025, 11, 12), "Bus schedule",
                                                                    "Ana")
    assert tabs["attendees"][["name", "side", "role"]].values.tolist() == [["Ana", "district", "coordinator"],
                                                                          ["Raj", "partner", ""]]
    assert tabs["goal_reviews"][["goal_id", "status", "note"]].values.tolist() == [[g1, "at_risk", "late data"]]
    assert g2 not in set(tabs["goal_reviews"]["goal_id"])  # not discussed: no review
    act = tabs["action_items"].iloc[0]
    assert (act.description, act.owner, act.side, act.due_date, act.done) == ("Send roster", "Ana", "district",
                                                                              D(2025, 12, 1), False)


def test_checkin_date_outside_term_is_shown_on_the_date_field(store, ctx):
    c = checkin_controller(store, ctx, partner_id="P01", entered_by="Ana")
    c.set("date", "2025-11-12")
    c.set("term", "2025-26-Q1")
    c.set("attendee_1_name", "Ana")
    c.set("attendee_1_side", "district")
    problems = dict(c.submit())
    assert "outside term 2025-26-Q1" in problems["date"] and "falls in 2025-26-Q2" in problems["date"]
    assert read_checkin_tables(store)["checkins"].empty


# -- goal form ------------------------------------------------------------------------------------------

def test_goal_form_widgets_into_store_percent_stored_as_proportion(store, ctx):
    from partner_analysis.records import read_goals
    from partner_analysis.records.forms import goal_form
    saved = []
    form = goal_form(store, ctx, entered_by="Ana", on_saved=saved.append)
    w, c = form.inputs, form.controller
    w["partner_id"].value = "P02"
    w["description"].value = "Raise attendance of English learners"
    assert not c.is_visible("baseline")                       # free-form until a KPI is chosen
    w["kpi_id"].value = "attendance_rate"
    assert c.is_visible("baseline") and c.is_visible("population") and not c.is_visible("subgroup")
    w["population"].value = "subgroup"
    w["subgroup"].value = "English learners"
    w["baseline"].value = "91"
    w["target"].value = "94.5"
    w["start_term"].value = "2025-26-Q2"
    w["due_term"].value = "2025-26-Q4"
    w["owner"].value = "Raj Patel"
    form.submit_button.click()
    assert "submitted" in form.status.value, form.status.value
    got = read_goals(store, partner_id="P02")
    assert saved == ["P02-G1"] and got["goal_id"].tolist() == ["P02-G1"]
    g = got.iloc[0]
    assert (g.kpi_id, g.population, g.start_term, g.due_term, g.owner, g.entered_by) == (
        "attendance_rate", "subgroup:English learners", "2025-26-Q2", "2025-26-Q4", "Raj Patel", "Ana")
    assert g.baseline == pytest.approx(0.91) and g.target == pytest.approx(0.945)   # percent -> proportion
    assert load_draft(store, "goal", entered_by="Ana") == {}


def test_goal_form_free_form_and_units_kept_for_non_proportions(store, ctx):
    from partner_analysis.records import read_goals
    from partner_analysis.records.forms import FREE_FORM, goal_controller
    c = goal_controller(store, ctx, entered_by="Bo", partner_id="P01")
    for name, value in [("description", "Share the roster every term"), ("kpi_id", FREE_FORM),
                        ("start_term", "2025-26-Q1"), ("due_term", "2025-26-Q3"), ("owner", "Bo")]:
        assert c.set(name, value) is None
    assert c.submit() == []
    c2 = goal_controller(store, ctx, entered_by="Bo", partner_id="P01")
    for name, value in [("description", "GPA up"), ("kpi_id", "gpa"), ("population", "all"), ("baseline", "2.6"),
                        ("target", "2.9"), ("start_term", "2025-26-Q1"), ("due_term", "2025-26-Q4"),
                        ("owner", "Bo")]:
        assert c2.set(name, value) is None
    assert c2.submit() == []
    got = read_goals(store, partner_id="P01").set_index("goal_id")
    assert pd.isna(got.loc["P01-G1", "kpi_id"]) and pd.isna(got.loc["P01-G1", "baseline"])
    assert (got.loc["P01-G2", "population"], got.loc["P01-G2", "baseline"], got.loc["P01-G2", "target"]) == (
        "all", 2.6, 2.9)                                        # points are not rescaled


def _goal_ctrl(store, ctx, **answers):
    from partner_analysis.records.forms import goal_controller
    c = goal_controller(store, ctx, entered_by="Cy", partner_id="P01")
    base = {"description": "Attendance up", "kpi_id": "attendance_rate", "population": "participants",
            "baseline": "90", "target": "95", "start_term": "2025-26-Q1", "due_term": "2025-26-Q4", "owner": "Cy"}
    base.update(answers)
    for name, value in base.items():
        if value is not None:
            c.set(name, value)
    return c


@pytest.mark.parametrize("answers, field, text", [
    pytest.param({"start_term": "2025-26-Q3", "due_term": "2025-26-Q2"}, "due_term",
                 "must not be before the start term (2025-26-Q3)", id="due-before-start"),
    pytest.param({"target": "120"}, "target", "percent between 0 and 100", id="percent-over-100"),
    pytest.param({"baseline": "-5"}, "baseline", "percent between 0 and 100", id="negative-percent"),
    pytest.param({"kpi_id": "credits_earned", "baseline": "1", "target": "-1"}, "target", "zero or more credits",
                 id="negative-credits"),
    pytest.param({"target": "90"}, "target", "differs from the baseline", id="target-equals-baseline"),
    pytest.param({"owner": None}, "owner", "Every goal needs an owner.", id="missing-owner"),
    pytest.param({"population": "subgroup"}, "subgroup", "required", id="subgroup-without-name"),
])
def test_goal_form_refuses_and_writes_nothing(store, ctx, answers, field, text):
    from partner_analysis.records import read_goals
    c = _goal_ctrl(store, ctx, **answers)
    problems = dict(c.submit())
    assert field in problems and text in problems[field], problems
    assert read_goals(store).empty


def test_goal_form_refuses_kpi_not_in_its_catalog(store, ctx):
    """A KPI missing from the catalog given to the form is not offered, and a draft naming it is refused."""
    from partner_analysis.kpi.catalog import load_catalog
    from partner_analysis.records import read_goals
    from partner_analysis.records.forms import goal_controller
    small = load_catalog().select(["gpa"])
    c = goal_controller(store, ctx, entered_by="Cy", partner_id="P01", catalog=small)
    assert [v for v, _ in c.field("kpi_id").choices] == ["free_form", "gpa"]
    assert c.set("kpi_id", "attendance_rate") is not None        # not a choice of this form
    assert c.answers.get("kpi_id") is None
    assert read_goals(store).empty


def test_session_goal_form_and_notebook_cell(store, ctx, tmp_path):
    import json
    from pathlib import Path

    from partner_analysis.records.session import RecordsSession
    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "partnership_records.ipynb").read_text())
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "records.goal_form().widget" in sources
    r = RecordsSession(store=store, config=ctx.config, ctx=ctx, term="2025-26-Q2", as_of=D(2025, 11, 1),
                       partners=["P01", "P02"])
    form = r.goal_form(entered_by="Ana")
    assert form.controller.fields[0].name == "partner_id" and "owner" in form.inputs
