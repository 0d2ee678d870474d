"""Bad input: every check names the file, row, column, value and the fix; a bad import writes nothing."""
from __future__ import annotations

import pickle

import pandas as pd
import pytest

from partner_analysis.exceptions import InputDataError
from partner_analysis.records import RecordsContext, add_checkin, add_goal, add_investment, read_investments
from partner_analysis.records.checkins import check_checkin
from partner_analysis.records.csvio import export_records, import_records
from partner_analysis.records.goals import check_goal, read_goals
from partner_analysis.records.investments import check_investment
from partner_analysis.store import Store

KPIS = {"attendance_rate", "gpa", "chronic_absence"}


@pytest.fixture
def ctx(config):
    return RecordsContext.build(config, ["P01", "P02"])


GOOD_INV = dict(partner_id="P01", term="2025-26-Q1", party="district", category="staff_hours", amount="12",
                unit="hours", role="teacher", description="planning", entered_by="Ana")
GOOD_CHK = dict(partner_id="P01", term="2025-26-Q1", date="2025-10-01", entered_by="Ana",
                attendees=[{"name": "Ana", "side": "district", "role": "coordinator"}],
                goal_reviews=[{"goal_id": "P01-G1", "status": "on_track"}],
                action_items=[{"description": "Send roster", "owner": "Ana", "side": "district",
                               "due_date": "2025-10-15"}])
GOOD_GOAL = dict(partner_id="P01", description="Attendance up", kpi_id="attendance_rate", baseline="0.9",
                 target="0.95", start_term="2025-26-Q1", due_term="2025-26-Q4", entered_by="Ana")


def _replace_child(rec, key, **change):
    out = dict(rec)
    out[key] = [dict(rec[key][0], **change)]
    return out


BAD = [
    # (kind, record, column, message fragment)
    pytest.param("inv", dict(GOOD_INV, partner_id="P99"), "partner_id", "unknown partner 'P99'", id="unknown-partner"),
    pytest.param("inv", dict(GOOD_INV, term="2031-32-Q1"), "term", "outside the configured terms", id="term-outside"),
    pytest.param("inv", dict(GOOD_INV, amount="-5"), "amount", "must not be negative", id="negative-amount"),
    pytest.param("inv", dict(GOOD_INV, amount="twelve"), "amount", "expected a number", id="amount-not-number"),
    pytest.param("inv", dict(GOOD_INV, unit="weeks"), "unit", "unknown unit 'weeks'", id="unknown-unit"),
    pytest.param("inv", dict(GOOD_INV, category="snacks"), "category", "unknown category 'snacks'",
                 id="unknown-category"),
    pytest.param("inv", dict(GOOD_INV, category="funding"), "unit", "does not fit category 'funding'",
                 id="unit-category-mismatch"),
    pytest.param("inv", dict(GOOD_INV, party="school"), "party", "unknown party 'school'", id="unknown-party"),
    pytest.param("inv", dict(GOOD_INV, role=None), "role", "needs a role", id="staff-time-without-role"),
    pytest.param("inv", dict(GOOD_INV, unit="fte", category="staff_fte", amount="40"), "amount", "implausible",
                 id="fte-typed-as-hours"),
    pytest.param("inv", dict(GOOD_INV, entered_by=""), "entered_by", "who entered it is required",
                 id="no-author"),
    pytest.param("chk", dict(GOOD_CHK, date="2025-08-10"), "date", "outside term 2025-26-Q1", id="date-outside-term"),
    pytest.param("chk", dict(GOOD_CHK, date="01/10/2025"), "date", "expected a date as YYYY-MM-DD",
                 id="date-format"),
    pytest.param("chk", _replace_child(GOOD_CHK, "action_items", owner=""), "action_items[1].owner",
                 "has no owner", id="action-without-owner"),
    pytest.param("chk", _replace_child(GOOD_CHK, "action_items", due_date="2025-09-01"), "action_items[1].due_date",
                 "before the check-in", id="action-due-before-checkin"),
    pytest.param("chk", _replace_child(GOOD_CHK, "goal_reviews", status="fine"), "goal_reviews[1].status",
                 "unknown goal status 'fine'", id="unknown-goal-status"),
    pytest.param("chk", _replace_child(GOOD_CHK, "goal_reviews", goal_id="P02-G9"), "goal_reviews[1].goal_id",
                 "unknown goal 'P02-G9'", id="review-of-unknown-goal"),
    pytest.param("chk", _replace_child(GOOD_CHK, "attendees", side="both"), "attendees[1].side",
                 "unknown side 'both'", id="attendee-side"),
    pytest.param("goal", dict(GOOD_GOAL, kpi_id="happiness"), "kpi_id", "unknown KPI 'happiness'", id="unknown-kpi"),
    pytest.param("goal", dict(GOOD_GOAL, target="0.9"), "target", "equals the baseline", id="target-equals-baseline"),
    pytest.param("goal", dict(GOOD_GOAL, due_term="2024-25-Q4"), "due_term", "before the start term",
                 id="due-before-start"),
    pytest.param("goal", dict(GOOD_GOAL, baseline=None), "baseline", "a number is required",
                 id="kpi-goal-without-baseline"),
]


