"""`partner-analysis import-edfi` on small hand-written interchanges: mapping, and the SIS import's error rules."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cli_process import run_cli

ROOT = Path(__file__).resolve().parents[1]
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
NSA = 'xmlns="http://ed-fi.org/5.2.0"'

DISTRICT = """district: {id: "0600002", name: Test}
school_year: "2025-26"
terms:
  - {id: "T1", school_year: "2025-26", start: 2025-09-01, end: 2025-09-12}
schools:
  - {school_id: "100", name: One School}
"""
MAP = """config: district.yml
attendance: exceptions_only
sessions: {"Fall": T1}
partners: [{partner_id: P1, name: Partner One}]
programs:
  - {program_id: P1-A, partner_id: P1, name: Robotics, type: mentoring, edfi_program: Robotics Club}
"""


def _student_ref(sid):
    return f"<StudentReference><StudentIdentity><StudentUniqueId>{sid}</StudentUniqueId></StudentIdentity></StudentReference>"


def _school_ref(k="100"):
    return f"<SchoolReference><SchoolIdentity><SchoolId>{k}</SchoolId></SchoolIdentity></SchoolReference>"


def _event(sid, day, category, duration=None):
    dur = f"<EventDuration>{duration}</EventDuration>" if duration is not None else ""
    return (f"<StudentSchoolAttendanceEvent><AttendanceEvent><EventDate>{day}</EventDate><AttendanceEventCategory>"
            f"uri://ed-fi.org/AttendanceEventCategoryDescriptor#{category}</AttendanceEventCategory>{dur}"
            f"</AttendanceEvent>{_student_ref(sid)}{_school_ref()}</StudentSchoolAttendanceEvent>")


@pytest.fixture
def source(tmp_path) -> Path:
    src = tmp_path / "edfi"
    src.mkdir()
    (src / "district.yml").write_text(DISTRICT)
    (src / "edfi.yml").write_text(MAP)
    (src / "Org.xml").write_text(
        HEAD + f"<InterchangeEducationOrganization {NSA}><School><NameOfInstitution>One School</NameOfInstitution>"
        "<SchoolCategory>uri://ed-fi.org/SchoolCategoryDescriptor#High School</SchoolCategory>"
        "<SchoolId>100</SchoolId></School></InterchangeEducationOrganization>")
    (src / "Students.xml").write_text(
        HEAD + f"<InterchangeStudent {NSA}>" + "".join(
            f"<Student><StudentUniqueId>{s}</StudentUniqueId><BirthData><BirthDate>2010-01-0{i + 1}</BirthDate>"
            "</BirthData></Student>" for i, s in enumerate(["0001", "0002"])) + "</InterchangeStudent>")
    (src / "Enrol.xml").write_text(
        HEAD + f"<InterchangeStudentEnrollment {NSA}>"
        f"<StudentSchoolAssociation>{_student_ref('0001')}{_school_ref()}<EntryDate>2025-09-01</EntryDate>"
        "<EntryGradeLevel>uri://ed-fi.org/GradeLevelDescriptor#Tenth grade</EntryGradeLevel></StudentSchoolAssociation>"
        f"<StudentSchoolAssociation>{_student_ref('0002')}{_school_ref()}<EntryDate>2025-09-08</EntryDate>"
        "<EntryGradeLevel>uri://ed-fi.org/GradeLevelDescriptor#Tenth grade</EntryGradeLevel>"
        "</StudentSchoolAssociation></InterchangeStudentEnrollment>")
    (src / "Calendar.xml").write_text(
        HEAD + f"<InterchangeEducationOrgCalendar {NSA}><Session><SessionName>Fall</SessionName>"
        "<SchoolYear>2025-2026</SchoolYear><BeginDate>2025-09-01</BeginDate><EndDate>2025-09-12</EndDate>"
        "<Term>uri://ed-fi.org/TermDescriptor#Fall Semester</Term>"
        f"<TotalInstructionalDays>10</TotalInstructionalDays>{_school_ref()}</Session>"
        "</InterchangeEducationOrgCalendar>")
    (src / "Attendance.xml").write_text(
        HEAD + f"<InterchangeStudentAttendance {NSA}>"
        + _event("0001", "2025-09-02", "Excused Absence", 1) + _event("0001", "2025-09-02", "Partial")
        + _event("0001", "2025-09-03", "Partial", 0.5) + _event("0002", "2025-09-09", "Tardy")
        + "</InterchangeStudentAttendance>")
    (src / "Programs.xml").write_text(
        HEAD + f"<InterchangeStudentProgram {NSA}><StudentProgramAssociation>{_student_ref('0002')}"
        "<ProgramReference><ProgramIdentity><ProgramName>Robotics Club</ProgramName>"
        "<ProgramType>uri://ed-fi.org/ProgramTypeDescriptor#Support</ProgramType></ProgramIdentity>"
        "</ProgramReference><BeginDate>2025-09-08</BeginDate></StudentProgramAssociation>"
        f"<StudentProgramAssociation>{_student_ref('0001')}<ProgramReference><ProgramIdentity>"
        "<ProgramName>Chess</ProgramName></ProgramIdentity></ProgramReference><BeginDate>2025-09-01</BeginDate>"
        "</StudentProgramAssociation></InterchangeStudentProgram>")
    return src


def _cli(*args):
    return run_cli(*args)


def test_interchanges_become_tables_with_descriptors_programmes_and_calendar_rates(source, tmp_path):
    out = tmp_path / "DATA"
    res = _cli("import-edfi", source, "--map", source / "edfi.yml", "--out", out)
    assert res.returncode == 0, res.stderr
    students = pd.read_parquet(out / "students.parquet").set_index("student_id")
    assert students.loc["0001", "grade_level"] == 10 and students.loc["0002", "school_id"] == "100"
    assert pd.read_parquet(out / "schools.parquet")["level"].tolist() == ["high"]
    part = pd.read_parquet(out / "participation.parquet")
    assert part["student_id"].tolist() == ["0002"] and part["program_id"].tolist() == ["P1-A"]
    assert "Chess 1" in res.stdout  # an unmapped programme is said, not silently dropped
    terms = pd.read_parquet(out / "attendance_terms.parquet").set_index("student_id")
    # 0001: whole session (10 days); 09-02 excused + partial = 1 day, 09-03 half a day
    assert terms.loc["0001", ["days_enrolled", "days_absent"]].tolist() == [10.0, 1.5]
    # 0002: enters 09-08, 5 of the session's 10 weekdays -> 10 * 5/10 = 5 days; a tardy is not an absence
    assert terms.loc["0002", ["days_enrolled", "days_absent"]].tolist() == [5.0, 0.0]


def test_unknown_descriptor_names_file_line_element_and_the_fix(source, tmp_path):
    f = source / "Attendance.xml"
    f.write_text(f.read_text().replace("#Tardy", "#Late bus"))
    out = tmp_path / "DATA"
    res = _cli("import-edfi", source, "--map", source / "edfi.yml", "--out", out)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{f}, row 2, column 'AttendanceEvent/AttendanceEventCategory'" in res.stderr
    assert "unknown AttendanceEventCategoryDescriptor code value 'Late bus'" in res.stderr
    assert 'descriptors: {AttendanceEventCategoryDescriptor: {"Late bus": <value>}}' in res.stderr
    assert not out.exists()


def test_bad_value_and_unknown_student_are_reported_like_the_sis_import(source, tmp_path):
    f = source / "Attendance.xml"
    f.write_text(f.read_text().replace("2025-09-03", "2025-13-03").replace(
        _student_ref("0002"), _student_ref("0099")))
    res = _cli("import-edfi", source, "--map", source / "edfi.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2
    assert "column 'AttendanceEvent/EventDate': expected date as a date" in res.stderr
    assert "found '2025-13-03'" in res.stderr
    assert "column 'StudentReference/StudentIdentity/StudentUniqueId': unknown student_id '0099'" in res.stderr
    assert not (tmp_path / "DATA").exists()


def test_dtd_entities_are_refused_and_nothing_is_written(source, tmp_path):
    (source / "Evil.xml").write_text(HEAD + '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
                                     f"<InterchangeStudent {NSA}><Student><StudentUniqueId>&a;</StudentUniqueId>"
                                     "</Student></InterchangeStudent>")
    res = _cli("import-edfi", source, "--map", source / "edfi.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2 and "refused for safety" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "DATA").exists()


def test_malformed_xml_names_the_line(source, tmp_path):
    (source / "Broken.xml").write_text(HEAD + f"<InterchangeStudent {NSA}>\n<Student>\n</InterchangeStudent>")
    res = _cli("import-edfi", source, "--map", source / "edfi.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2 and f"{source / 'Broken.xml'}, row 4" in res.stderr


def _transcript(sid, course, letter, attempted, earned, term="Fall Semester"):
    rec = ("<StudentAcademicRecordReference><StudentAcademicRecordIdentity>" + _student_ref(sid)
           + f"<SchoolYear>2025-2026</SchoolYear><Term>uri://ed-fi.org/TermDescriptor#{term}</Term>"
           "</StudentAcademicRecordIdentity></StudentAcademicRecordReference>")
    return (f"<CourseTranscript>{rec}<CourseReference><CourseIdentity><CourseCode>{course}</CourseCode>"
            f"</CourseIdentity></CourseReference><FinalLetterGradeEarned>{letter}</FinalLetterGradeEarned>"
            f"<AttemptedCredits><Credits>{attempted}</Credits></AttemptedCredits>"
            f"<EarnedCredits><Credits>{earned}</Credits></EarnedCredits></CourseTranscript>")


def test_course_transcripts_take_the_term_of_their_session(source, tmp_path):
    (source / "Transcript.xml").write_text(
        HEAD + f"<InterchangeStudentTranscript {NSA}>" + _transcript("0001", "ALG1", "B", 1, 1)
        + _transcript("0002", "BIO", "F", 1, 0) + "</InterchangeStudentTranscript>")
    out = tmp_path / "DATA"
    res = _cli("import-edfi", source, "--map", source / "edfi.yml", "--out", out)
    assert res.returncode == 0, res.stderr
    cg = pd.read_parquet(out / "course_grades.parquet").set_index("student_id")
    assert cg.loc["0001", ["term_id", "course_id", "mark", "credits_earned"]].tolist() == ["T1", "ALG1", "B", 1.0]
    assert cg.loc["0002", "mark"] == "F"


def test_transcript_of_a_term_without_session_is_refused(source, tmp_path):
    (source / "Transcript.xml").write_text(
        HEAD + f"<InterchangeStudentTranscript {NSA}>" + _transcript("0001", "ALG1", "B", 1, 1, term="Summer")
        + "</InterchangeStudentTranscript>")
    res = _cli("import-edfi", source, "--map", source / "edfi.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2
    assert "no session of that school year and term (Summer 2026) gives this transcript its term" in res.stderr
    assert "StudentAcademicRecordReference/StudentAcademicRecordIdentity/Term" in res.stderr
