"""OneRoster 1.1 CSV exports: read_oneroster(), the `oneroster:` map entry, and the example via the CLI."""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from partner_analysis.data.dataset import read_dataset
from partner_analysis.data.load import ImportValidationError, import_source, read_map
from partner_analysis.data.oneroster import read_oneroster
from partner_analysis.exceptions import InputDataError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "oneroster"

MANIFEST = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.academicSessions,bulk\n"
            "file.classes,bulk\nfile.courses,bulk\nfile.demographics,bulk\nfile.enrollments,bulk\n"
            "file.orgs,bulk\nfile.users,bulk\nfile.results,absent\nsource.systemName,Test SIS\n")
ORGS = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId,metadata.nces\n"
        "d1,,,Test District,district,TD,,x\n"
        "s1,,,North High,school,0101,d1,x\n"
        "s2,active,,South Middle,school,0201,d1,x\n"
        "s3,,,Charter Academy,school,,d1,x\n"          # no identifier: its sourcedId is the school_id
        "s9,tobedeleted,,Closed School,school,0999,d1,x\n")
USERS_HEADER = ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
                "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,"
                "ext_vendor_flag,metadata.lunch\n")
# user sourcedId, status, orgSourcedIds, role, identifier, grades
USERS = [("u1", "", "d1,s1", "student", "000101", "09"),
         ("u2", "", "s1", "student", "000102", "KG"),
         ("u3", "active", "s2", "student", "000103", "PK"),
         ("u4", "", "s2", "student", "", "01"),             # no identifier: student_id is sourcedId u4
         ("u5", "", "s3", "student", "000105", "13"),
         ("u6", "tobedeleted", "s9", "student", "000106", "UG"),  # dropped with its closed school
         ("t1", "", "s1", "teacher", "T01", ""),
         ("p1", "", "s1", "parent", "", "")]
DEMO_HEADER = ("sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,"
               "blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,"
               "hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,"
               "publicSchoolResidenceStatus,ext_x\n")
# sourcedId, birthDate, sex, aian, asian, black, nhpi, white, twoOrMore, hispanic
DEMO = [("u1", "2010-03-14", "female", "false", "false", "false", "false", "true", "false", "true"),
        ("u2", "2019-09-01", "male", "false", "false", "false", "false", "true", "false", "false"),
        ("u3", "2020-10-10", "female", "false", "true", "true", "false", "false", "false", "false"),
        ("u4", "2018-01-02", "", "", "", "", "", "", "", ""),
        ("u5", "2007-12-31", "male", "false", "false", "false", "false", "false", "true", "false"),
        ("t1", "1980-01-01", "female", "false", "false", "false", "false", "true", "false", "false")]

# The answer, worked out by hand from the rows above.
COLUMNS = ["student_id", "school_id", "grade_level", "birth_date", "gender", "race_ethnicity"]
EXPECTED_ROWS = [("000101", "0101", 9, "2010-03-14", "F", "Hispanic/Latino"),
                 ("000102", "0101", 0, "2019-09-01", "M", "White"),
                 ("000103", "0201", -1, "2020-10-10", "F", "Two or more races"),
                 ("u4", "0201", 1, "2018-01-02", None, None),
                 ("000105", "s3", 13, "2007-12-31", "M", "Two or more races")]

OTHER_TABLES = [
    {"table": "partners", "rows": [{"partner_id": "P01", "name": "Riverbend Hospital", "sector": "healthcare"}]},
    {"table": "programs", "rows": [{"program_id": "P01-A", "partner_id": "P01", "name": "Internship",
                                    "type": "internship"}]},
    {"table": "participation", "rows": [{"student_id": "000101", "program_id": "P01-A",
                                         "start_date": "2025-09-02", "hours": 12}]},
    {"table": "attendance_daily", "rows": [{"student_id": "000101", "date": "2025-08-18", "status": "present"},
                                           {"student_id": "u4", "date": "2025-08-18", "status": "unexcused"}]},
]


