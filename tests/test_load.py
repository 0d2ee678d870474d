"""Validated import through a column map: good imports, every kind of bad input, atomic writes, validate."""
from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pandas as pd
import pytest
import yaml

from partner_analysis.data.dataset import read_dataset
from partner_analysis.data.load import (MAX_ERRORS, ImportValidationError, import_source, read_map,
                                        validate_dataset)
from partner_analysis.exceptions import InputDataError

# A tiny, valid district export (embedded default config: terms 2024-25-Q1..2025-26-Q4, schools 0101..0202).
GOOD_FILES = {
    "students.csv": ("Student Number,Last Name,School,Grade,DOB,Gender,FRL\n"
                     "000101,Ames,0101,9,2010-03-14,F,Y\n"
                     "000102,Bose,0101,10,2009-11-02,M,N\n"
                     "000103,Cruz,0102,11,2008-07-21,F,N\n"),
    "partners.csv": "partner_id,name,sector\nP01,Riverbend Hospital,healthcare\n",
    "programs.csv": "program_id,partner_id,name,type\nP01-A,P01,Health internship,internship\n",
    "participation.csv": ("student_id,program_id,start_date,end_date,hours\n"
                          "000101,P01-A,2025-09-02,2025-12-19,10\n"
                          "000103,P01-A,2025-09-02,,\n"),
    "attendance_daily.csv": "student_id,date,code\n000101,2025-08-18,P\n000102,2025-08-18,A\n000103,2025-08-19,E\n",
    "attendance_terms.csv": ("student_id,term_id,days_enrolled,days_absent\n"
                             "000101,2025-26-Q1,45,3\n000102,2025-26-Q1,45,0\n"),
    "course_grades.csv": ("student_id,term_id,course_id,mark,credits_attempted,credits_earned\n"
                          "000101,2025-26-Q1,ENG9,B,0.25,0.25\n000102,2025-26-Q1,ALG1,72,0.25,0.25\n"),
    "engagement.csv": "student_id,term_id,score\n000101,2025-26-Q1,4.2\n000102,2025-26-Q1,2\n",
    "wbl_hours.csv": "student_id,program_id,date,hours\n000101,P01-A,2025-09-10,3\n",
}

GOOD_MAP = {"tables": [
    {"table": "students", "file": "students.csv",
     "columns": {"student_id": "Student Number", "school_id": "School", "grade_level": "Grade",
                 "birth_date": "DOB", "gender": "Gender", "frl": "FRL"}},
    {"table": "partners", "file": "partners.csv",
     "columns": {"partner_id": "partner_id", "name": "name", "sector": "sector"}},
    {"table": "programs", "file": "programs.csv"},  # headers are the canonical names: no `columns:` needed
    {"table": "participation", "file": "participation.csv"},
    {"table": "attendance_daily", "file": "attendance_daily.csv",
     "columns": {"student_id": "student_id", "date": "date", "status": "code"},
     "recode": {"status": {"P": "present", "A": "unexcused", "E": "excused"}}},
    {"table": "attendance_terms", "file": "attendance_terms.csv"},
    {"table": "course_grades", "file": "course_grades.csv"},
    {"table": "engagement", "file": "engagement.csv"},
    {"table": "wbl_hours", "file": "wbl_hours.csv"},
]}


