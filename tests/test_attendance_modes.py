"""Exceptions-only attendance on hand-built cases (partner_analysis.data.attendance).

Every expected figure is counted by hand in the comment above it, from the calendar drawn in the test.
"""
from __future__ import annotations

import pandas as pd
import pytest

from cli_process import run_cli

from partner_analysis.config import config_from_dict
from partner_analysis.data.attendance import (check_coverage, daily_exceptions, default_enrolment, enrolled_days,
                                              summarise_exceptions)

CONFIG = config_from_dict({
    "district": {"id": "0600001", "name": "Test district"}, "school_year": "2025-26",
    "terms": [{"id": "T1", "school_year": "2025-26", "start": "2025-09-01", "end": "2025-09-14"},
              {"id": "T2", "school_year": "2025-26", "start": "2025-09-15", "end": "2025-09-28"}],
    "schools": [{"school_id": "A", "name": "School A"}, {"school_id": "B", "name": "School B"}]})

# School A: instructional days Mon-Fri of 2025-09-01..09-26, except the holiday 09-05 (Fri):
# T1 = 9 days (1-4, 8-12), T2 = 10 days (15-19, 22-26).
_DAYS = [d for d in pd.date_range("2025-09-01", "2025-09-26") if d.day_of_week < 5]
SCHOOL_DAYS = pd.DataFrame({"school_id": "A", "date": _DAYS,
                            "instructional": [d != pd.Timestamp("2025-09-05") for d in _DAYS]})


def _events(rows):
    return pd.DataFrame(rows, columns=["student_id", "date", "status", "fraction_absent"]).assign(
        date=lambda f: pd.to_datetime(f["date"]))


def _spans(rows):
    return pd.DataFrame(rows, columns=["student_id", "school_id", "entry_date", "exit_date"]).assign(
        entry_date=lambda f: pd.to_datetime(f["entry_date"]), exit_date=lambda f: pd.to_datetime(f["exit_date"]))


def test_two_events_on_one_day_count_once_as_the_larger_absence():
    ev = _events([("s1", "2025-09-02", "excused", None), ("s1", "2025-09-02", "partial", 0.5),
                  ("s1", "2025-09-03", "tardy", None), ("s1", "2025-09-03", "partial", 0.25),
                  ("s1", "2025-09-04", "tardy", None)])
    day = daily_exceptions(ev).set_index("date")
    assert day.loc["2025-09-02", "status"] == "excused" and day.loc["2025-09-02", "absent"] == 1.0
    assert day.loc["2025-09-03", "status"] == "partial" and day.loc["2025-09-03", "absent"] == 0.25
    assert day.loc["2025-09-04", "absent"] == 0.0
    out = summarise_exceptions(ev, _spans([("s1", "A", "2025-09-01", None)]), CONFIG, school_days=SCHOOL_DAYS)
    t1 = out.set_index("term_id").loc["T1"]
    # 9 instructional days in T1; absent 1 (09-02: excused beats partial) + 0.25 (09-03) + 0 (tardy)
    assert t1["days_enrolled"] == 9 and t1["days_absent"] == pytest.approx(1.25)
    # a missing exit: still enrolled in T2, all 10 days present
    assert out.set_index("term_id").loc["T2", "days_absent"] == 0


def test_mid_term_entry_and_exit_count_only_enrolled_instructional_days():
    spans = _spans([("s2", "A", "2025-09-09", "2025-09-17"),    # T1: 9-12 (4 days); T2: 15-17 (3 days)
                    ("s3", "A", "2025-09-01", "2025-09-04")])   # T1: 1-4 (4 days), then leaves
    ev = _events([("s2", "2025-09-02", "unexcused", None),        # before entry: does not count
                  ("s2", "2025-09-10", "unexcused", None),
                  ("s2", "2025-09-16", "excused", None),
                  ("s2", "2025-09-20", "unexcused", None),        # a Saturday: not an instructional day
                  ("s3", "2025-09-05", "unexcused", None),        # the holiday (and after exit)
                  ("s3", "2025-09-08", "unexcused", None)])       # after exit
    out = summarise_exceptions(ev, spans, CONFIG, school_days=SCHOOL_DAYS).set_index(["student_id", "term_id"])
    assert out.loc[("s2", "T1")].tolist() == [4.0, 1.0]
    assert out.loc[("s2", "T2")].tolist() == [3.0, 1.0]
    assert out.loc[("s3", "T1")].tolist() == [4.0, 0.0]
    assert ("s3", "T2") not in out.index