def _check(kind, rec, ctx):
    if kind == "inv":
        return check_investment(rec, ctx)
    if kind == "chk":
        return check_checkin(rec, ctx, goal_ids=["P01-G1"])
    return check_goal(rec, ctx, kpi_ids=KPIS)


@pytest.mark.parametrize("kind, rec, column, fragment", BAD)
def test_bad_input_is_reported_with_column_and_fix(ctx, kind, rec, column, fragment):
    _, problems = _check(kind, rec, ctx)
    assert len(problems) == 1, problems
    p = problems[0]
    assert p.column == column
    assert fragment in p.problem
    assert p.fix  # every problem says what to do


@pytest.mark.parametrize("kind, rec", [pytest.param("inv", GOOD_INV, id="investment"),
                                       pytest.param("chk", GOOD_CHK, id="checkin"),
                                       pytest.param("goal", GOOD_GOAL, id="goal")])
def test_good_records_pass(ctx, kind, rec):
    assert _check(kind, rec, ctx)[1] == []


def test_api_checks_kpi_ids_against_the_installed_catalog(store, ctx):
    pytest.importorskip("partner_analysis.kpi.catalog")
    with pytest.raises(InputDataError, match="unknown KPI 'happiness'"):
        add_goal(store, ctx, **dict(GOOD_GOAL, kpi_id="happiness"))
    assert add_goal(store, ctx, **GOOD_GOAL) == "P01-G1"


def test_api_raises_all_problems_at_once_and_writes_nothing(store, ctx):
    with pytest.raises(InputDataError) as info:
        add_investment(store, ctx, **dict(GOOD_INV, partner_id="P99", amount="-1", unit="weeks"))
    err = info.value
    assert [e.column for e in err.errors] == ["partner_id", "unit", "amount"]
    assert "3 problems" in str(err) and "unknown partner 'P99'" in str(err)
    assert err.column == "partner_id" and err.value == "P99"
    assert pickle.loads(pickle.dumps(err)).errors[0].column == "partner_id"
    assert read_investments(store).empty


def test_store_partnerships_are_the_default_partner_list(store, config):
    from partner_analysis.records import records_context
    store.upsert_partnership("P07", "Library")
    ctx = records_context(store, config)
    assert ctx.partners == frozenset({"P07"})
    with pytest.raises(InputDataError, match="unknown partner 'P01'"):
        add_investment(store, ctx, **GOOD_INV)


# -- CSV import -------------------------------------------------------------------------------------

def _write(folder, name, rows):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / name, index=False)


def test_csv_import_collects_every_error_and_writes_nothing(tmp_path, store, config):
    folder = tmp_path / "in"
    _write(folder, "investments.csv", [
        dict(GOOD_INV),
        dict(GOOD_INV, partner_id="P99"),
        dict(GOOD_INV, amount="-3"),
    ])
    _write(folder, "goals.csv", [dict(GOOD_GOAL, goal_id="P01-G1")])
    _write(folder, "checkins.csv", [{k: v for k, v in GOOD_CHK.items() if not isinstance(v, list)}
                                    | {"checkin_id": "C1"}])
    _write(folder, "action_items.csv", [
        {"checkin_id": "C1", "description": "Send roster", "owner": "Ana", "side": "district",
         "due_date": "2025-10-15"},
        {"checkin_id": "C1", "description": "Book room", "owner": "", "side": "partner", "due_date": "2025-10-20"},
        {"checkin_id": "C9", "description": "Orphan", "owner": "Bo", "side": "partner", "due_date": "2025-10-20"},
    ])
    _write(folder, "checkin_goal_reviews.csv", [{"checkin_id": "C1", "goal_id": "P01-G1", "status": "at risk"}])
    with pytest.raises(InputDataError) as info:
        import_records(folder, store, config, partners=["P01", "P02"], kpi_ids=KPIS)
    got = [(e.path.split("/")[-1], e.row, e.column) for e in info.value.errors]
    assert got == [("investments.csv", 3, "partner_id"), ("investments.csv", 4, "amount"),
                   ("action_items.csv", 4, "checkin_id"), ("action_items.csv", 3, "owner")]
    assert "4 problems in the records import, nothing was saved" in str(info.value)
    assert read_investments(store).empty and read_goals(store).empty


