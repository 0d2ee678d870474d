"""Real data: UCI Student Performance imported through the committed column maps (examples/uci/)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from partner_analysis.data.dataset import read_dataset
from partner_analysis.data.load import import_source, validate_dataset

MAPS = Path(__file__).resolve().parents[1] / "examples" / "uci"
# the 13 attributes of the codebook's R script (student.txt, "student-merge.R")
MATCH = ["school", "sex", "age", "address", "famsize", "Pstatus", "Medu", "Fedu", "Mjob", "Fjob", "reason",
         "nursery", "internet"]


def test_math_import(uci_dir, tmp_path):
    result = import_source(uci_dir, map_path=MAPS / "uci_map.yml", out=tmp_path / "mat")
    ds = read_dataset(result.out)
    assert result.rows["students"] == 395
    assert ds["students"]["student_id"].iloc[[0, -1]].tolist() == ["M0001", "M0395"]
    assert ds["students"]["school_id"].value_counts().to_dict() == {"GP": 349, "MS": 46}  # data-standards.md
    # statistics.md §9: schoolsup == "yes" -> 51 participants (n_T) and 344 others (n_C)
    part = ds["participation"]
    assert len(part) == 51 and set(part["program_id"]) == {"SUP-1"}
    cg = ds["course_grades"]
    assert len(cg) == 395
    marks = pd.to_numeric(cg["mark"])
    # data-standards.md: G3 math mean 10.415, SD 4.581, 38 zeros
    assert marks.mean() == pytest.approx(10.415, abs=5e-4)
    assert marks.std() == pytest.approx(4.581, abs=5e-4)
    assert int((marks == 0).sum()) == 38
    # statistics.md §9 pass rates (G3 >= 10): participants 0.5490, others 0.6890
    earned = cg.set_index("student_id")["credits_earned"]
    is_part = earned.index.isin(part["student_id"])
    assert earned[is_part].mean() == pytest.approx(0.5490, abs=5e-5)
    assert earned[~is_part].mean() == pytest.approx(0.6890, abs=5e-5)
    att = ds["attendance_terms"]
    assert att["days_absent"].mean() == pytest.approx(5.709, abs=5e-4)
    assert att["days_absent"].max() == 75 and set(att["days_enrolled"]) == {180.0}
    assert validate_dataset(result.out).rows["students"] == 395


def test_portuguese_import(uci_dir, tmp_path):
    result = import_source(uci_dir, map_path=MAPS / "uci_por_map.yml", out=tmp_path / "por")
    ds = read_dataset(result.out)
    assert result.rows["students"] == 649 and result.rows["course_grades"] == 649
    assert len(ds["participation"]) == 68  # statistics.md §9 n_T
    assert pd.to_numeric(ds["course_grades"]["mark"]).mean() == pytest.approx(11.906, abs=5e-4)
    assert ds["attendance_terms"]["days_absent"].mean() == pytest.approx(3.659, abs=5e-4)


def test_students_in_both_files_found_as_possible_duplicates(uci_dir, tmp_path):
    result = import_source(uci_dir, map_path=MAPS / "uci_both_map.yml", out=tmp_path / "both")
    assert result.rows["students"] == 395 + 649
    # the two included maps both declare the school-support partner and program: exact repeats, dropped
    assert result.dropped_duplicates["partners"] == 1 and result.dropped_duplicates["programs"] == 1
    found = pd.read_csv(result.possible_duplicates_path, dtype=str)
    assert set(found["table"]) == {"students"}
    found["course"] = found["student_id"].str[0]
    counts = found.groupby("group")["course"].value_counts().unstack(fill_value=0)
    mixed = counts[(counts["M"] > 0) & (counts["P"] > 0)]
    # Measured (examples/uci/README.md): 369 groups share all 13 attributes; 366 mix math and Portuguese
    # records (370 math + 374 Portuguese records); 3 hold Portuguese records only.
    assert result.possible_duplicate_groups == 369
    assert len(mixed) == 366
    assert (int(mixed["M"].sum()), int(mixed["P"].sum())) == (370, 374)
    # Independent check: the math x Portuguese pairs inside our groups are exactly the rows of the codebook's
    # merge(d1, d2, by = 13 attributes), which the codebook counts as the 382 students in both files.
    mat = pd.read_csv(uci_dir / "student-mat.csv", sep=";", dtype=str)
    por = pd.read_csv(uci_dir / "student-por.csv", sep=";", dtype=str)
    merged = mat.merge(por, on=MATCH)
    assert len(merged) == 382
    assert int((mixed["M"] * mixed["P"]).sum()) == len(merged)
    # and the IDs match row for row: math row i is M{i:04d}, Portuguese row j is P{j:04d}
    mat["student_id"] = [f"M{i + 1:04d}" for i in range(len(mat))]
    por["student_id"] = [f"P{i + 1:04d}" for i in range(len(por))]
    pairs = set(map(tuple, mat.merge(por, on=MATCH)[["student_id_x", "student_id_y"]].to_numpy().tolist()))
    ours = set()
    for _, g in found.groupby("group"):
        ms, ps = g.loc[g["course"] == "M", "student_id"], g.loc[g["course"] == "P", "student_id"]
        ours |= {(m, p) for m in ms for p in ps}
    assert ours == pairs
