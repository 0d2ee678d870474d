"""Check-ins: writing and reading, overdue check-ins, past-due actions, goals at risk two terms running."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from partner_analysis.exceptions import InputDataError
from partner_analysis.records import (RecordsContext, add_checkin, add_goal, checkin_compliance, checkin_status,
                                      goals_at_risk, open_actions, read_checkin_tables, set_action_done)

D = dt.date


@pytest.fixture
def ctx(config):
    return RecordsContext.build(config, ["P01", "P02", "P03"])


def checkins_frame(rows):
    return pd.DataFrame(rows, columns=["checkin_id", "partner_id", "term", "date"])


# -- overdue (dated fixtures) -----------------------------------------------------------------------
# terms: 2025-26-Q1 Aug 18 - Oct 24 2025, Q2 Oct 27 2025 - Jan 16 2026, Q3 Jan 20 - Mar 27 2026

@pytest.fixture
def dated():
    return checkins_frame([
        ("a", "P01", "2025-26-Q1", D(2025, 9, 30)),
        ("b", "P01", "2025-26-Q2", D(2025, 12, 1)),
        ("c", "P02", "2025-26-Q2", D(2025, 11, 5)),
        ("d", "P02", "2025-26-Q2", D(2026, 1, 10)),
    ])


@pytest.mark.parametrize("as_of, partner, term, status", [
    pytest.param(D(2025, 10, 24), "P02", "2025-26-Q1", "due", id="last-day-of-term-still-due"),
    pytest.param(D(2025, 10, 25), "P02", "2025-26-Q1", "overdue", id="day-after-term-overdue"),
    pytest.param(D(2025, 10, 25), "P01", "2025-26-Q1", "held", id="held"),
    pytest.param(D(2025, 11, 1), "P02", "2025-26-Q2", "due", id="term-running-no-checkin-yet"),
    pytest.param(D(2025, 11, 4), "P02", "2025-26-Q3", "upcoming", id="future-term"),
    pytest.param(D(2025, 11, 30), "P01", "2025-26-Q2", "due", id="checkin-after-as-of-is-ignored"),
    pytest.param(D(2026, 2, 1), "P03", "2025-26-Q2", "overdue", id="partner-with-no-checkins"),
])
def test_checkin_status_on_dated_fixtures(dated, config, as_of, partner, term, status):
    out = checkin_status(dated, config, as_of=as_of, partners=["P01", "P02", "P03"],
                         terms=["2025-26-Q1", "2025-26-Q2", "2025-26-Q3"])
    row = out[(out["partner_id"] == partner) & (out["term"] == term)].iloc[0]
    assert row.status == status
    assert row.held == (status == "held")


def test_checkin_status_counts_and_compliance(dated, config):
    out = checkin_status(dated, config, as_of=D(2026, 2, 1), partners=["P01", "P02", "P03"],
                         terms=["2025-26-Q1", "2025-26-Q2", "2025-26-Q3"])
    r = out.set_index(["partner_id", "term"])
    assert r.loc[("P02", "2025-26-Q2"), "n_checkins"] == 2
    assert r.loc[("P02", "2025-26-Q2"), "last_date"] == D(2026, 1, 10)
    assert r.loc[("P01", "2025-26-Q3"), "status"] == "due"
    comp = checkin_compliance(out).set_index("partner_id")
    # P01 held Q1, Q2 (Q3 running, not counted): 2/2; P02 missed Q1, held Q2: 1/2; P03: 0/2
    assert comp.loc["P01", "compliance"] == 1.0
    assert comp.loc["P02", "compliance"] == 0.5 and comp.loc["P02", "terms_overdue"] == 1
    assert comp.loc["P03", "compliance"] == 0.0


def test_default_terms_are_those_started_by_as_of(dated, config):
    out = checkin_status(dated, config, as_of=D(2025, 11, 1))
    assert out["term"].iloc[-1] == "2025-26-Q2"
    assert set(out["partner_id"]) == {"P01", "P02"}


# -- past-due actions --------------------------------------------------------------------------------

def test_open_actions_past_due(config):
    chk = checkins_frame([("a", "P01", "2025-26-Q1", D(2025, 9, 30)), ("b", "P02", "2025-26-Q2", D(2025, 11, 5))])
    actions = pd.DataFrame({
        "action_id": [1, 2, 3, 4], "checkin_id": ["a", "a", "b", "b"],
        "description": ["send roster", "book room", "share data", "done one"], "owner": ["Ana", "Ben", "Cy", "Di"],
        "side": ["district", "partner", "partner", "district"],
        "due_date": [D(2025, 10, 15), D(2025, 12, 1), D(2025, 11, 20), D(2025, 11, 1)],
        "done": [False, False, False, True], "done_date": [None, None, None, D(2025, 10, 30)]})
    out = open_actions(actions, chk, as_of=D(2025, 11, 20)).set_index("action_id")
    assert 4 not in out.index  # done
    assert out.loc[1, "past_due"] and out.loc[1, "days_past_due"] == 36
    assert not out.loc[2, "past_due"] and out.loc[2, "days_past_due"] == 0
    assert not out.loc[3, "past_due"]  # due today is not past due
    assert list(out.index) == [1, 3, 2]  # most overdue first, then by due date
    assert out.loc[3, "partner_id"] == "P02"
    only = open_actions(actions, chk, as_of=D(2025, 11, 21), partner_id="P02")
    assert list(only["action_id"]) == [3] and bool(only["past_due"].iloc[0])


# -- goals at risk two terms in a row ------------------------------------------------------------------

def test_goals_at_risk_two_terms_in_a_row(config):
    chk = checkins_frame([
        ("c1", "P01", "2025-26-Q1", D(2025, 9, 1)), ("c1b", "P01", "2025-26-Q1", D(2025, 10, 1)),
        ("c2", "P01", "2025-26-Q2", D(2025, 11, 1)), ("c3", "P01", "2025-26-Q3", D(2026, 2, 1)),
        ("x1", "P02", "2024-25-Q4", D(2025, 5, 1)), ("x2", "P02", "2025-26-Q2", D(2025, 11, 2)),
    ])
    reviews = pd.DataFrame([
        ("c1", "G1", "at_risk"), ("c1b", "G1", "on_track"),  # Q1 ends on track (last check-in of the term counts)
        ("c2", "G1", "at_risk"), ("c3", "G1", "off_track"),  # Q2 at risk, Q3 off track -> flagged at Q3
        ("c1", "G2", "at_risk"), ("c1b", "G2", "at_risk"), ("c2", "G2", "on_track"),  # one term only
        ("x1", "G3", "at_risk"), ("x2", "G3", "at_risk"),  # Q4 then Q2 with no review in Q1: not consecutive
    ], columns=["checkin_id", "goal_id", "status"]).assign(note="")
    out = goals_at_risk(reviews, chk, config)
    assert out[["goal_id", "previous_term", "term"]].values.tolist() == [["G1", "2025-26-Q2", "2025-26-Q3"]]
    assert out["status"].iloc[0] == "off_track"


# -- store round trip ---------------------------------------------------------------------------------

def test_add_checkin_writes_children_in_one_transaction(store, ctx):
    gid = add_goal(store, ctx, partner_id="P01", description="Share data every quarter", due_term="2025-26-Q4",
                   entered_by="Ana")
    cid = add_checkin(store, ctx, partner_id="P01", term="2025-26-Q2", date="2025-11-05", entered_by="Ana",
                      data_shared="attendance summary", challenges="bus schedule", adjustments="Thursdays",
                      attendees=[{"name": "Ana", "side": "district", "role": "coordinator"},
                                 {"name": "Raj", "side": "partner", "role": "engineer"}],
                      goal_reviews=[{"goal_id": gid, "status": "On track", "note": "fine"}],
                      action_items=[{"description": "Send roster", "owner": "Ana", "side": "district",
                                     "due_date": "2025-11-20"}])
    assert cid == "P01-2025-11-05"
    again = add_checkin(store, ctx, partner_id="P01", term="2025-26-Q2", date="2025-11-05", entered_by="Ana")
    assert again == "P01-2025-11-05-2"
    tabs = read_checkin_tables(store, partner_id="P01")
    assert len(tabs["checkins"]) == 2
    assert tabs["attendees"]["name"].tolist() == ["Ana", "Raj"]
    assert tabs["goal_reviews"]["status"].tolist() == ["on_track"]
    act = tabs["action_items"].iloc[0]
    assert act.owner == "Ana" and act.due_date == D(2025, 11, 20) and not act.done
    set_action_done(store, int(act.action_id), done_date=D(2025, 11, 18))
    tabs = read_checkin_tables(store)
    assert tabs["action_items"]["done"].tolist() == [True]
    assert open_actions(tabs["action_items"], tabs["checkins"], as_of=D(2025, 12, 1)).empty


def test_bad_child_rolls_back_everything(store, ctx):
    with pytest.raises(InputDataError) as info:
        add_checkin(store, ctx, partner_id="P01", term="2025-26-Q2", date="2025-11-05", entered_by="Ana",
                    attendees=[{"name": "Ana", "side": "district"}],
                    action_items=[{"description": "Send roster", "side": "district", "due_date": "2025-11-20"}])
    assert info.value.column == "action_items[1].owner"
    tabs = read_checkin_tables(store)
    assert tabs["checkins"].empty and tabs["attendees"].empty
