"""`partner-analysis import` and `validate` from the command line: exit codes, one-line errors, no tracebacks."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SIS = ROOT / "examples" / "sis_csv"


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "partner_analysis", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def sis_copy(tmp_path) -> Path:
    dst = tmp_path / "sis"
    shutil.copytree(SIS, dst)
    return dst


def test_import_example_sis_export_then_validate(tmp_path):
    out = tmp_path / "DATA"
    res = _cli("import", SIS, "--map", SIS / "map.yml", "--out", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"Imported 8 tables into {out}")
    # the example holds one repeated attendance line and two look-alike students (000107/000108)
    assert "Dropped 1 exact duplicate row(s)." in res.stdout
    assert "Possible duplicates: 1 group(s), 2 record(s)" in res.stdout
    assert "000107" not in res.stdout
    ids = pd.read_parquet(out / "students.parquet")["student_id"].tolist()
    assert ids[:2] == ["000101", "000102"]
    res = _cli("validate", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{out}: valid (8 tables)")


def test_bad_value_exits_2_with_one_line_and_no_traceback(sis_copy, tmp_path):
    f = sis_copy / "students.csv"
    f.write_bytes(f.read_bytes().replace(b"000104,Diallo,0102,9,", b"000104,Diallo,0102,nine,"))
    out = tmp_path / "DATA"
    res = _cli("import", sis_copy, "--map", sis_copy / "map.yml", "--out", out)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0] == (f"error: {sis_copy / 'students.csv'}, row 5, column 'Grade': expected grade_level as a "
                        "whole number from -1 to 13, found 'nine'. Correct the value in the file, or add a "
                        "`recode:`/`date_format:` for it in the map")
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert not out.exists()


def test_several_problems_listed_together(sis_copy, tmp_path):
    (sis_copy / "wbl_hours.csv").write_text("Student Number,Program,Date,Hours\n000101,P01-A,07/04/2025,-3\n",
                                            encoding="utf-8")
    res = _cli("import", sis_copy, "--map", sis_copy / "map.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: 2 problems found in the import")
    assert "column 'Hours'" in lines[1] + lines[2] and "column 'Date'" in lines[1] + lines[2]
    assert "Traceback" not in res.stderr


def test_missing_map_and_validate_of_a_non_dataset(tmp_path):
    res = _cli("import", SIS, "--map", tmp_path / "nope.yml", "--out", tmp_path / "DATA")
    assert res.returncode == 2 and "column map not found" in res.stderr and "Traceback" not in res.stderr
    res = _cli("validate", tmp_path)
    assert res.returncode == 2 and "no district.yml" in res.stderr and "Traceback" not in res.stderr


def test_debug_flag_shows_the_traceback(sis_copy, tmp_path):
    (sis_copy / "grades.csv").write_text("nothing useful\n", encoding="utf-8")
    res = _cli("--debug", "import", sis_copy, "--map", sis_copy / "map.yml", "--out", tmp_path / "DATA")
    assert res.returncode != 0 and "Traceback" in res.stderr
