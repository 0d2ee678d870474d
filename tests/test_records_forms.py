"""Records widget forms driven through their widgets and controller into the store, and read back."""
from __future__ import annotations

import datetime as dt

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