def test_session_totals_prorate_partial_spans_by_weekdays():
    sessions = pd.DataFrame({"school_id": ["B"], "term_id": ["T2"], "begin_date": pd.to_datetime(["2025-09-15"]),
                             "end_date": pd.to_datetime(["2025-09-26"]), "instructional_days": [8.0]})
    spans = _spans([("s4", "B", "2025-09-15", "2025-09-26"), ("s5", "B", "2025-09-22", None)])
    en = enrolled_days(spans, CONFIG, school_sessions=sessions).set_index("student_id")
    # whole session: the session's 8 days; from 09-22: 5 of its 10 weekdays -> 8 * 5/10 = 4
    assert en.loc["s4", "days_enrolled"] == 8.0 and en.loc["s5", "days_enrolled"] == 4.0
    assert set(en["calendar"]) == {"session"}


def test_default_enrolment_is_the_whole_session_of_each_school_and_term_with_an_event():
    sessions = pd.DataFrame({"school_id": ["B"], "term_id": ["T2"], "begin_date": pd.to_datetime(["2025-09-15"]),
                             "end_date": pd.to_datetime(["2025-09-26"]), "instructional_days": [8.0]})
    ev = _events([("s6", "2025-09-17", "excused", None), ("s6", "2025-09-02", "excused", None)]).assign(
        school_id=["B", "A"])
    spans = default_enrolment(ev, None, CONFIG, school_days=SCHOOL_DAYS, school_sessions=sessions)
    got = {(r.school_id, r.entry_date.date().isoformat(), r.exit_date.date().isoformat())
           for r in spans.itertuples()}
    # A has calendar days in T1 (first 09-01, last 09-12); B has a session in T2
    assert got == {("A", "2025-09-01", "2025-09-12"), ("B", "2025-09-15", "2025-09-26")}


def test_exceptions_only_without_a_calendar_or_enrolment_is_refused_naming_the_fix():
    ev = _events([("s1", "2025-09-02", "excused", None)])
    problems = check_coverage({"attendance_events": ev}, CONFIG, mode="exceptions_only")
    text = " | ".join(str(p) for p in problems)
    assert "no school calendar" in text and "school_days" in text
    assert "no enrolment spans" in text and "default_enrolment: whole_session" in text
    assert check_coverage({"attendance_events": ev, "school_days": SCHOOL_DAYS}, CONFIG, mode="exceptions_only",
                          default_enrolment_rule="whole_session") == []


def test_daily_rows_without_a_present_day_or_far_fewer_than_enrolled_days_are_refused():
    only_absences = _events([("s1", "2025-09-02", "excused", None)])
    problems = check_coverage({"attendance_daily": only_absences}, CONFIG, mode="daily_positive")
    assert len(problems) == 1 and "no present day anywhere" in str(problems[0])
    assert "attendance: exceptions_only" in str(problems[0])
    sparse = _events([("s1", "2025-09-02", "present", None), ("s1", "2025-09-03", "excused", None)])
    tables = {"attendance_daily": sparse, "school_days": SCHOOL_DAYS,
              "enrollment": _spans([("s1", "A", "2025-09-01", "2025-09-26")])}
    problems = check_coverage(tables, CONFIG, mode="daily_positive")
    # 2 rows for 19 enrolled instructional days
    assert len(problems) == 1 and "19 enrolled instructional days" in str(problems[0])


# -- through the import (a SIS export that lists exceptions only) ------------------------------------

def _cli(*args):
    return run_cli(*args)