def _csv(header: str, rows) -> str:
    return header + "".join(",".join(_quote(v) for v in r) + "\n" for r in rows)


def _quote(v: str) -> str:
    return f'"{v}"' if "," in v else v


def _users(rows=USERS) -> str:
    return _csv(USERS_HEADER, [(s, st, "", "true", orgs, role, f"user{i}", "", "G", "F", "", ident, "", "", "",
                                "", grades, "", "Y", "free")
                               for i, (s, st, orgs, role, ident, grades) in enumerate(rows)])


def _demographics(rows=DEMO) -> str:
    return _csv(DEMO_HEADER, [(s, "", "", *rest, "US", "", "", "", "z") for s, *rest in rows])


def base_files() -> dict[str, str]:
    return {"manifest.csv": MANIFEST, "orgs.csv": ORGS, "users.csv": _users(), "demographics.csv": _demographics(),
            "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
                               "primary,beginDate,endDate\n",
            "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,"
                           "location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n",
            "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
                           "orgSourcedId,subjects,subjectCodes\n",
            "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
                                    "parentSourcedId,schoolYear\n"}


def write_export(root: Path, files: dict[str, str | None], *, as_zip: bool = False, bom: bool = False,
                 folder_in_zip: str = "") -> Path:
    """Write the export as a folder ``root/export`` or a zip ``root/export.zip``; ``None`` leaves a file out."""
    root.mkdir(parents=True, exist_ok=True)
    data = {n: ("\ufeff" if bom else "") .encode() + t.encode() for n, t in files.items() if t is not None}
    if as_zip:
        path = root / "export.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for n, b in data.items():
                zf.writestr(folder_in_zip + n, b)
        return path
    path = root / "export"
    path.mkdir()
    for n, b in data.items():
        (path / n).write_bytes(b)
    return path


def write_map(root: Path, export_name: str, *, tables=None) -> Path:
    entries = [{"oneroster": export_name}, *OTHER_TABLES] if tables is None else tables
    path = root / "map.yml"
    path.write_text(yaml.safe_dump({"tables": entries}, sort_keys=False), encoding="utf-8")
    return path


def run_import(tmp_path: Path, files=None, **kw):
    export = write_export(tmp_path / "src", base_files() if files is None else files, **kw)
    mp = write_map(tmp_path / "src", export.name)
    out = tmp_path / "DATA"
    return import_source(tmp_path / "src", map_path=mp, out=out), out


def _students_as_text(frame: pd.DataFrame) -> list[tuple]:
    """Student rows as plain Python values (dates as ISO text, missing as None), for exact comparison."""
    f = frame[COLUMNS].copy()
    f["birth_date"] = f["birth_date"].dt.strftime("%Y-%m-%d")
    return [tuple(None if pd.isna(v) else (int(v) if c == "grade_level" else str(v)) for c, v in zip(f.columns, r))
            for r in f.itertuples(index=False)]


# -- good exports --------------------------------------------------------------------------------

def test_folder_export_with_sis_tables_imports_and_reads_back(tmp_path):
    result, out = run_import(tmp_path)
    assert result.rows == {"schools": 3, "students": 5, "partners": 1, "programs": 1, "participation": 1,
                           "attendance_daily": 2}
    ds = read_dataset(out)
    assert _students_as_text(ds["students"]) == EXPECTED_ROWS
    schools = ds["schools"]
    assert schools["school_id"].tolist() == ["0101", "0201", "s3"]       # the tobedeleted school is gone
    assert schools["name"].tolist() == ["North High", "South Middle", "Charter Academy"]
    # vendor columns are not carried into the dataset; attendance joins on the OneRoster identifiers
    assert list(ds["students"].columns) == COLUMNS
    assert set(ds["attendance_daily"]["student_id"]) <= set(ds["students"]["student_id"])
    # the import warns that s3 is missing from the embedded district.yml (0101 and 0201 are in it)
    assert any("not listed in the district config (s3)" in w for w in result.warnings)