def test_csv_header_problems(tmp_path, store, config):
    folder = tmp_path / "in"
    _write(folder, "investments.csv", [{"partner_id": "P01", "term": "2025-26-Q1", "ammount": "3"}])
    with pytest.raises(InputDataError) as info:
        import_records(folder, store, config, partners=["P01"])
    cols = {e.column for e in info.value.errors}
    assert {"party", "category", "amount", "entered_by", "ammount"} <= cols
    assert all(e.row == 1 for e in info.value.errors)


def test_csv_keeps_leading_zeros_and_rejects_reimport(tmp_path, store, config):
    folder = tmp_path / "in"
    _write(folder, "investments.csv", [dict(GOOD_INV, partner_id="007")])
    result = import_records(folder / "investments.csv", store, config, partners=["007"])
    assert result.counts["investments"] == 1
    assert read_investments(store)["partner_id"].tolist() == ["007"]
    with pytest.raises(InputDataError, match="already in the ledger"):
        import_records(folder / "investments.csv", store, config, partners=["007"])
    assert len(read_investments(store)) == 1


def test_export_import_round_trip(tmp_path, store, config, ctx):
    gid = add_goal(store, ctx, kpi_ids=KPIS, **GOOD_GOAL)
    add_investment(store, ctx, **GOOD_INV)
    add_investment(store, ctx, **dict(GOOD_INV, party="partner", category="funding", amount="2500", unit="USD",
                                      role=None, description='a "quoted", comma'))
    add_checkin(store, ctx, **_replace_child(GOOD_CHK, "goal_reviews", goal_id=gid))
    export_records(store, tmp_path / "out")
    other = Store(tmp_path / "other.sqlite")
    result = import_records(tmp_path / "out", other, config, partners=["P01", "P02"], kpi_ids=KPIS)
    assert result.counts == {"investments": 2, "goals": 1, "checkins": 1, "attendees": 1, "goal_reviews": 1,
                             "action_items": 1}
    a, b = read_investments(store).drop(columns="entry_id"), read_investments(other).drop(columns="entry_id")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(read_goals(store), read_goals(other))
    export_records(other, tmp_path / "out2")
    for name in ("checkins.csv", "checkin_attendees.csv", "checkin_goal_reviews.csv", "goals.csv"):
        assert (tmp_path / "out" / name).read_text() == (tmp_path / "out2" / name).read_text()
    other.close()


def test_cli_import_export(tmp_path, config):
    from partner_analysis.cli import main
    data_dir = tmp_path / "district"
    data_dir.mkdir()
    config.dump(data_dir / "district.yml")
    pd.DataFrame({"partner_id": ["P01", "P02"], "name": ["a", "b"]}).to_parquet(data_dir / "partners.parquet")
    folder = tmp_path / "in"
    _write(folder, "investments.csv", [GOOD_INV, dict(GOOD_INV, partner_id="P03")])
    assert main(["records", "import", str(folder), "--data-dir", str(data_dir)]) == 2
    _write(folder, "investments.csv", [GOOD_INV])
    assert main(["records", "import", str(folder), "--data-dir", str(data_dir)]) == 0
    assert main(["records", "export", str(tmp_path / "out"), "--data-dir", str(data_dir), "--partner", "P01"]) == 0
    assert pd.read_csv(tmp_path / "out" / "investments.csv", dtype=str)["partner_id"].tolist() == ["P01"]
    with pytest.raises(SystemExit) as exit_info:
        main(["records", "import", "--help"])
    assert exit_info.value.code == 0
