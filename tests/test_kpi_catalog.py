"""KPI catalog: the shipped kpis.yml, district overrides, and errors that name the key."""
from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from partner_analysis.config import load_config
from partner_analysis.data.dataset import Dataset
from partner_analysis.exceptions import ConfigError
from partner_analysis.kpi.catalog import catalog_for, default_catalog_path, load_catalog
from partner_analysis.kpi.panel import build_panel

BUILT_INS = ["attendance_rate", "chronic_absence", "chronic_absence_15d", "gpa", "course_failure",
             "core_course_failure", "credits_earned", "on_track", "college_credits_earned", "any_college_credit",
             "engagement_score", "wbl_hours", "any_wbl"]


def test_shipped_catalog_has_the_issue_kpis():
    cat = load_catalog()
    assert list(cat.ids) == BUILT_INS
    assert default_catalog_path().exists()
    frame = cat.to_frame()
    assert set(frame.columns) >= {"kpi_id", "kpi_label", "source", "kind", "unit", "higher_is_better"}
    assert cat["chronic_absence"].kind == "binary" and cat["chronic_absence"].higher_is_better is False
    assert cat["gpa"].kind == "continuous" and cat["gpa"].measure.weight == "credits_attempted"
    assert cat["on_track"].scope == "year_to_date" and len(cat["on_track"].all_of) == 2


def _tiny_dataset():
    cfg = load_config()
    students = pd.DataFrame({"student_id": ["0007", "0042"], "school_id": ["0101", "0101"], "grade_level": [9, 9]})
    cg = pd.DataFrame({"student_id": ["0007", "0007", "0042"], "term_id": ["2025-26-Q1"] * 3,
                       "course_id": ["BIO", "ART", "BIO"], "subject": ["science", "art", "science"],
                       "mark": ["B", "A", "D"], "credits_attempted": [1.0, 1.0, 1.0],
                       "credits_earned": [1.0, 1.0, 1.0], "honors": [True, False, False]})
    return Dataset(config=cfg, tables={"students": students, "course_grades": cg})


def test_district_adds_a_kpi_by_editing_yaml_only(tmp_path):
    (tmp_path / "kpis.yml").write_text(textwrap.dedent("""
        extends: default
        kpis:
          - id: honors_credits
            label: Honours credits earned
            source: course_grades
            kind: continuous
            unit: credits
            higher_is_better: true
            aggregate: sum
            column: credits_earned
            filter: {honors: true}
          - id: d_or_f_core
            label: D or F in a core course
            source: course_grades
            kind: binary
            higher_is_better: false
            aggregate: max
            column: grade_points
            filter: {is_core: true}
            threshold: {op: "<=", value: 1.0}
        """), encoding="utf-8")
    cat = load_catalog(tmp_path)
    assert cat.ids[:len(BUILT_INS)] == tuple(BUILT_INS)  # built-ins kept, new ones appended
    assert cat.ids[-2:] == ("honors_credits", "d_or_f_core")
    ds = _tiny_dataset()
    ds.path = tmp_path  # a DATA_DIR with its own kpis.yml
    assert "honors_credits" in catalog_for(ds)
    panel = build_panel(ds, terms="2025-26-Q1", kpis=["honors_credits", "d_or_f_core"], catalog=cat)
    got = panel.pivot(index="student_id", columns="kpi_id", values="value")
    # 0007: honours BIO (1 credit); 0042: no honours course -> 0, not missing
    assert got.loc["0007", "honors_credits"] == 1.0
    assert got.loc["0042", "honors_credits"] == 0.0
    # best core grade points: 0007 B (3) -> 0; 0042 D (1) -> 1
    assert got.loc["0007", "d_or_f_core"] == 0.0 and got.loc["0042", "d_or_f_core"] == 1.0


def test_district_catalog_without_extends_replaces_the_default(tmp_path):
    f = tmp_path / "mine.yml"
    f.write_text("kpis:\n  - {id: gpa, label: GPA, source: course_grades, kind: continuous, aggregate: mean,"
                 " column: grade_points}\n", encoding="utf-8")
    assert load_catalog(f).ids == ("gpa",)