def test_zip_with_bom_and_subfolder_reads_like_the_folder(tmp_path):
    folder = read_oneroster(write_export(tmp_path / "a", base_files()))
    zipped = read_oneroster(write_export(tmp_path / "b", base_files(), as_zip=True, bom=True,
                                         folder_in_zip="oneroster_export/"))
    for name in ("schools", "students"):
        pd.testing.assert_frame_equal(folder[name], zipped[name])
    assert _students_as_text(zipped["students"]) == EXPECTED_ROWS
    assert list(zipped["students"].columns) == COLUMNS and list(zipped["schools"].columns) == ["school_id", "name"]
    assert str(zipped["students"]["student_id"].dtype) == "string"
    assert str(zipped["students"]["grade_level"].dtype) == "Int64"


def test_zip_export_through_the_map(tmp_path):
    result, out = run_import(tmp_path, as_zip=True, bom=True)
    assert _students_as_text(read_dataset(out)["students"]) == EXPECTED_ROWS


def test_headers_matched_by_name_in_any_order_and_case(tmp_path):
    files = base_files()
    frame = pd.read_csv(io.StringIO(files["users.csv"]), dtype=str, keep_default_na=False)
    frame = frame[list(reversed(frame.columns))].rename(columns={"orgSourcedIds": " OrgSourcedIds ",
                                                                  "grades": "Grades"})
    files["users.csv"] = frame.to_csv(index=False)
    got = read_oneroster(write_export(tmp_path, files))
    assert _students_as_text(got["students"]) == EXPECTED_ROWS


def test_grade_codes_and_unpadded_numbers(tmp_path):
    codes = ["PK", "TK", "KG", "K", "01", "1", "05", "09", "10", "12", "13", "kg"]
    rows = [(f"g{i}", "", "s1", "student", f"{i:04d}", c) for i, c in enumerate(codes)]
    files = base_files()
    files["users.csv"] = _users(rows)
    got = read_oneroster(write_export(tmp_path, files))["students"]
    assert got["grade_level"].tolist() == [-1, -1, 0, 0, 1, 1, 5, 9, 10, 12, 13, 0]
    assert got["student_id"].tolist() == [f"{i:04d}" for i in range(len(codes))]   # zeros kept
    assert got["gender"].isna().all()   # no demographics rows for these users


def test_demographics_absent_in_manifest_leaves_columns_empty(tmp_path):
    files = base_files()
    files["manifest.csv"] = MANIFEST.replace("file.demographics,bulk", "file.demographics,absent")
    # a stale demographics.csv next to it is ignored, as the manifest says
    files["demographics.csv"] = "sourcedId,sex\nu1,nonsense\n"
    got = read_oneroster(write_export(tmp_path, files))["students"]
    assert got[["birth_date", "gender", "race_ethnicity"]].isna().all().all()
    assert len(got) == 5


def test_map_forms_are_equivalent(tmp_path):
    export = write_export(tmp_path, base_files(), as_zip=True)
    for i, entry in enumerate([{"oneroster": "export.zip"}, {"format": "oneroster", "file": "export.zip"}]):
        mp = write_map(tmp_path, export.name, tables=[entry, *OTHER_TABLES])
        assert [s.table for s in read_map(mp).sources][:2] == ["schools", "students"]
        import_source(tmp_path, map_path=mp, out=tmp_path / f"D{i}")
    mp = tmp_path / "map2.yml"
    mp.write_text(yaml.safe_dump({"tables": {"oneroster": "export.zip", "partners": OTHER_TABLES[0]}}))
    import_source(tmp_path, map_path=mp, out=tmp_path / "D2")
    for i in range(3):
        assert _students_as_text(read_dataset(tmp_path / f"D{i}")["students"]) == EXPECTED_ROWS


