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


# -- corrections and the audit trail ------------------------------------------------------------------

@pytest.fixture
def two_checkins(store, ctx):
    a = add_checkin(store, ctx, partner_id="P01", term="2025-26-Q2", date="2025-11-12", entered_by="Ana",
                    challenges="Bus schedule", attendees=[{"name": "Ana", "side": "district"}],
                    action_items=[{"description": "Send roster", "owner": "Ana", "side": "district",
                                   "due_date": "2025-12-01"},
                                  {"description": "Book room", "owner": "Raj", "side": "partner",
                                   "due_date": "2025-12-05"}])
    b = add_checkin(store, ctx, partner_id="P02", term="2025-26-Q2", date="2025-11-20", entered_by="Bo",
                    challenges="None", attendees=[{"name": "Bo", "side": "district"}],
                    action_items=[{"description": "Call back", "owner": "Bo", "side": "district",
                                   "due_date": "2025-12-10"}])
    return a, b


def _actions(store, cid):
    acts = read_checkin_tables(store)["action_items"]
    return acts[acts["checkin_id"] == cid].set_index("description")


def test_correction_updates_fields_and_keeps_old_values_in_the_audit(store, ctx, two_checkins):
    from partner_analysis.records import correct_checkin, read_audit
    a, b = two_checkins
    before = read_checkin_tables(store)
    acts = _actions(store, a)
    roster, room = int(acts.loc["Send roster", "action_id"]), int(acts.loc["Book room", "action_id"])
    out = correct_checkin(store, a, {"challenges": "Bus schedule changed in December", "date": "2025-11-13",
                                     "data_shared": "",                       # unchanged: no audit row
                                     "action_items": {roster: {"done": True, "owner": "Raj Patel"},
                                                      room: {"due_date": "2025-12-19"}}},
                          editor="Kim", reason="typed from the wrong notes", ctx=ctx)
    chk = read_checkin_tables(store)["checkins"].set_index("checkin_id")
    assert chk.loc[a, "challenges"] == "Bus schedule changed in December" and chk.loc[a, "date"] == D(2025, 11, 13)
    acts = _actions(store, a)
    assert bool(acts.loc["Send roster", "done"]) and acts.loc["Send roster", "owner"] == "Raj Patel"
    assert acts.loc["Send roster", "done_date"] == dt.date.today()
    assert acts.loc["Book room", "due_date"] == D(2025, 12, 19) and not bool(acts.loc["Book room", "done"])
    audit = read_audit(store)
    got = {(r.table_name, r.record_id, r.field): (r.old_value, r.new_value) for r in audit.itertuples()}
    assert got == {
        ("records_checkins", a, "challenges"): ("Bus schedule", "Bus schedule changed in December"),
        ("records_checkins", a, "date"): ("2025-11-12", "2025-11-13"),
        ("records_action_items", str(roster), "done"): ("false", "true"),
        ("records_action_items", str(roster), "done_date"): ("", dt.date.today().isoformat()),
        ("records_action_items", str(roster), "owner"): ("Ana", "Raj Patel"),
        ("records_action_items", str(room), "due_date"): ("2025-12-05", "2025-12-19"),
    }
    assert set(audit["editor"]) == {"Kim"} and set(audit["reason"]) == {"typed from the wrong notes"}
    assert set(audit["partner_id"]) == {"P01"} and audit["changed_at"].notna().all()
    assert len(out) == len(audit)
    # the other check-in and its children are untouched
    after = read_checkin_tables(store)
    for key in ("checkins", "attendees", "action_items"):
        old = before[key][before[key]["checkin_id"] == b].reset_index(drop=True)
        new = after[key][after[key]["checkin_id"] == b].reset_index(drop=True)
        pd.testing.assert_frame_equal(old, new)
    assert read_audit(store, partner_id="P02").empty
    # an unchanged repeat writes nothing more
    again = correct_checkin(store, a, {"challenges": "Bus schedule changed in December"}, editor="Kim",
                            reason="again", ctx=ctx)
    assert again.empty and len(read_audit(store)) == len(audit)