def test_config_thresholds_drive_kpis(tmp_path):
    cfg = load_config()
    students = pd.DataFrame({"student_id": ["1", "2"], "school_id": ["0101"] * 2, "grade_level": [9, 9]})
    att = pd.DataFrame({"student_id": ["1", "2"], "term_id": ["2025-26-Q1"] * 2, "days_enrolled": [40.0, 40.0],
                        "days_absent": [3.0, 5.0]})  # 7.5 % and 12.5 %
    ds = Dataset(config=cfg, tables={"students": students, "attendance_terms": att})
    p = build_panel(ds, terms="2025-26-Q1", kpis=["chronic_absence"]).set_index("student_id")["value"]
    assert list(p) == [0.0, 1.0]
    import dataclasses
    strict = dataclasses.replace(cfg, thresholds={**cfg.thresholds, "chronic_absence_rate": 0.05})
    ds2 = Dataset(config=strict, tables=ds.tables)
    p2 = build_panel(ds2, terms="2025-26-Q1", kpis=["chronic_absence"]).set_index("student_id")["value"]
    assert list(p2) == [1.0, 1.0]


@pytest.mark.parametrize("body, match", [
    pytest.param("kpis:\n  - {id: x, label: X, source: attendance, kind: ordinal, aggregate: sum, column: a}\n",
                 "kind", id="bad-kind"),
    pytest.param("kpis:\n  - {id: x, label: X, source: gradebook, kind: binary, aggregate: any, column: a}\n",
                 "source", id="bad-source"),
    pytest.param("kpis:\n  - {id: x, label: X, source: attendance, kind: continuous, aggregate: ratio,"
                 " numerator: a}\n", "denominator", id="ratio-without-denominator"),
    pytest.param("kpis:\n  - {id: x, label: X, source: attendance, kind: continuous, aggregate: sum, column: a,"
                 " threshold: {op: '>', value: 1}}\n", "binary", id="threshold-on-continuous"),
    pytest.param("kpis:\n  - {id: x, label: X, source: attendance, kind: binary, aggregate: sum, colum: a}\n",
                 "unknown keys", id="typo-key"),
    pytest.param("kpis: [\n", "not valid YAML", id="yaml"),
    pytest.param("kpis:\n  - {id: x, label: X, source: attendance, kind: binary, aggregate: any, column: a}\n"
                 "  - {id: x, label: Y, source: attendance, kind: binary, aggregate: any, column: a}\n",
                 "unique", id="duplicate-id"),
])
def test_malformed_catalog_names_the_problem(tmp_path, body, match):
    f = tmp_path / "kpis.yml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as err:
        load_catalog(f)
    assert err.value.path == str(f)


def test_unknown_kpi_and_missing_column_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="unknown KPI 'gpx'"):
        load_catalog()["gpx"]
    f = tmp_path / "k.yml"
    f.write_text("kpis:\n  - {id: x, label: X, source: course_grades, kind: continuous, aggregate: sum,"
                 " column: no_such_column}\n", encoding="utf-8")
    from partner_analysis.exceptions import InputDataError
    with pytest.raises(InputDataError, match="no_such_column"):
        build_panel(_tiny_dataset(), catalog=load_catalog(f))


def test_threshold_from_config_without_default_is_a_config_error(tmp_path):
    f = tmp_path / "k.yml"
    f.write_text("kpis:\n  - {id: x, label: X, source: course_grades, kind: binary, aggregate: sum,"
                 " column: credits_earned, threshold: {op: '>=', value: {config: not_in_district_yml}}}\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError, match="not_in_district_yml"):
        build_panel(_tiny_dataset(), catalog=load_catalog(f))


def test_a_kpi_may_declare_another_prior(tmp_path):
    # issue #11: e.g. UCI's first-period grade as the prior of the final grade
    from partner_analysis.kpi.catalog import load_catalog
    path = tmp_path / "kpis.yml"
    path.write_text("extends: default\nkpis:\n"
                    "  - {id: first_grade, label: G1, source: course_grades, kind: continuous, aggregate: mean,"
                    " column: mark_value}\n"
                    "  - {id: final_grade, label: G3, source: course_grades, kind: continuous, aggregate: mean,"
                    " column: mark_value, prior: {kpi: first_grade, term: same_term}}\n", encoding="utf-8")
    cat = load_catalog(path)
    assert (cat["final_grade"].prior_kpi, cat["final_grade"].prior_term) == ("first_grade", "same_term")
    assert (cat["gpa"].prior_kpi, cat["gpa"].prior_term) == ("gpa", "same_term_last_year")
    path.write_text("kpis:\n  - {id: g, label: G, source: course_grades, kind: continuous, aggregate: mean,"
                    " column: mark_value, prior: nowhere}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nowhere"):
        load_catalog(path)
    path.write_text("kpis:\n  - {id: g, label: G, source: course_grades, kind: continuous, aggregate: mean,"
                    " column: mark_value, prior: {kpi: g, term: next_year}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="prior.term"):
        load_catalog(path)