# -- bad exports ---------------------------------------------------------------------------------

def _only_error(excinfo) -> InputDataError:
    err = excinfo.value
    assert isinstance(err, ImportValidationError)
    assert err.n_errors == 1, str(err)
    return err.errors[0]


def test_delta_export_is_refused_once_naming_the_manifest_line(tmp_path):
    files = base_files()
    files["manifest.csv"] = MANIFEST.replace("file.users,bulk", "file.users,delta")
    with pytest.raises(ImportValidationError) as ei:
        run_import(tmp_path, files)
    e = _only_error(ei)
    assert e.path.endswith("manifest.csv") and e.row == 10 and e.column == "value" and e.value == "delta"
    assert "delta" in e.problem and "full roster" in e.problem and "bulk" in e.fix
    assert not (tmp_path / "DATA").exists()


def test_missing_users_csv_is_named(tmp_path):
    files = base_files()
    files["users.csv"] = None
    with pytest.raises(ImportValidationError) as ei:
        run_import(tmp_path, files, as_zip=True)
    e = _only_error(ei)
    assert e.path == str(tmp_path / "src" / "export.zip" / "users.csv")
    assert e.problem == "users.csv is not in the OneRoster export"
    assert "users.csv" in e.fix and "declares it bulk" in e.fix


def test_users_declared_absent_is_named_in_the_manifest(tmp_path):
    files = base_files()
    files["manifest.csv"] = MANIFEST.replace("file.users,bulk", "file.users,absent")
    with pytest.raises(InputDataError) as ei:
        read_oneroster(write_export(tmp_path, files))
    e = _only_error(ei)
    assert e.path.endswith("manifest.csv") and e.row == 10 and e.value == "absent"


def test_student_of_unknown_school_names_file_row_column_and_value(tmp_path):
    rows = list(USERS)
    rows[2] = ("u3", "", "d1,sX", "student", "000103", "PK")     # users.csv row 4
    files = base_files()
    files["users.csv"] = _users(rows)
    with pytest.raises(ImportValidationError) as ei:
        run_import(tmp_path, files)
    e = _only_error(ei)
    assert e.path == str(tmp_path / "src" / "export" / "users.csv")
    assert (e.row, e.column, e.value) == (4, "orgSourcedIds", "d1,sX")
    assert "names no school of orgs.csv" in e.problem and "s1, s2, s3" in e.fix
    # the one-line message carries all of it
    assert str(ei.value).startswith(f"{e.path}, row 4, column 'orgSourcedIds': orgSourcedIds 'd1,sX' names no")


def test_school_marked_tobedeleted_no_longer_places_students(tmp_path):
    rows = [r if r[0] != "u6" else ("u6", "", "s9", "student", "000106", "12") for r in USERS]
    files = base_files()
    files["users.csv"] = _users(rows)
    with pytest.raises(ImportValidationError) as ei:
        read_oneroster(write_export(tmp_path, files))
    e = _only_error(ei)
    assert (e.row, e.column, e.value) == (7, "orgSourcedIds", "s9")


def test_unknown_grade_code_and_bad_demographics_are_all_listed(tmp_path):
    rows = list(USERS)
    rows[1] = ("u2", "", "s1", "student", "000102", "UG")            # users.csv row 3
    demo = list(DEMO)
    demo[0] = ("u1", "03/14/2010", "F", "false", "false", "false", "false", "maybe", "false", "true")
    files = base_files()
    files["users.csv"] = _users(rows)
    files["demographics.csv"] = _demographics(demo)
    with pytest.raises(ImportValidationError) as ei:
        read_oneroster(write_export(tmp_path, files))
    err = ei.value
    found = {(Path(e.path).name, e.row, e.column, e.value) for e in err.errors}
    assert found == {("users.csv", 3, "grades", "UG"), ("demographics.csv", 2, "birthDate", "03/14/2010"),
                     ("demographics.csv", 2, "sex", "F"), ("demographics.csv", 2, "white", "maybe")}
    assert err.n_errors == 4 and str(err).startswith("4 problems found in the OneRoster export")