def _sis_exceptions(folder, *, calendar=True, enrolment=True):
    folder.mkdir()
    (folder / "students.csv").write_text("id,school,grade\n000201,0101,9\n000202,0101,9\n")
    # 2025-26-Q1 of the embedded config runs 2025-08-18..2025-10-24; the calendar: weekdays of 08-18..08-29
    (folder / "absences.csv").write_text("id,day,code\n000201,2025-08-19,E\n000201,2025-08-19,H\n"
                                         "000202,2025-08-26,A\n000202,2025-08-20,A\n")
    days = [d for d in pd.date_range("2025-08-18", "2025-08-29") if d.day_of_week < 5]
    (folder / "calendar.csv").write_text("school,day\n" + "".join(f"0101,{d.date()}\n" for d in days))
    # 000202 enters mid-term on 08-25: 5 enrolled days; the absence on 08-20 is before entry
    (folder / "enrol.csv").write_text("id,school,entry,exit\n000201,0101,2025-08-18,\n000202,0101,2025-08-25,\n")
    entries = ["- table: students\n  file: students.csv\n  columns: {student_id: id, school_id: school, "
               "grade_level: grade}\n",
               "- table: attendance_events\n  file: absences.csv\n  columns: {student_id: id, date: day, "
               "status: code}\n  recode: {status: {E: excused, A: unexcused, H: partial}}\n"]
    if calendar:
        entries.append("- table: school_days\n  file: calendar.csv\n  columns: {school_id: school, date: day}\n")
    if enrolment:
        entries.append("- table: enrollment\n  file: enrol.csv\n  columns: {student_id: id, school_id: school, "
                       "entry_date: entry, exit_date: exit}\n")
    (folder / "map.yml").write_text("attendance: exceptions_only\ntables:\n" + "".join(entries))
    return folder


def test_exceptions_only_import_gives_rates_from_enrolment_and_calendar(tmp_path):
    from partner_analysis.data.dataset import read_dataset
    from partner_analysis.kpi.panel import build_panel
    src = _sis_exceptions(tmp_path / "sis")
    res = _cli("import", src, "--map", src / "map.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 0, res.stderr
    assert f"Data-quality profile: {tmp_path / 'DATA' / 'quality.html'}" in res.stdout
    assert (tmp_path / "DATA" / "quality.csv").exists()
    ds = read_dataset(tmp_path / "DATA")
    terms = ds["attendance_terms"].set_index("student_id")
    # 000201: 10 instructional days, one absent (excused + partial on 08-19 count once);
    # 000202: 5 days from 08-25, one absent (08-26)
    assert terms.loc["000201", ["days_enrolled", "days_absent"]].tolist() == [10.0, 1.0]
    assert terms.loc["000202", ["days_enrolled", "days_absent"]].tolist() == [5.0, 1.0]
    panel = build_panel(ds, terms="2025-26-Q1", kpis=["attendance_rate"])
    rate = panel.set_index("student_id")["value"]
    assert rate["000201"] == pytest.approx(0.9) and rate["000202"] == pytest.approx(0.8)


def test_exceptions_only_import_without_a_calendar_is_refused_with_exit_2(tmp_path):
    src = _sis_exceptions(tmp_path / "sis", calendar=False)
    res = _cli("import", src, "--map", src / "map.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "no school calendar was imported" in res.stderr and "school_days" in res.stderr
    assert not (tmp_path / "DATA").exists()


def test_exception_rows_mapped_as_daily_attendance_are_refused(tmp_path):
    src = _sis_exceptions(tmp_path / "sis")
    text = (src / "map.yml").read_text().replace("attendance: exceptions_only\n", "").replace(
        "table: attendance_events", "table: attendance_daily")
    (src / "absences.csv").write_text("id,day,code\n000201,2025-08-19,E\n000202,2025-08-26,A\n")
    (src / "map.yml").write_text(text)
    res = _cli("import", src, "--map", src / "map.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2
    assert "no present day anywhere" in res.stderr and "attendance: exceptions_only" in res.stderr


def test_oneroster_enrolment_spans_from_class_enrolments(tmp_path):
    import shutil
    from pathlib import Path
    src = tmp_path / "or"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "oneroster", src)
    enr = src / "export" / "enrollments.csv"
    # u-001: two classes at org-s1, one still open -> one span from the earliest begin, no exit
    enr.write_text(enr.read_text() + "e-3,,,cl-x,org-s1,u-001,student,false,2025-09-02,2025-12-19\n"
                   "e-4,,,cl-y,org-s1,u-001,student,false,,\n")
    text = (src / "map.yml").read_text().replace("  - oneroster: export ", "  - {oneroster: export, enrolment: true} ")
    (src / "map.yml").write_text(text)
    res = _cli("import", src, "--map", src / "map.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 0, res.stderr
    spans = pd.read_parquet(tmp_path / "DATA" / "enrollment.parquet")
    users = pd.read_csv(src / "export" / "users.csv", dtype=str).set_index("sourcedId")
    row = spans[spans["student_id"] == users.loc["u-001", "identifier"]]
    assert len(row) == 1 and str(row["entry_date"].iloc[0].date()) == "2025-08-18"
    assert pd.isna(row["exit_date"].iloc[0])
