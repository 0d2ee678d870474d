"""KPI filters on any schema column (issue #16): text columns such as `subject`, bool columns such as
`is_core` and `college_credit`, checked against the schema before anything is computed."""
from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from partner_analysis.config import load_config
from partner_analysis.data.dataset import Dataset
from partner_analysis.exceptions import InputDataError
from partner_analysis.kpi.catalog import load_catalog
from partner_analysis.kpi.panel import build_panel


def _dataset():
    students = pd.DataFrame({"student_id": ["0007", "0042"], "school_id": ["0101", "0101"], "grade_level": [9, 9]})
    cg = pd.DataFrame({"student_id": ["0007", "0007", "0007", "0042", "0042"], "term_id": ["2025-26-Q1"] * 5,
                       "course_id": ["ALG", "BIO", "CALC", "ALG", "ART"],
                       "subject": ["math", "science", "math", "math", "art"],
                       "mark": ["B", "A", "C", "F", "A"], "credits_attempted": [1.0, 1.0, 0.5, 1.0, 1.0],
                       "credits_earned": [1.0, 1.0, 0.5, 0.0, 1.0],
                       "college_credit": [False, False, True, False, False]})
    return Dataset(config=load_config(), tables={"students": students, "course_grades": cg})


def _catalog(tmp_path, filters: str):
    (tmp_path / "kpis.yml").write_text(textwrap.dedent(f"""
        kpis:
          - {{id: math_gpa, label: Math GPA, source: course_grades, kind: continuous, aggregate: weighted_mean,
             column: grade_points, weight: credits_attempted, filter: {filters}}}
        """), encoding="utf-8")
    return load_catalog(tmp_path / "kpis.yml")


def test_filter_on_a_text_column_of_the_schema(tmp_path):
    panel = build_panel(_dataset(), terms="2025-26-Q1", catalog=_catalog(tmp_path, "{subject: math}"))
    got = panel.set_index("student_id")["value"]
    # 0007: ALG B (3, 1 credit) and CALC C (2, 0.5 credit) -> (3 + 1) / 1.5; 0042: ALG F -> 0
    assert got["0007"] == pytest.approx(4 / 1.5) and got["0042"] == 0.0


def test_filter_on_bool_columns_and_lists(tmp_path):
    panel = build_panel(_dataset(), terms="2025-26-Q1",
                        catalog=_catalog(tmp_path, "{college_credit: true, subject: [math, science]}"))
    got = panel.set_index("student_id")["value"]
    assert got["0007"] == pytest.approx(2.0)  # CALC only
    assert "0042" not in got.index or pd.isna(got.get("0042"))


def test_unknown_filter_column_names_the_kpi_and_the_column(tmp_path):
    with pytest.raises(InputDataError) as err:
        build_panel(_dataset(), terms="2025-26-Q1", catalog=_catalog(tmp_path, "{subjet: math}"))
    assert err.value.column == "subjet" and err.value.path == str(tmp_path / "kpis.yml")
    assert "KPI 'math_gpa' names the column 'subjet'" in str(err.value)
    assert "Did you mean 'subject'?" in str(err.value)