class District:
    """A good export in tmp_path that a test mutates before building."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, str | bytes | None] = dict(GOOD_FILES)
        self.map = copy.deepcopy(GOOD_MAP)
        self.map_text: str | None = None

    def entry(self, table: str) -> dict:
        return next(e for e in self.map["tables"] if e["table"] == table)

    def replace(self, fname: str, old: str, new: str) -> None:
        assert old in self.files[fname], (fname, old)  # a broken fixture, not user input
        self.files[fname] = self.files[fname].replace(old, new, 1)

    def build(self) -> tuple[Path, Path]:
        src = self.root / "exports"
        src.mkdir(exist_ok=True)
        for name, text in self.files.items():
            if text is None:
                continue
            p = src / name
            p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        map_path = self.root / "map.yml"
        map_path.write_text(self.map_text if self.map_text is not None else yaml.safe_dump(self.map, sort_keys=False),
                            encoding="utf-8")
        return src, map_path

    def run(self, out: Path | None = None):
        src, map_path = self.build()
        return import_source(src, map_path=map_path, out=out or self.root / "DATA")


@pytest.fixture
def district(tmp_path) -> District:
    return District(tmp_path)


# -- good imports ------------------------------------------------------------------------------------

def test_good_import_types_ids_and_recodes(district):
    result = district.run()
    ds = read_dataset(result.out)
    st = ds["students"]
    # leading zeros survive: IDs are read as text, never parsed as numbers
    assert list(st["student_id"]) == ["000101", "000102", "000103"]
    assert list(st["school_id"]) == ["0101", "0101", "0102"]
    assert "Last Name" not in st.columns and "last_name" not in st.columns  # unmapped columns are ignored
    assert str(st["grade_level"].dtype) == "Int64"
    assert list(st["frl"]) == [True, False, False]
    assert st["birth_date"].iloc[0] == pd.Timestamp("2010-03-14")
    assert list(ds["attendance_daily"]["status"].astype(str)) == ["present", "unexcused", "excused"]
    assert ds["participation"]["hours"].isna().tolist() == [False, True]
    # schools were not in the map, so they come from the district config
    assert set(ds["schools"]["school_id"]) == {"0101", "0102", "0103", "0201", "0202"}
    assert result.rows["students"] == 3
    assert sum(result.dropped_duplicates.values()) == 0
    report = result.report()
    assert "students" in report and "000101" not in report  # the printed summary holds no student IDs


def test_map_recoding_yaml12_and_bom(district):
    # Written as YAML text: unquoted yes/no keys and 0101 must stay strings (YAML 1.2 reading)
    district.files["students.csv"] = ("\ufeffID;Campus;Gr;Born;Sex;Lunch\n"
                                      "000101;Riverbend;9;03/14/2010;Female;yes\n"
                                      "000102;Riverbend;10;11/02/2009;Male;no\n"
                                      "000103;Riverbend;11;07/21/2008;Female;no\n")
    district.map_text = yaml.safe_dump(GOOD_MAP, sort_keys=False).replace(
        "- table: students\n  file: students.csv\n  columns:\n"
        "    student_id: Student Number\n    school_id: School\n    grade_level: Grade\n"
        "    birth_date: DOB\n    gender: Gender\n    frl: FRL\n",
        "- table: students\n  file: students.csv\n  delimiter: ';'\n  date_format: '%m/%d/%Y'\n"
        "  columns: {student_id: ID, school_id: Campus, grade_level: Gr, birth_date: Born, gender: Sex, frl: Lunch}\n"
        "  recode:\n    school_id: {Riverbend: 0101}\n    gender: {Female: F, Male: M}\n"
        "    frl: {yes: true, no: false}\n")
    assert "Riverbend: 0101" in district.map_text
    ds = read_dataset(district.run().out)
    st = ds["students"]
    assert list(st["school_id"]) == ["0101"] * 3
    assert list(st["gender"].astype(str)) == ["F", "M", "F"]
    assert list(st["frl"]) == [True, False, False]
    assert st["birth_date"].tolist()[:2] == [pd.Timestamp("2010-03-14"), pd.Timestamp("2009-11-02")]


def test_constants_derive_where_and_two_entries_one_table(district):
    # two exports of one table, different date formats; a constant term; IDs generated; a filter
    district.files["grades_fall.csv"] = "sid,course,mark\n000101,ENG9,A\n000102,ENG9,F\n"
    district.files["grades_spring.csv"] = "sid,course,mark,keep\n000101,BIO,91,y\n000103,BIO,40,n\n"
    e = district.entry("course_grades")
    e.clear()
    e.update({"table": "course_grades", "file": "grades_fall.csv",
              "columns": {"student_id": "sid", "course_id": "course", "mark": "mark"},
              "constants": {"term_id": "2025-26-Q1", "credits_attempted": 0.5},
              "derive": {"credits_earned": {"if_passed": "mark", "then": 0.5, "else": 0}}})
    district.map["tables"].append({
        "table": "course_grades", "file": "grades_spring.csv", "where": {"keep": "y"},
        "columns": {"student_id": "sid", "course_id": "course", "mark": "mark"},
        "constants": {"term_id": "2025-26-Q3", "credits_attempted": 0.5},
        "derive": {"credits_earned": {"if_passed": "mark", "then": 0.5, "else": 0}}})
    cg = read_dataset(district.run().out)["course_grades"]
    assert len(cg) == 3
    assert cg.set_index(["course_id", "student_id"])["credits_earned"].to_dict() == {
        ("ENG9", "000101"): 0.5, ("ENG9", "000102"): 0.0, ("BIO", "000101"): 0.5}
    assert sorted(cg["term_id"].unique()) == ["2025-26-Q1", "2025-26-Q3"]


def test_row_id_derive_is_stable_under_where(district):
    district.files["flags.csv"] = "school,flag\n0101,no\n0101,yes\n0102,yes\n"
    district.files["students.csv"] = None
    e = district.entry("students")
    e.clear()
    e.update({"table": "students", "file": "flags.csv", "columns": {"school_id": "school"},
              "constants": {"grade_level": 9}, "derive": {"student_id": {"row_id": {"prefix": "S", "width": 3}}}})
    district.map["tables"] = [x for x in district.map["tables"] if x["table"] in ("students", "partners", "programs")]
    district.map["tables"].append({"table": "participation", "file": "flags.csv", "where": {"flag": "yes"},
                                   "derive": {"student_id": {"row_id": {"prefix": "S", "width": 3}}},
                                   "constants": {"program_id": "P01-A", "start_date": "2025-09-01"}})
    ds = read_dataset(district.run().out)
    assert list(ds["students"]["student_id"]) == ["S001", "S002", "S003"]
    # the filtered rows keep the IDs of their file rows
    assert list(ds["participation"]["student_id"]) == ["S002", "S003"]


def test_xlsx_and_parquet_sources(district):
    src = district.root / "exports"
    src.mkdir()
    students = pd.DataFrame({"Student Number": ["000101", "000102", "000103"], "School": ["0101", "0101", "0102"],
                             "Grade": [9, 10, 11]})
    with pd.ExcelWriter(src / "roster.xlsx") as xw:
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="Notes", index=False)
        students.to_excel(xw, sheet_name="Roster", index=False)
    pd.DataFrame({"partner_id": ["P01"], "name": ["Hospital"]}).to_parquet(src / "partners.parquet")
    district.files["students.csv"] = None
    e = district.entry("students")
    e.update({"file": "roster.xlsx", "sheet": "Roster"})
    del e["columns"]["birth_date"], e["columns"]["gender"], e["columns"]["frl"]
    p = district.entry("partners")
    p.update({"file": "partners.parquet", "columns": {"partner_id": "partner_id", "name": "name"}})
    ds = read_dataset(district.run().out)
    assert list(ds["students"]["student_id"]) == ["000101", "000102", "000103"]
    assert list(ds["students"]["grade_level"]) == [9, 10, 11]
    assert list(ds["partners"]["partner_id"]) == ["P01"]


# -- duplicates --------------------------------------------------------------------------------------

def test_exact_duplicates_dropped_and_counted(district):
    district.replace("attendance_daily.csv", "000102,2025-08-18,A\n", "000102,2025-08-18,A\n" * 3)
    district.replace("partners.csv", "healthcare\n", "healthcare\nP01,Riverbend Hospital,healthcare\n")
    result = district.run()
    assert result.dropped_duplicates["attendance_daily"] == 2
    assert result.dropped_duplicates["partners"] == 1
    assert result.rows["attendance_daily"] == 3
    assert "Dropped 3 exact duplicate row(s)." in result.report()


def test_possible_duplicates_written_for_review(district):
    # 000104 looks exactly like 000102: same school, grade, birth date, gender, lunch status
    district.replace("students.csv", "000103,", "000104,Bose,0101,10,2009-11-02,M,N\n000103,")
    result = district.run()
    assert result.possible_duplicate_groups == 1 and result.possible_duplicate_records == 2
    path = result.possible_duplicates_path
    assert path == result.out / "possible_duplicates.csv" and path.exists()
    found = pd.read_csv(path, dtype=str)
    assert sorted(found["student_id"]) == ["000102", "000104"]
    assert sorted(found["row"].astype(int)) == [3, 4]
    assert set(found["table"]) == {"students"}
    report = result.report()
    assert "possible_duplicates.csv" in report and "000104" not in report
    # it is a warning, not an error: the import succeeded
    assert read_dataset(result.out)["students"].shape[0] == 4


def test_blank_lines_keep_row_numbers_and_schools_table_warning(district):
    district.files["students.csv"] = GOOD_FILES["students.csv"].replace("\n000102", "\n\n000102")
    district.files["schools.csv"] = "school_id,name,level\n0101,Riverbend HS,high\n0102,Eastside HS,high\n" \
                                    "0909,Annex,other\n"
    district.map["tables"].insert(0, {"table": "schools", "file": "schools.csv"})
    result = district.run()
    assert result.rows["students"] == 3 and result.rows["schools"] == 3
    assert any("0909" in w and "district.yml" in w for w in result.warnings)
    district.replace("students.csv", ",0101,10,", ",0101,ten,")
    with pytest.raises(InputDataError) as info:
        district.run()
    assert info.value.row == 4  # header 1, first student 2, blank line 3


def test_sparse_identity_rows_are_not_flagged(district):
    # without birth date and gender, only 3 of 5 identity values are known: too few to call a duplicate
    district.files["students.csv"] = ("Student Number,Last Name,School,Grade,DOB,Gender,FRL\n"
                                      "000101,A,0101,9,,,Y\n000102,B,0101,9,,,Y\n000103,C,0102,11,2008-07-21,F,N\n")
    result = district.run()
    assert result.possible_duplicates_path is None


# -- bad input: one case per kind of problem -----------------------------------------------------------

def _drop(d: District, fname: str):
    d.files[fname] = None


def _set(d: District, fname: str, text):
    d.files[fname] = text


def _semicolon_students(d):
    d.files["students.csv"] = d.files["students.csv"].replace(",", ";")


def _map_without(d, table, col):
    del d.entry(table)["columns"][col]


def _xlsx_missing_sheet(d):
    src = d.root / "exports"
    src.mkdir(exist_ok=True)
    pd.DataFrame({"Student Number": ["000101"], "School": ["0101"], "Grade": ["9"]}).to_excel(
        src / "roster.xlsx", sheet_name="Sheet1", index=False)
    d.files["students.csv"] = None
    d.entry("students").update({"file": "roster.xlsx", "sheet": "Roster"})


def _recode_target(d):
    d.entry("attendance_daily")["recode"]["status"]["P"] = "presnt"


def _bad_yaml(d):
    d.map_text = "tables:\n  - table: students\n    file: students.csv\n   columns: {student_id: x\n"


def _unknown_map_column(d):
    d.entry("students")["columns"]["grade"] = "Grade"


def _unknown_map_table(d):
    d.entry("engagement")["table"] = "engagment"


def _unknown_map_key(d):
    d.entry("students")["colums"] = {"x": "y"}


def _latin1(d):
    d.files["students.csv"] = GOOD_FILES["students.csv"].replace("Cruz", "Cruz Peña").encode("latin-1")


def _no_programs(d):
    d.map["tables"] = [e for e in d.map["tables"] if e["table"] not in ("programs",)]


R = District.replace
CASES = [
    # id, mutate, file (substring of .path), row, column, regex on the message
    pytest.param(lambda d: _drop(d, "participation.csv"), "participation.csv", None, None, "file not found",
                 id="missing-file"),
    pytest.param(lambda d: _set(d, "engagement.csv", ""), "engagement.csv", 1, None, r"empty \(0 bytes\)",
                 id="empty-file"),
    pytest.param(_semicolon_students, "students.csv", 1, "Student Number", r"delimiter: ';'",
                 id="wrong-delimiter"),
    pytest.param(lambda d: R(d, "students.csv", "Grade,", "Grd,"), "students.csv", 1, "Grade",
                 r"column 'Grade' named in the map is not in the file", id="header-missing-in-file"),
    pytest.param(lambda d: _map_without(d, "students", "grade_level"), "map.yml", 2, "grade_level",
                 r"required column 'grade_level' of table 'students' is not mapped", id="required-column-unmapped"),
    pytest.param(lambda d: R(d, "students.csv", ",0101,10,", ",0101,ten,"), "students.csv", 3, "Grade",
                 r"expected grade_level as a whole number.*found 'ten'", id="non-integer-grade"),
    pytest.param(lambda d: R(d, "students.csv", ",0101,10,", ",0101,9.5,"), "students.csv", 3, "Grade",
                 r"whole number.*found '9.5'", id="fractional-grade"),
    pytest.param(lambda d: R(d, "students.csv", ",0102,11,", ",0102,14,"), "students.csv", 4, "Grade",
                 r"grade_level must lie between -1 and 13, found '14'", id="grade-out-of-range"),
    pytest.param(lambda d: R(d, "students.csv", "000103,", "000101,Ames,0101,10,2010-03-14,F,Y\n000103,"),
                 "students.csv", 4, "Student Number", r"'000101' also appears in row 2 .*differs in: grade_level",
                 id="duplicate-key-conflict"),
    pytest.param(lambda d: R(d, "students.csv", ",0102,", ",0999,"), "students.csv", 4, "School",
                 r"unknown school_id '0999': not in the schools table", id="unknown-school"),
    pytest.param(lambda d: R(d, "participation.csv", "000103,P01-A", "103,P01-A"), "participation.csv", 3,
                 "student_id", r"unknown student_id '103'.*'0042' and '42' differ", id="leading-zeros-dropped"),
    pytest.param(lambda d: R(d, "participation.csv", "000103,P01-A", "000103,P09-Z"), "participation.csv", 3,
                 "program_id", r"unknown program_id 'P09-Z'", id="unknown-program-in-participation"),
    pytest.param(lambda d: R(d, "programs.csv", "P01-A,P01,", "P01-A,P99,"), "programs.csv", 2, "partner_id",
                 r"unknown partner_id 'P99'", id="program-unknown-partner"),
    pytest.param(lambda d: R(d, "attendance_terms.csv", "45,3", "45,50"), "attendance_terms.csv", 2,
                 "days_absent", r"days_absent '50' exceeds days_enrolled", id="absent-exceeds-enrolled"),
    pytest.param(lambda d: R(d, "participation.csv", ",10\n", ",-5\n"), "participation.csv", 2, "hours",
                 r"hours must lie between 0 and 2000, found '-5'", id="negative-participation-hours"),
    pytest.param(lambda d: R(d, "wbl_hours.csv", ",3\n", ",-1\n"), "wbl_hours.csv", 2, "hours",
                 r"hours must lie between 0 and 24", id="negative-wbl-hours"),
    pytest.param(lambda d: R(d, "wbl_hours.csv", "2025-09-10", "2025-07-04"), "wbl_hours.csv", 2, "date",
                 r"2025-07-04 lies outside every configured term", id="date-outside-terms"),
    pytest.param(lambda d: R(d, "attendance_daily.csv", "2025-08-19", "2026-01-17"), "attendance_daily.csv", 4,
                 "date", r"outside every configured term", id="date-in-term-break"),
    pytest.param(lambda d: R(d, "attendance_terms.csv", "000102,2025-26-Q1", "000102,2030-31-Q1"),
                 "attendance_terms.csv", 3, "term_id", r"unknown term '2030-31-Q1'", id="unknown-term"),
    pytest.param(lambda d: R(d, "course_grades.csv", ",72,", ",105,"), "course_grades.csv", 3, "mark",
                 r"mark '105' is not on the grade scale", id="numeric-mark-off-scale"),
    pytest.param(lambda d: R(d, "course_grades.csv", ",B,", ",E,"), "course_grades.csv", 2, "mark",
                 r"mark 'E' is not on the grade scale.*letter in \['A', 'B', 'C', 'D', 'F'\]",
                 id="letter-mark-off-scale"),
    pytest.param(lambda d: R(d, "engagement.csv", ",4.2", ",7"), "engagement.csv", 2, "score",
                 r"score '7' lies outside the engagement scale 1-5", id="score-outside-engagement-scale"),
    pytest.param(lambda d: R(d, "students.csv", "2009-11-02", "02/11/2009"), "students.csv", 3, "DOB",
                 r"expected birth_date as a date in the format YYYY-MM-DD, found '02/11/2009'",
                 id="bad-date-format"),
    pytest.param(lambda d: R(d, "students.csv", ",F,N\n", ",Q,N\n"), "students.csv", 4, "Gender",
                 r"unknown gender 'Q'; expected one of \['F', 'M', 'X'\]", id="unknown-category"),
    pytest.param(lambda d: R(d, "attendance_daily.csv", "2025-08-18,A", "2025-08-18,X"), "attendance_daily.csv",
                 3, "code", r"unknown status 'X'", id="unrecoded-attendance-code"),
    pytest.param(lambda d: R(d, "students.csv", ",M,N\n", ",M,maybe\n"), "students.csv", 3, "FRL",
                 r"expected frl as true/false.*found 'maybe'", id="non-boolean-flag"),
    pytest.param(lambda d: R(d, "students.csv", "000103,Cruz,0102,", "000103,Cruz,,"), "students.csv", 4,
                 "School", r"school_id is missing \(empty cell\)", id="missing-required-value"),
    pytest.param(lambda d: R(d, "participation.csv", "2025-09-02,2025-12-19", "2025-09-02,2025-08-01"),
                 "participation.csv", 2, "end_date", r"end_date 2025-08-01 is before start_date",
                 id="end-before-start"),
    pytest.param(_recode_target, "map.yml", 29, "status", r"recode target 'presnt' for 'P' is not a valid status",
                 id="bad-recode-target"),
    pytest.param(_unknown_map_table, "map.yml", 36, "table", r"unknown table 'engagment'", id="map-unknown-table"),
    pytest.param(_unknown_map_column, "map.yml", 11, "grade", r"table 'students' has no column 'grade'",
                 id="map-unknown-column"),
    pytest.param(_unknown_map_key, "map.yml", 11, "colums", r"unknown key 'colums' in a table entry",
                 id="map-unknown-key"),
    pytest.param(_bad_yaml, "map.yml", 4, "character 4", r"not valid YAML", id="malformed-yaml-map"),
    pytest.param(_xlsx_missing_sheet, "roster.xlsx", None, None, r"sheet 'Roster'.*no sheet named 'Roster'.*Sheet1",
                 id="xlsx-missing-sheet"),
    pytest.param(_latin1, "students.csv", 4, None, r"not valid UTF-8 text \(byte f1 found.*encoding:",
                 id="wrong-encoding"),
    pytest.param(_no_programs, "participation.csv", None, "program_id",
                 r"refers to 'programs', which is not imported", id="referenced-table-not-imported"),
]


@pytest.mark.parametrize("mutate, fname, row, column, pattern", CASES)
def test_bad_input_names_file_row_column_and_fix(district, mutate, fname, row, column, pattern):
    mutate(district)
    with pytest.raises(InputDataError, match=pattern) as info:
        district.run()
    err = info.value
    assert err.path is not None and err.path.endswith(fname), err.path
    assert err.row == row
    assert err.column == column
    text = str(err)
    assert fname in text
    if row is not None:
        assert f"row {row}" in text
    if column is not None:
        assert f"'{column}'" in text
    assert err.fix, "every error says what to do"
    assert not (district.root / "DATA").exists(), "a failed import writes nothing"


def test_many_errors_collected_in_one_pass(district):
    district.replace("students.csv", ",0101,10,", ",0101,ten,")
    district.replace("engagement.csv", ",4.2", ",9")
    district.replace("wbl_hours.csv", "2025-09-10", "2025-07-04")
    with pytest.raises(ImportValidationError) as info:
        district.run()
    err = info.value
    assert err.n_errors == 3 and len(err.errors) == 3
    assert {(Path(e.path).name, e.row, e.column) for e in err.errors} == {
        ("students.csv", 3, "Grade"), ("engagement.csv", 2, "score"), ("wbl_hours.csv", 2, "date")}
    # the exception's own attributes are those of the first problem (tables are checked referenced-first)
    assert (Path(err.path).name, err.row, err.column) == ("students.csv", 3, "Grade")
    assert str(err).startswith("3 problems found in the import")
    assert len(str(err).splitlines()) == 4


def test_error_list_is_capped(district):
    rows = "".join(f"{i:06d},X,0101,nine,,F,Y\n" for i in range(200, 400))
    district.files["students.csv"] = GOOD_FILES["students.csv"] + rows
    with pytest.raises(ImportValidationError) as info:
        district.run()
    err = info.value
    assert err.n_errors == 200
    assert len(err.errors) == MAX_ERRORS
    assert "... and 150 more" in str(err)
    assert err.errors[0].row == 5 and err.errors[-1].row == 5 + MAX_ERRORS - 1


def test_errors_pickle(district):
    district.replace("students.csv", ",0101,10,", ",0101,ten,")
    with pytest.raises(ImportValidationError) as info:
        district.run()
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value)
    assert (back.row, back.column, back.value) == (3, "Grade", "ten")
    assert len(back.errors) == 1


# -- atomic writes -----------------------------------------------------------------------------------------

def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_failed_import_leaves_existing_data_dir_untouched(district):
    out = district.root / "DATA"
    district.run(out)
    before = _snapshot(out)
    assert "students.parquet" in before
    district.replace("students.csv", ",0102,", ",0999,")
    with pytest.raises(InputDataError):
        district.run(out)
    assert _snapshot(out) == before
    # and no temporary directories are left beside it
    assert sorted(p.name for p in out.parent.iterdir()) == ["DATA", "exports", "map.yml"]


def test_failed_import_creates_no_new_data_dir(district):
    district.replace("engagement.csv", ",4.2", ",9")
    with pytest.raises(InputDataError):
        district.run(district.root / "new" / "DATA")
    assert not (district.root / "new" / "DATA").exists()
    assert not any(p.name.startswith(".DATA") for p in (district.root / "new").glob("*"))


# -- validate ------------------------------------------------------------------------------------------

def test_validate_good_data_dir(district):
    out = district.run().out
    result = validate_dataset(out)
    assert result.rows["students"] == 3 and result.rows["attendance_daily"] == 3
    assert result.report().startswith(f"{out}: valid")


def test_validate_finds_problems_in_parquet(district):
    out = district.run().out
    st = pd.read_parquet(out / "students.parquet")
    st.loc[1, "grade_level"] = 20
    st.loc[2, "school_id"] = "9999"
    st.to_parquet(out / "students.parquet", index=False)
    with pytest.raises(ImportValidationError) as info:
        validate_dataset(out)
    errs = info.value.errors
    assert [(Path(e.path).name, e.row, e.column) for e in errs] == [
        ("students.parquet", 3, "grade_level"), ("students.parquet", 4, "school_id")]
    assert errs[1].value == "9999"


def test_validate_rejects_duplicate_keys_in_parquet(district):
    out = district.run().out
    att = pd.read_parquet(out / "attendance_daily.parquet")
    pd.concat([att, att.iloc[[0]]], ignore_index=True).to_parquet(out / "attendance_daily.parquet", index=False)
    with pytest.raises(InputDataError, match=r"row 5, column 'student_id'.*also appears in row 2"):
        validate_dataset(out)


def test_read_map_tables_mapping_form(tmp_path):
    p = tmp_path / "m.yml"
    p.write_text("tables:\n  partners:\n    rows: [{partner_id: P01, name: Hospital}]\n"
                 "  programs:\n    - rows: [{program_id: A, partner_id: P01, name: X, type: other}]\n",
                 encoding="utf-8")
    m = read_map(p)
    assert m.tables == ("partners", "programs")
    assert m.sources[0].columns == {"partner_id": "partner_id", "name": "name"}


def test_validate_demo_district(tmp_path):
    # the demo generator (data/synth.py) must write data that passes the same checks as an import
    synth = pytest.importorskip("partner_analysis.data.synth")
    out = synth.make_demo_district(tmp_path / "demo", students=300, partners=6, seed=3, with_records=False)
    result = validate_dataset(out)
    assert result.rows["students"] == 300
    assert result.rows["attendance_daily"] > 0
