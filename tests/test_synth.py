"""The synthetic demo district: reproducibility, schema conformity, realism.

Realism ranges are the ones stated in ``partner_analysis.data.synth``'s module docstring; every
statistic here is recomputed from the written tables with plain pandas, independently of the generator.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import sys
import types

import numpy as np
import pandas as pd
import pytest

from partner_analysis.config import config_from_dict, load_config
from partner_analysis.data.dataset import read_dataset
from partner_analysis.data.schema import ABSENT_STATUSES, TABLES
from partner_analysis.data.synth import WBL_TYPES, generate_demo_tables, make_demo_district
from partner_analysis.exceptions import ConfigError

N = 600
SEED = 7   # the sizes of conftest's demo_dir

#: The demo district's attendance is daily-positive: it has no enrolment spans, school calendar or exception
#: events (the tables of exceptions-only attendance, issue #16).
GENERATED = [n for n in TABLES if n not in ("enrollment", "school_days", "school_sessions", "attendance_events")]


@pytest.fixture(scope="module")
def tables():
    return generate_demo_tables(students=N, partners=8, seed=SEED)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "district"
    make_demo_district(out, students=400, partners=8, seed=11, with_records=False)
    return out


def _year_of(term_ids: pd.Series) -> pd.Series:
    return term_ids.astype(str).str[:7]


@pytest.fixture(scope="module")
def yearly(tables):
    """Per student and school year: days enrolled, days absent (from the daily rows), GPA."""
    a = tables["attendance_daily"]
    assert {t.school_year for t in load_config().terms} == {"2024-25", "2025-26"}
    year = np.where(a["date"] >= pd.Timestamp("2025-07-01"), "2025-26", "2024-25")
    att = (pd.DataFrame({"student_id": a["student_id"].astype(str), "year": year,
                         "absent": a["fraction_absent"]})
           .groupby(["student_id", "year"])["absent"].agg(days_enrolled="size", days_absent="sum"))
    att["rate"] = att["days_absent"] / att["days_enrolled"]
    cg = tables["course_grades"].assign(year=lambda d: _year_of(d["term_id"]),
                                        student_id=lambda d: d["student_id"].astype(str))
    cg["wp"] = cg["grade_points"] * cg["credits_attempted"]
    g = cg.groupby(["student_id", "year"])[["wp", "credits_attempted"]].sum()
    att["gpa"] = g["wp"] / g["credits_attempted"]
    return att


# -- reproducibility -----------------------------------------------------------------------------

def test_same_seed_gives_identical_tables(tables):
    again = generate_demo_tables(students=N, partners=8, seed=SEED)
    assert list(again) == list(tables)
    for name in tables:
        pd.testing.assert_frame_equal(again[name], tables[name], check_exact=True, obj=name)


def test_different_seed_gives_different_data(tables):
    other = generate_demo_tables(students=N, partners=8, seed=SEED + 1)
    assert not other["students"]["student_id"].equals(tables["students"]["student_id"])
    assert len(other["attendance_daily"]) != len(tables["attendance_daily"]) or \
        not other["attendance_daily"]["status"].equals(tables["attendance_daily"]["status"])


def test_written_files_are_byte_identical(written, tmp_path):
    again = make_demo_district(tmp_path / "again", students=400, partners=8, seed=11, with_records=False)
    for f in sorted(written.glob("*.parquet")):
        assert hashlib.sha256(f.read_bytes()).digest() == hashlib.sha256((again / f.name).read_bytes()).digest(), f.name


def test_round_trip_through_disk(written):
    ds = read_dataset(written)
    assert set(ds.tables) == set(GENERATED)
    fresh = generate_demo_tables(students=400, partners=8, seed=11)
    for name, frame in fresh.items():
        # parquet gives categories back as the default str dtype; values and codes must not change
        pd.testing.assert_frame_equal(_plain_categories(ds[name]), _plain_categories(frame), check_exact=True,
                                      obj=name)
    assert ds.config.to_dict() == load_config().to_dict()


def test_streamed_district_has_the_same_tables(written, tmp_path):
    """Written chunk by chunk (how districts above STREAM_ABOVE students are written): the same tables."""
    import json

    import pyarrow.parquet as pq
    streamed = make_demo_district(tmp_path / "streamed", students=400, partners=8, seed=11, with_records=False,
                                  stream=True)
    a, b = read_dataset(written), read_dataset(streamed)
    assert set(a.tables) == set(b.tables) == set(GENERATED)
    for name in GENERATED:
        pd.testing.assert_frame_equal(_plain_categories(b[name]), _plain_categories(a[name]), check_exact=True,
                                      obj=name)
    manifest = json.loads((streamed / "dataset.json").read_text())
    assert manifest["tables"]["attendance_daily"]["rows"] == len(a["attendance_daily"])
    assert manifest["tables"]["course_grades"]["columns"] == list(a["course_grades"].columns)
    # ids and statuses stay dictionary-encoded, as in the in-memory write
    schema = pq.ParquetFile(streamed / "attendance_daily.parquet").schema_arrow
    assert str(schema.field("student_id").type).startswith("dictionary")
    assert not list(tmp_path.glob(".streamed.spool-*")), "the spool folder is removed"


def _plain_categories(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].cat.rename_categories(pd.Index(out[c].cat.categories.astype(str), dtype="str"))
    return out


# -- schema conformity ---------------------------------------------------------------------------

_KIND_CHECK = {
    "id": lambda s: pd.api.types.is_string_dtype(s) or (isinstance(s.dtype, pd.CategoricalDtype)
                                                        and pd.api.types.is_string_dtype(s.cat.categories)),
    "str": pd.api.types.is_string_dtype,
    "category": lambda s: isinstance(s.dtype, pd.CategoricalDtype),
    "int": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_float_dtype,
    "bool": pd.api.types.is_bool_dtype,
    "date": pd.api.types.is_datetime64_any_dtype,
}


@pytest.mark.parametrize("name", GENERATED)
def test_table_matches_schema(tables, name):
    spec = TABLES[name]
    frame = tables[name]
    assert len(frame) > 0
    missing = set(spec.required_columns) - set(frame.columns)
    assert not missing
    assert set(frame.columns) <= set(spec.column_names)
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        s = frame[col.name]
        assert _KIND_CHECK[col.kind](s), f"{name}.{col.name}: {s.dtype} is not {col.kind}"
        if not col.nullable:
            assert s.notna().all(), f"{name}.{col.name} has missing values"
        values = s.dropna()
        if col.min is not None:
            assert values.min() >= col.min
        if col.max is not None:
            assert values.max() <= col.max
        if col.choices is not None:
            assert set(values.astype(str)) <= set(col.choices)
    assert not frame.duplicated(list(spec.key)).any(), f"{name}: key {spec.key} is not unique"


@pytest.mark.parametrize("name", [n for n in GENERATED if TABLES[n].references])
def test_referential_integrity(tables, name):
    for column, (table, target) in TABLES[name].references.items():
        found = set(tables[name][column].astype(str))
        known = set(tables[table][target].astype(str))
        assert found <= known, f"{name}.{column} -> {table}.{target}: {sorted(found - known)[:5]}"


def test_ids_are_strings_with_leading_zeros(tables, config):
    sid = tables["students"]["student_id"]
    assert sid.str.fullmatch(r"\d{6}").all()
    assert sid.str.startswith("0").any()          # ~10 % of random 6-digit ids
    cats = tables["attendance_daily"]["student_id"].cat.categories
    assert cats.str.fullmatch(r"\d{6}").all()
    assert list(tables["schools"]["school_id"]) == list(config.school_ids)
    assert list(tables["partners"]["partner_id"]) == [f"P{i:02d}" for i in range(1, 9)]
    programs = tables["programs"]
    assert programs["program_id"].str.fullmatch(r"P\d{2}-[A-C]").all()
    assert (programs["program_id"].str[:3] == programs["partner_id"]).all()


def test_students_are_consistent(tables, config):
    st = tables["students"].merge(tables["schools"], on="school_id")
    assert st["grade_level"].between(6, 12).all()
    assert st.loc[st["level"] == "middle", "grade_level"].between(6, 8).all()
    assert st.loc[st["level"] == "high", "grade_level"].between(9, 12).all()
    # age on 1 September of the current year = grade + 5 (retained or young students: +-1)
    sept1 = pd.Timestamp("2025-09-01")
    age = (sept1.year - st["birth_date"].dt.year
           - ((st["birth_date"].dt.month > 9) | ((st["birth_date"].dt.month == 9) & (st["birth_date"].dt.day > 1))))
    offset = age - st["grade_level"]
    assert offset.between(4, 6).all()
    assert (offset == 5).mean() > 0.9
    race = st["race_ethnicity"].value_counts(normalize=True)
    assert 0.30 < race["White"] < 0.60 and 0.15 < race["Hispanic/Latino"] < 0.40
    assert 0.3 < st["frl"].mean() < 0.6
    assert 0.03 < st["ell"].mean() < 0.2
    assert 0.08 < st["swd"].mean() < 0.22


# -- attendance ----------------------------------------------------------------------------------

def test_attendance_only_on_instructional_weekdays(tables, config):
    dates = pd.DatetimeIndex(tables["attendance_daily"]["date"].unique())
    assert (dates.day_of_week < 5).all()
    in_term = np.zeros(len(dates), dtype=bool)
    for t in config.terms:
        in_term |= (dates >= pd.Timestamp(t.start)) & (dates <= pd.Timestamp(t.end))
    assert in_term.all()
    for t in config.terms:          # every term has days
        assert ((dates >= pd.Timestamp(t.start)) & (dates <= pd.Timestamp(t.end))).sum() >= 40
    for holiday in ("2024-11-28", "2025-11-27", "2025-12-22", "2026-01-19", "2025-09-01", "2026-05-25"):
        assert pd.Timestamp(holiday) not in dates
    per_year = pd.Series(dates.year + (dates.month >= 7)).value_counts()
    assert per_year.between(170, 200).all()


def test_fraction_absent_matches_status(tables):
    a = tables["attendance_daily"]
    status = a["status"].astype(str)
    f = a["fraction_absent"]
    assert (f[status.isin(["present", "tardy"])] == 0).all()
    assert (f[status.isin(["excused", "unexcused", "suspended"])] == 1).all()
    part = f[status == "partial"]
    assert len(part) > 0 and part.between(0.05, 0.95).all()
    assert set(a["status"].cat.categories) >= set(ABSENT_STATUSES)
    share = status.value_counts(normalize=True)
    assert share["present"] > 0.8
    for s in ("excused", "unexcused", "tardy", "partial", "suspended"):
        assert share[s] > 0


def test_attendance_terms_are_the_daily_sums(tables, config):
    a = tables["attendance_daily"]
    term = pd.Series(pd.NA, index=a.index, dtype="string")
    for t in config.terms:
        term[(a["date"] >= pd.Timestamp(t.start)) & (a["date"] <= pd.Timestamp(t.end))] = t.id
    daily = (pd.DataFrame({"student_id": a["student_id"].astype(str), "term_id": term, "f": a["fraction_absent"]})
             .groupby(["student_id", "term_id"])["f"].agg(["size", "sum"]))
    summary = tables["attendance_terms"].astype({"student_id": str, "term_id": str}).set_index(
        ["student_id", "term_id"]).sort_index()
    daily = daily.reindex(summary.index)
    np.testing.assert_array_equal(summary["days_enrolled"], daily["size"])
    np.testing.assert_allclose(summary["days_absent"], daily["sum"], atol=1e-3)


def test_chronic_absence_share_is_realistic(yearly):
    # synth docstring: 15-30 % of students absent >= 10 % of >= 10 enrolled days, in each school year
    ok = yearly[yearly["days_enrolled"] >= 10]
    share = (ok["rate"] >= 0.10).groupby(level="year").mean()
    assert len(share) == 2
    assert share.between(0.15, 0.30).all(), share.to_dict()


def test_days_enrolled_vary(yearly):
    cur = yearly.xs("2025-26", level="year")["days_enrolled"]
    full = cur.max()
    part = (cur < full - 5).mean()          # late entries and early exits
    assert 0.03 < part < 0.2
    prior = set(yearly.xs("2024-25", level="year").index)
    assert len(prior) < len(cur)             # grade 6 and new students have no prior year


def test_attendance_gpa_correlation(yearly):
    # synth docstring: student-level correlation of attendance rate and GPA in 0.3-0.6
    for year, d in yearly.dropna().groupby(level="year"):
        r = np.corrcoef(1 - d["rate"], d["gpa"])[0, 1]
        assert 0.3 <= r <= 0.6, (year, r)


# -- course marks --------------------------------------------------------------------------------

def test_course_marks_follow_the_grade_scale(tables, config):
    cg = tables["course_grades"]
    letters = config.grade_scale.letters
    assert set(cg["mark"]) <= set(letters)
    np.testing.assert_array_equal(cg["grade_points"], cg["mark"].map(letters).astype(float))
    assert (cg["credits_earned"] <= cg["credits_attempted"]).all()
    assert (cg.loc[cg["mark"] == "F", "credits_earned"] == 0).all()
    assert (cg.loc[cg["mark"] != "F", "credits_earned"] == cg.loc[cg["mark"] != "F", "credits_attempted"]).all()
    assert (cg["credits_attempted"] == 0.25).all()
    share = cg["mark"].value_counts(normalize=True)
    assert 0.01 < share["F"] < 0.12 and share["A"] > 0.1
    n = cg.groupby(["student_id", "term_id"]).size()
    assert n.between(4, 6).all()
    core = cg[cg["is_core"]].groupby(["student_id", "term_id"]).size()
    assert (core >= 3).all()


def test_dual_enrolment_courses(tables):
    cg = tables["course_grades"]
    st = tables["students"].set_index("student_id")
    college = cg[cg["college_credit"]]
    assert len(college) > 0
    assert college["course_id"].str.startswith("DE-").all()
    assert not cg.loc[~cg["college_credit"], "course_id"].str.startswith("DE-").any()
    # only high-schoolers (grade 10+ in the year of the course) who take part in dual enrolment
    assert (st.loc[college["student_id"], "grade_level"].to_numpy() >= 10).all()
    part = tables["participation"].merge(tables["programs"], on="program_id")
    de = set(part.loc[part["type"] == "dual_enrollment", "student_id"])
    assert set(college["student_id"]) <= de


def test_engagement_on_the_configured_scale(tables, config):
    scale = config.threshold("engagement_scale")
    score = tables["engagement"]["score"]
    assert score.between(scale["min"], scale["max"]).all()
    assert ((score * 4) % 1 == 0).all()
    assert 0.5 < score.std() < 1.5


# -- partners, programmes, participation ---------------------------------------------------------

def test_partners_and_programs(tables):
    partners, programs = tables["partners"], tables["programs"]
    assert 6 <= len(partners) <= 10
    assert partners["name"].is_unique
    assert programs.groupby("partner_id").size().between(1, 3).all()
    assert set(partners["partner_id"]) == set(programs["partner_id"])
    assert len(set(partners["sector"])) >= 4
    assert len(set(programs["type"])) >= 6


def test_participation_sizes_and_suppression_cases(tables):
    p = tables["participation"]
    cur = p[p["start_date"] >= pd.Timestamp("2025-07-01")]
    by_program = cur.groupby("program_id")["student_id"].nunique()
    by_partner = cur.assign(partner=cur["program_id"].str[:3]).groupby("partner")["student_id"].nunique()
    assert (by_program < 10).any()                  # suppression must kick in
    assert (by_partner < 10).any()
    assert (by_program >= 40).any()                 # and some are large enough to test
    assert by_program.max() / by_program.min() > 10  # very different sizes
    share = cur["student_id"].nunique() / len(tables["students"])
    assert 0.20 <= share <= 0.75, share


def test_participation_dates_and_hours(tables, config):
    p = tables["participation"]
    first, last = pd.Timestamp(config.terms[0].start), pd.Timestamp(config.terms[-1].end)
    assert p["start_date"].between(first, last).all()
    closed = p.dropna(subset=["end_date"])
    assert (closed["end_date"] >= closed["start_date"]).all() and closed["end_date"].le(last).all()
    types = p["program_id"].map(tables["programs"].set_index("program_id")["type"])
    assert p.loc[p["end_date"].isna(), "program_id"].map(
        tables["programs"].set_index("program_id")["type"]).eq("apprenticeship").all()
    assert (p["hours"] > 0).all()
    # WBL hours: only WBL programme types, dated inside the participation, and summing to its hours
    w = tables["wbl_hours"]
    assert set(w["program_id"].map(tables["programs"].set_index("program_id")["type"])) <= set(WBL_TYPES)
    merged = w.merge(p, on=["student_id", "program_id"])
    inside = (merged["date"] >= merged["start_date"]) & (merged["end_date"].isna()
                                                        | (merged["date"] <= merged["end_date"]))
    assert inside.groupby([merged["student_id"], merged["program_id"], merged["date"]]).any().all()
    assert (pd.DatetimeIndex(w["date"]).day_of_week < 5).all()
    wbl_part = p[types.isin(WBL_TYPES)]
    total = w.groupby(["student_id", "program_id"])["hours"].sum()
    mine = wbl_part.groupby(["student_id", "program_id"])["hours"].sum()
    np.testing.assert_allclose(mine.sort_index(), total.reindex(mine.sort_index().index), atol=1e-9)
    internship = mine[mine.index.get_level_values(1).isin(
        tables["programs"].loc[tables["programs"]["type"] == "internship", "program_id"])]
    assert 30 < internship.median() < 200


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_participations_of_one_student_in_one_program_never_overlap(seed):
    p = generate_demo_tables(students=300, partners=12, seed=seed)["participation"]
    last = pd.Timestamp("2100-01-01")
    p = p.assign(end=p["end_date"].fillna(last)).sort_values(["student_id", "program_id", "start_date"])
    prev_end = p.groupby(["student_id", "program_id"])["end"].shift()
    assert not (p["start_date"] <= prev_end).any()


def test_selection_makes_baseline_equivalence_imperfect(yearly, tables):
    """Prior-year attendance of current participants vs everyone else, per programme (Cohen's d)."""
    p = tables["participation"]
    cur = p[p["start_date"] >= pd.Timestamp("2025-07-01")]
    prior = yearly.xs("2024-25", level="year")["rate"]
    d = {}
    for prog, g in cur.groupby("program_id"):
        m = prior.index.isin(set(g["student_id"]))
        if m.sum() < 20:
            continue
        x, y = prior[m], prior[~m]
        sp = np.sqrt(((len(x) - 1) * x.var() + (len(y) - 1) * y.var()) / (len(x) + len(y) - 2))
        d[prog] = (y.mean() - x.mean()) / sp            # positive: participants were absent less
    d = pd.Series(d)
    assert (d.abs() > 0.25).any(), d.to_dict()           # some partners fail baseline equivalence
    assert (d.abs() < 0.15).any(), d.to_dict()           # whole-class visits are balanced


def test_participants_improve_a_little(monkeypatch):
    """Programme effects, isolated: the same district with every effect set to zero.

    Selection, calendars and every random draw are the same in both runs (each part of the generator has
    its own stream and selection does not depend on effects), so the difference is the effect alone.
    Comparing participants with their peers instead would be confounded by selection and regression to
    the mean.
    """
    import dataclasses

    from partner_analysis.data import synth

    with_effect = generate_demo_tables(students=1500, partners=8, seed=5)
    no_effect = tuple(dataclasses.replace(p, programs=tuple(dataclasses.replace(g, effect=0.0)
                                                            for g in p.programs)) for p in synth.DEMO_PARTNERS)
    monkeypatch.setattr(synth, "DEMO_PARTNERS", no_effect)
    without = generate_demo_tables(students=1500, partners=8, seed=5)
    pd.testing.assert_frame_equal(with_effect["participation"].drop(columns="hours"),
                                  without["participation"].drop(columns="hours"))

    p = with_effect["participation"]
    boosted = set(p.loc[p["program_id"].isin(["P07-A", "P02-B", "P01-A"]), "student_id"])   # effects 0.15-0.2
    untouched = set(with_effect["students"]["student_id"]) - set(p["student_id"])

    def absences(t):
        a = t["attendance_daily"]
        return a.assign(student_id=a["student_id"].astype(str)).groupby("student_id")["fraction_absent"].sum()

    def days_with_absence(t):
        a = t["attendance_daily"]
        return (a["fraction_absent"] > 0).groupby(a["student_id"].astype(str)).sum()

    def gpa(t):
        cg = t["course_grades"]
        cur = cg[cg["term_id"].str.startswith("2025-26")]
        return cur.groupby("student_id")["grade_points"].mean()

    abs_with, abs_without = absences(with_effect), absences(without)
    gpa_with, gpa_without = gpa(with_effect), gpa(without)
    ids = sorted(boosted)
    saved = (abs_without[ids] - abs_with[ids]).mean()
    assert 0.2 < saved < 5.0                               # a little: under a week of school a year
    # the same uniform draw per day and a lower absence probability: never an extra absent day
    assert (days_with_absence(with_effect)[ids] <= days_with_absence(without)[ids]).all()
    gain = (gpa_with.reindex(ids) - gpa_without.reindex(ids)).mean()
    assert 0.01 < gain < 0.3
    rest = sorted(untouched)
    np.testing.assert_array_equal(abs_with[rest], abs_without[rest])
    np.testing.assert_array_equal(gpa_with.reindex(rest), gpa_without.reindex(rest))


# -- sizes, config, errors -----------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 6, 10, 12])
def test_partner_count_is_honoured(k):
    t = generate_demo_tables(students=200, partners=k, seed=1)
    assert len(t["partners"]) == k
    cur = t["participation"]
    assert (cur.groupby("program_id")["student_id"].nunique() < 10).any()


@pytest.mark.parametrize("kwargs, match", [
    pytest.param({"students": 10}, "between 50", id="few-students"),
    pytest.param({"students": 2.5}, "between 50", id="float-students"),
    pytest.param({"partners": 0}, "1 to 12 partners", id="no-partners"),
    pytest.param({"partners": 13}, "1 to 12 partners", id="many-partners"),
    pytest.param({"seed": -1}, "seed", id="negative-seed"),
])
def test_bad_sizes_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        generate_demo_tables(**{"students": 100, **kwargs})


def _custom_config(schools):
    raw = load_config().to_dict()
    raw["terms"] = [
        {"id": "2025-S1", "school_year": "2025-26", "start": "2025-08-25", "end": "2025-12-19"},
        {"id": "2026-S2", "school_year": "2025-26", "start": "2026-01-05", "end": "2026-05-29"},
    ]
    raw["schools"] = schools
    return config_from_dict(raw)


def test_custom_config_one_year_high_schools_only():
    cfg = _custom_config([{"school_id": "007", "name": "Only High", "level": "high"}])
    t = generate_demo_tables(cfg, students=150, partners=8, seed=2)
    assert set(t["students"]["school_id"]) == {"007"}
    assert t["students"]["grade_level"].between(9, 12).all()
    assert set(t["attendance_terms"]["term_id"]) == {"2025-S1", "2026-S2"}
    assert set(t["engagement"]["term_id"]) <= {"2025-S1", "2026-S2"}


def test_config_without_secondary_school_is_refused():
    cfg = _custom_config([{"school_id": "001", "name": "Little Elementary", "level": "elementary"}])
    with pytest.raises(ConfigError, match="grades 6-12"):
        generate_demo_tables(cfg, students=100)


# -- validation and the records hooks ------------------------------------------------------------

def test_demo_passes_validate_dataset(written):
    load = pytest.importorskip("partner_analysis.data.load",
                               reason="partner_analysis.data.load (validate_dataset) is not written yet")
    result = load.validate_dataset(written)
    assert "valid" in result.report()


def _fake_module(monkeypatch, name, func, calls):
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def hook(store, dataset, *, seed):
        calls.append((name, store, dataset, seed))
    setattr(mod, func, hook)
    monkeypatch.setitem(sys.modules, name, mod)


def test_records_hooks_get_the_store_and_dataset(tmp_path, monkeypatch):
    pytest.importorskip("partner_analysis.store", reason="the records store is not written yet")
    calls = []
    _fake_module(monkeypatch, "partner_analysis.fit.demo", "write_demo_fit", calls)
    _fake_module(monkeypatch, "partner_analysis.records.demo", "write_demo_records", calls)
    # the district's real store must never receive demo answers
    monkeypatch.setenv("PA_DB_URL", f"sqlite:///{tmp_path / 'production.sqlite'}")
    out = make_demo_district(tmp_path / "d", students=100, partners=6, seed=3)
    assert [c[0] for c in calls] == ["partner_analysis.fit.demo", "partner_analysis.records.demo"]
    for _, store, dataset, seed in calls:
        assert seed == 3
        assert dataset.path == out
        assert len(dataset["partners"]) == 6
        assert str(out / "records" / "records.sqlite") in store.url
    assert (out / "records" / "records.sqlite").exists()
    assert not (tmp_path / "production.sqlite").exists()

    calls.clear()
    make_demo_district(tmp_path / "e", students=100, seed=3, db=tmp_path / "explicit.sqlite")
    assert all(str(tmp_path / "explicit.sqlite") in c[1].url for c in calls) and len(calls) == 2

    calls.clear()
    make_demo_district(tmp_path / "f", students=100, seed=3, with_records=False)
    assert calls == [] and not (tmp_path / "f" / "records" / "records.sqlite").exists()


def test_cli_demo_data(tmp_path, capsys):
    from partner_analysis.cli import main
    code = main(["demo-data", "--out", str(tmp_path / "c"), "--students", "120", "--partners", "6",
                 "--seed", "4", "--no-records"])
    assert code == 0
    ds = read_dataset(tmp_path / "c")
    assert len(ds["students"]) == 120 and len(ds["partners"]) == 6
    assert main(["demo-data", "--out", str(tmp_path / "x"), "--students", "5", "--no-records"]) == 2
    assert "between 50" in capsys.readouterr().err
