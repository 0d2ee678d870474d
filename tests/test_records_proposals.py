"""Board concerns become proposed actions for the partner's next check-in: stored once, offered in the
check-in form, taken into the check-in on submit and never proposed again."""
from __future__ import annotations

import datetime as dt

import pytest

from partner_analysis.records import RecordsContext, read_checkin_tables
from partner_analysis.records.forms import checkin_controller
from partner_analysis.records.proposals import propose_actions, read_proposals

TERM = "2025-26-Q2"


@pytest.fixture
def ctx(config):
    return RecordsContext(config=config, partners=("P01", "P02"))


def _proposal(kpi="chronic_absence", pid="P01", text="Review chronically absent of participating students"):
    return {"key": f"board:{pid}:{TERM}:{kpi}", "partner_id": pid, "kpi_id": kpi, "term": TERM,
            "description": text, "reasons": "beyond the district's alert level"}


def test_proposals_are_stored_once_across_runs(store):
    assert propose_actions(store, [_proposal(), _proposal(kpi="gpa", text="Review GPA")]) == 2
    assert propose_actions(store, [_proposal(), _proposal(kpi="gpa", text="Review GPA")]) == 0  # a re-run
    assert propose_actions(store, [_proposal(pid="P02")]) == 1
    got = read_proposals(store, partner_id="P01")
    assert list(got) == [f"board:P01:{TERM}:chronic_absence", f"board:P01:{TERM}:gpa"]
    assert got[f"board:P01:{TERM}:gpa"]["description"] == "Review GPA"
    assert list(read_proposals(store, partner_id="P02")) == [f"board:P02:{TERM}:chronic_absence"]


def test_checkin_form_offers_proposals_and_settles_them(store, ctx):
    propose_actions(store, [_proposal()])
    c = checkin_controller(store, ctx, partner_id="P01", entered_by="Ana")
    assert c.answers["action_1_description"] == "Review chronically absent of participating students"
    c.set("date", dt.date(2025, 11, 12))
    c.set("term", TERM)
    c.set("attendee_1_name", "Ana")
    c.set("attendee_1_side", "district")
    c.set("action_1_owner", "Ana")
    c.set("action_1_side", "district")
    c.set("action_1_due_date", dt.date(2025, 12, 1))
    assert c.submit() in (None, [])
    acts = read_checkin_tables(store, partner_id="P01")["action_items"]
    assert acts["description"].tolist() == ["Review chronically absent of participating students"]
    assert read_proposals(store, partner_id="P01") == {}
    # the same concern in the next run is not proposed again: it was taken into a check-in
    assert propose_actions(store, [_proposal()]) == 0
    assert "action_1_description" not in checkin_controller(store, ctx, partner_id="P01", entered_by="Raj").answers