@pytest.mark.parametrize("changes, kwargs, column, text", [
    pytest.param({"partner_id": "P02"}, {}, "partner_id", "fixed once stored", id="fixed-field"),
    pytest.param({"mood": "good"}, {}, "mood", "not a check-in field", id="unknown-field"),
    pytest.param({"challenges": "x"}, {"reason": "  "}, "reason", "no reason", id="empty-reason"),
    pytest.param({"challenges": "x"}, {"editor": ""}, "editor", "no editor", id="empty-editor"),
    pytest.param({}, {}, "changes", "no changes", id="no-changes"),
    pytest.param({"date": "2025-09-01"}, {}, "date", "outside term 2025-26-Q2", id="date-outside-term"),
    pytest.param({"term": "2031-Q9"}, {}, "term", "outside the configured terms", id="unknown-term"),
    pytest.param({"date": "12/11/2025"}, {}, "date", "expected a date as YYYY-MM-DD", id="bad-date"),
    pytest.param({"action_items": {"ROSTER": {"due_date": "2025-11-01"}}}, {}, "action_items[ROSTER].due_date",
                 "before the check-in", id="action-due-before-checkin"),
    pytest.param({"action_items": {"ROSTER": {"owner": " "}}}, {}, "action_items[ROSTER].owner", "no owner",
                 id="action-empty-owner"),
    pytest.param({"action_items": {"ROSTER": {"done": "maybe"}}}, {}, "action_items[ROSTER].done",
                 "expected true or false", id="action-done-not-boolean"),
    pytest.param({"action_items": {"ROSTER": {"description": "x"}}}, {}, "action_items[ROSTER].description",
                 "cannot be corrected", id="action-field-not-correctable"),
])
def test_correction_refusals_write_nothing(store, ctx, two_checkins, changes, kwargs, column, text):
    from partner_analysis.records import correct_checkin, read_audit
    a, _ = two_checkins
    roster = str(int(_actions(store, a).loc["Send roster", "action_id"]))
    fix = {k: v for k, v in changes.items() if k != "action_items"}
    if "action_items" in changes:
        fix["action_items"] = {int(roster): changes["action_items"]["ROSTER"]}
    column = column.replace("ROSTER", roster)
    before = read_checkin_tables(store)
    with pytest.raises(InputDataError) as err:
        correct_checkin(store, a, fix, ctx=ctx, **dict(dict(editor="Kim", reason="typo"), **kwargs))
    assert err.value.column == column and text in str(err.value), str(err.value)
    assert err.value.fix and err.value.row == a            # names the record and the fix
    after = read_checkin_tables(store)
    for key in ("checkins", "action_items"):
        pd.testing.assert_frame_equal(before[key], after[key])
    assert read_audit(store).empty


def test_correction_of_unknown_checkin_or_foreign_action_is_a_store_error(store, ctx, two_checkins):
    from partner_analysis.exceptions import StoreError
    from partner_analysis.records import correct_checkin, read_audit
    a, b = two_checkins
    with pytest.raises(StoreError, match="no check-in with checkin_id 'P09-2025-11-12'"):
        correct_checkin(store, "P09-2025-11-12", {"challenges": "x"}, editor="Kim", reason="typo", ctx=ctx)
    other = int(_actions(store, b).loc["Call back", "action_id"])
    with pytest.raises(StoreError, match=f"action item {other} is not an action item of check-in"):
        correct_checkin(store, a, {"challenges": "changed", "action_items": {other: {"done": True}}},
                        editor="Kim", reason="typo", ctx=ctx)
    assert read_checkin_tables(store)["checkins"].set_index("checkin_id").loc[a, "challenges"] == "Bus schedule"
    assert read_audit(store).empty


def test_export_holds_audit_csv(store, ctx, two_checkins, tmp_path):
    from partner_analysis.records import correct_checkin
    from partner_analysis.records.audit import AUDIT_COLUMNS
    from partner_analysis.records.csvio import export_records, import_records
    a, b = two_checkins
    correct_checkin(store, a, {"adjustments": "Meet monthly"}, editor="Kim", reason="left out", ctx=ctx)
    correct_checkin(store, b, {"challenges": "Staffing"}, editor="Lee", reason="typo", ctx=ctx)
    written = export_records(store, tmp_path / "all")
    audit = pd.read_csv(written["audit"], dtype=str, keep_default_na=False)
    assert written["audit"].name == "audit.csv" and tuple(audit.columns) == AUDIT_COLUMNS
    assert audit[["record_id", "field", "old_value", "new_value", "editor"]].values.tolist() == [
        [a, "adjustments", "", "Meet monthly", "Kim"], [b, "challenges", "None", "Staffing", "Lee"]]
    assert audit["changed_at"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$").all()
    one = pd.read_csv(export_records(store, tmp_path / "p02", partner_id="P02")["audit"], dtype=str)
    assert one["record_id"].tolist() == [b]
    # the export still imports into an empty store (audit.csv is not read), with the corrected values
    from partner_analysis.store import Store
    with Store(tmp_path / "again.sqlite") as again:
        import_records(tmp_path / "all", again, ctx.config, partners=["P01", "P02", "P03"])
        chk = read_checkin_tables(again)["checkins"].set_index("checkin_id")
        assert chk.loc[b, "challenges"] == "Staffing"