def test_duplicate_student_identifier_is_caught_by_the_import_checks(tmp_path):
    rows = list(USERS)
    rows[1] = ("u2", "", "s1", "student", "000101", "10")     # same identifier as u1 (row 2), other grade
    files = base_files()
    files["users.csv"] = _users(rows)
    with pytest.raises(ImportValidationError) as ei:
        run_import(tmp_path, files)
    e = _only_error(ei)
    assert Path(e.path).name == "users.csv" and e.row == 3 and e.column == "identifier"
    assert "also appears in row 2" in e.problem
    # read_oneroster runs the same checks (validate_tables) and names the same row
    with pytest.raises(ImportValidationError) as ei:
        read_oneroster(tmp_path / "src" / "export")
    e = _only_error(ei)
    assert Path(e.path).name == "users.csv" and e.row == 3 and e.value == "000101"


def test_missing_required_header_and_unknown_map_key(tmp_path):
    files = base_files()
    files["orgs.csv"] = ORGS.replace(",type,", ",kind,")
    with pytest.raises(ImportValidationError) as ei:
        run_import(tmp_path, files)
    e = _only_error(ei)
    assert Path(e.path).name == "orgs.csv" and e.row == 1 and e.column == "type"
    mp = write_map(tmp_path, "export", tables=[{"oneroster": "export", "columns": {"a": "b"}}])
    with pytest.raises(InputDataError) as ei:
        read_map(mp)
    assert ei.value.column == "columns" and ei.value.path == str(mp)


def test_not_a_zip_and_no_manifest(tmp_path):
    bad = tmp_path / "export.zip"
    bad.write_text("not a zip")
    with pytest.raises(InputDataError, match="not a readable zip file"):
        read_oneroster(bad)
    files = base_files()
    files["manifest.csv"] = None
    with pytest.raises(InputDataError) as ei:
        read_oneroster(write_export(tmp_path / "x", files))
    assert _only_error(ei).path.endswith("manifest.csv")


# -- the committed example, end to end through the CLI ---------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "partner_analysis", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_example_imports_and_validates_via_cli(tmp_path):
    out = tmp_path / "DATA"
    res = _cli("import", EXAMPLE, "--map", EXAMPLE / "map.yml", "--out", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"Imported 6 tables into {out}")
    ds = read_dataset(out)
    st = ds["students"]
    assert st["student_id"].tolist() == ["000201", "000202", "000203", "000204"]   # 000205 is tobedeleted
    assert st["school_id"].tolist() == ["0101", "0101", "0102", "0102"]
    assert st["grade_level"].tolist() == [9, 10, 11, 12]
    assert st["race_ethnicity"].tolist() == ["Hispanic/Latino", "White", "Asian", "Two or more races"]
    assert ds["schools"]["school_id"].tolist() == ["0101", "0102"]
    assert len(ds["participation"]) == 2 and len(ds["attendance_daily"]) == 4
    res = _cli("validate", out)
    assert res.returncode == 0, res.stderr


def test_bad_example_exits_2_with_one_line(tmp_path):
    src = tmp_path / "oneroster"
    shutil.copytree(EXAMPLE, src)
    users = src / "export" / "users.csv"
    users.write_bytes(users.read_bytes().replace(b"org-s2,student,casey.c", b"org-s7,student,casey.c"))
    out = tmp_path / "DATA"
    res = _cli("import", src, "--map", src / "map.yml", "--out", out)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"error: {users}, row 4, column 'orgSourcedIds': orgSourcedIds 'org-s7' names no "
                               "school of orgs.csv")
    assert "Traceback" not in res.stderr and res.stdout == "" and not out.exists()
