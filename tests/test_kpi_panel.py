"""KPI panel: hand-computed values, an independent pandas computation, and invariants."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from partner_analysis.config import load_config
from partner_analysis.data.dataset import Dataset
from partner_analysis.kpi.panel import build_panel, compute_kpis

Q1, Q2, LY_Q1 = "2025-26-Q1", "2025-26-Q2", "2024-25-Q1"


def _daily(sid, start, end, absent_days, status="unexcused"):
    days = pd.bdate_range(start, end)
    return pd.DataFrame({"student_id": sid, "date": days,
                         "status": [status if i < absent_days else "present" for i in range(len(days))]})


def hand_dataset() -> Dataset:
    """Three students whose KPIs are worked out by hand in the tests below."""
    cfg = load_config()
    students = pd.DataFrame({"student_id": ["000101", "000202", "000303"], "school_id": ["0101"] * 3,
                             "grade_level": [9, 9, 10]})
    # 2025-26-Q1 has 50 weekdays (2025-08-18 .. 2025-10-24); Q2 2025-10-27 .. 2026-01-16 has 60
    att = pd.concat([
        _daily("000101", "2025-08-18", "2025-10-24", 0),
        _daily("000202", "2025-08-18", "2025-10-24", 8),      # 8/50 = 16 % -> chronic
        _daily("000303", "2025-08-18", "2025-10-24", 2, "excused"),
        _daily("000202", "2025-10-27", "2026-01-16", 9),      # year to date 17 days -> ">= 15 days" in Q2
        _daily("000303", "2025-10-27", "2025-11-03", 1),      # 6 days enrolled < 10 -> no chronic value
        _daily("000101", "2024-08-19", "2024-10-25", 5),      # prior year, same quarter
    ], ignore_index=True)
    att.loc[(att.student_id == "000303") & (att.status == "excused"), "status"] = "partial"
    att["fraction_absent"] = np.where(att.status == "partial", 0.5, np.nan)  # 2 half days -> 1 day absent
    cg = pd.DataFrame({
        "student_id": ["000101", "000101", "000202", "000202", "000303", "000303", "000101"],
        "term_id": [Q1, Q1, Q1, Q1, Q1, Q1, Q2],
        "course_id": ["ALG", "ENG", "ALG", "ART", "BIO", "DE101", "GEO"],
        "subject": ["math", "english", "math", "art", "biology", "college", "math"],
        "mark": ["A", "B", "F", "C", "72", "B", "C"],
        "credits_attempted": [1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0],
        "credits_earned": [1.0, 0.5, 0.0, 1.0, 1.0, 1.0, 2.0],
        "college_credit": [False, False, False, False, False, True, False],
    })
    wbl = pd.DataFrame({"student_id": ["000101", "000101"], "program_id": ["P01-A"] * 2,
                        "date": pd.to_datetime(["2025-09-01", "2025-09-02"]), "hours": [3.0, 4.5]})
    eng = pd.DataFrame({"student_id": ["000101", "000303"], "term_id": [Q1, Q1], "score": [4.0, 2.5]})
    return Dataset(config=cfg, tables={"students": students, "attendance_daily": att, "course_grades": cg,
                                       "wbl_hours": wbl, "engagement": eng})


@pytest.fixture(scope="module")
def hand_panel():
    p = build_panel(hand_dataset(), context=True)
    return p.set_index(["student_id", "term", "kpi_id"])


EXPECTED_Q1 = [
    # student, kpi, value, n_records ; worked by hand
    ("000101", "attendance_rate", 1.0, 50), ("000202", "attendance_rate", 42 / 50, 50),
    ("000303", "attendance_rate", 49 / 50, 50),            # two half days = 1 day absent
    ("000101", "chronic_absence", 0.0, 50), ("000202", "chronic_absence", 1.0, 50),
    ("000303", "chronic_absence", 0.0, 50),
    ("000202", "chronic_absence_15d", 0.0, 50),            # 8 days so far this year
    ("000101", "gpa", (4 * 1 + 3 * 0.5) / 1.5, 2), ("000202", "gpa", (0 + 2) / 2, 2),
    ("000303", "gpa", (2 + 3) / 2, 2),                     # numeric 72 -> C band
    ("000101", "course_failure", 0.0, 2), ("000202", "course_failure", 1.0, 2),
    ("000202", "core_course_failure", 1.0, 1),             # math F; art is not core
    ("000303", "core_course_failure", 0.0, 1),             # biology core by subject, "college" not
    ("000101", "credits_earned", 1.5, 2), ("000202", "credits_earned", 1.0, 2),
    ("000101", "on_track", 1.0, 2),                        # 1.5 >= 5 * 1/4 and no core F
    ("000202", "on_track", 0.0, 2),                        # 1.0 < 1.25
    ("000303", "college_credits_earned", 1.0, 1), ("000101", "college_credits_earned", 0.0, 0),
    ("000303", "any_college_credit", 1.0, 1), ("000202", "any_college_credit", 0.0, 0),
    ("000101", "engagement_score", 4.0, 1), ("000303", "engagement_score", 2.5, 1),
    ("000101", "wbl_hours", 7.5, 2), ("000202", "wbl_hours", 0.0, 0),  # enrolled, no log -> 0
    ("000101", "any_wbl", 1.0, 2), ("000303", "any_wbl", 0.0, 0),
]


@pytest.mark.parametrize("student, kpi, value, n", EXPECTED_Q1, ids=[f"{s}-{k}" for s, k, *_ in EXPECTED_Q1])
def test_hand_computed_q1(hand_panel, student, kpi, value, n):
    row = hand_panel.loc[(student, Q1, kpi)]
    assert row["value"] == pytest.approx(value, abs=1e-12)
    assert row["n_records"] == n


def test_year_to_date_prior_year_and_missing(hand_panel):
    # 8 + 9 absences by the end of Q2: the ">= 15 days" variant is year to date
    assert hand_panel.loc[("000202", Q2, "chronic_absence_15d"), "value"] == 1.0
    # 6 enrolled days in Q2 is below the 10-day minimum: no chronic-absence value
    assert ("000303", Q2, "chronic_absence") not in hand_panel.index
    assert hand_panel.loc[("000303", Q2, "attendance_rate"), "value"] == pytest.approx(5 / 6)
    # year-to-date GPA weights every course of the year by credits
    assert hand_panel.loc[("000101", Q2, "gpa"), "value_ytd"] == pytest.approx((4 + 1.5 + 2 * 2) / 3.5)
    # on-track in Q2 needs 2.5 credits (5 x 2/4): 1.5 + 2 = 3.5 -> on track
    assert hand_panel.loc[("000101", Q2, "on_track"), "value"] == 1.0
    # prior-year value: same quarter last year, 5 of 50 days absent
    assert hand_panel.loc[("000101", Q1, "attendance_rate"), "value_prior_year"] == pytest.approx(0.9)
    assert np.isnan(hand_panel.loc[("000202", Q1, "attendance_rate"), "value_prior_year"])
    # not enrolled in Q2 (no attendance): no WBL zero filled in
    assert ("000101", Q2, "wbl_hours") not in hand_panel.index


def test_ids_keep_leading_zeros_and_dtypes(hand_panel):
    p = hand_panel.reset_index()
    assert set(p["student_id"].astype(str)) == {"000101", "000202", "000303"}
    assert list(p.columns[:5]) == ["student_id", "term", "kpi_id", "value", "n_records"]
    assert p["value"].dtype == float


def test_term_summaries_fill_in_where_daily_data_is_missing():
    ds = hand_dataset()
    summary = pd.DataFrame({"student_id": ["000101", "000101"], "term_id": [Q1, Q2],
                            "days_enrolled": [99.0, 40.0], "days_absent": [99.0, 10.0]})
    ds.tables["attendance_terms"] = summary
    p = build_panel(ds, kpis=["attendance_rate"]).set_index(["student_id", "term"])["value"]
    assert p[("000101", Q1)] == 1.0           # daily data wins over the summary
    assert p[("000101", Q2)] == pytest.approx(0.75)


# -- an independent computation on random data -------------------------------------------------------

def random_dataset(rng, n=300) -> Dataset:
    cfg = load_config()
    sids = [f"{i:05d}" for i in range(n)]
    students = pd.DataFrame({"student_id": sids, "school_id": rng.choice(["0101", "0102"], n),
                             "grade_level": rng.choice([9, 10], n)})
    days = pd.bdate_range("2025-08-18", "2026-01-16")  # Q1 and Q2 and the gap between them
    att = pd.DataFrame({"student_id": np.repeat(sids, len(days)), "date": np.tile(days, n)})
    att = att.sample(frac=0.9, random_state=1)  # uneven enrolment
    att["status"] = rng.choice(["present", "tardy", "excused", "unexcused", "partial", "suspended"], len(att),
                               p=[.85, .03, .04, .04, .02, .02])
    att["fraction_absent"] = np.where(att["status"] == "partial", rng.choice([0.25, 0.5], len(att)), np.nan)
    cg = pd.DataFrame({"student_id": np.repeat(sids, 4), "term_id": np.tile([Q1, Q1, Q2, Q2], n),
                       "course_id": np.tile(["A", "B", "A", "B"], n)})
    cg["mark"] = rng.choice(list("ABCDF"), len(cg))
    cg["credits_attempted"] = rng.choice([0.5, 1.0], len(cg))
    cg["credits_earned"] = np.where(cg["mark"] == "F", 0.0, cg["credits_attempted"])
    cg["is_core"] = rng.random(len(cg)) < 0.6
    return Dataset(config=cfg, tables={"students": students, "attendance_daily": att, "course_grades": cg})


def test_matches_an_independent_pandas_computation(rng):
    ds = random_dataset(rng)
    panel = build_panel(ds, terms=[Q1, Q2], kpis=["attendance_rate", "chronic_absence", "gpa",
                                                  "core_course_failure"])
    got = panel.set_index(["student_id", "term", "kpi_id"])["value"]
    cfg = ds.config
    att = ds["attendance_daily"].copy()
    att["term"] = [cfg.term_for_date(d.date()).id if cfg.term_for_date(d.date()) else None for d in att["date"]]
    att = att.dropna(subset=["term"])
    absent = att["status"].isin(["excused", "unexcused", "partial", "suspended"]).astype(float)
    att["absent"] = att["fraction_absent"].fillna(absent)
    g = att.groupby(["student_id", "term"]).agg(enrolled=("date", "size"), absent=("absent", "sum"))
    for (sid, term), r in g.iterrows():
        assert got[(sid, term, "attendance_rate")] == pytest.approx(1 - r.absent / r.enrolled)
        assert got[(sid, term, "chronic_absence")] == float(r.absent / r.enrolled >= 0.10)
    cg = ds["course_grades"].copy()
    cg["pts"] = cg["mark"].map({"A": 4, "B": 3, "C": 2, "D": 1, "F": 0})
    for (sid, term), d in cg.groupby(["student_id", "term_id"]):
        assert got[(sid, term, "gpa")] == pytest.approx((d.pts * d.credits_attempted).sum() / d.credits_attempted.sum())
        assert got[(sid, term, "core_course_failure")] == float(((d.mark == "F") & d.is_core).any())


def test_row_order_does_not_matter_and_input_is_not_modified(rng):
    ds = random_dataset(rng, n=80)
    before = {k: v.copy() for k, v in ds.tables.items()}
    a = build_panel(ds)
    for k, v in before.items():
        pd.testing.assert_frame_equal(ds[k], v)
    shuffled = Dataset(config=ds.config, tables={k: v.sample(frac=1.0, random_state=3) for k, v in ds.tables.items()})
    b = build_panel(shuffled)
    key = ["student_id", "term", "kpi_id"]
    a = a.assign(student_id=a.student_id.astype(str)).sort_values(key).reset_index(drop=True)
    b = b.assign(student_id=b.student_id.astype(str)).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_categorical=False)


def test_compute_kpis_shapes(rng):
    ds = random_dataset(rng, n=50)
    arr = compute_kpis(ds)
    assert arr.values["gpa"].shape == (50, 8)
    assert arr.prior_term[arr.term_index(Q1)] == arr.term_index(LY_Q1)
    assert arr.prev_term[arr.term_index(Q1)] == arr.term_index("2024-25-Q4")


@pytest.mark.parametrize("batch_size", [64, 1 << 21])
def test_streaming_daily_attendance_from_parquet_matches_in_memory(rng, tmp_path, batch_size, monkeypatch):
    from partner_analysis.data.dataset import read_dataset, write_dataset
    from partner_analysis.kpi import panel as panel_mod
    ds = random_dataset(rng, n=60)
    daily = ds["attendance_daily"]
    # stored as plain strings in one case, dictionary (categorical) in the other
    ds.tables["attendance_daily"] = daily.assign(student_id=daily.student_id.astype(
        "category" if batch_size > 64 else "string"))
    write_dataset(ds.tables, ds.config, tmp_path / "d")
    lazy = read_dataset(tmp_path / "d", tables=["students", "course_grades"])
    assert "attendance_daily" not in lazy
    real = panel_mod._daily_from_parquet
    monkeypatch.setattr(panel_mod, "_daily_from_parquet",
                        lambda *a, **k: real(*a, **{**k, "batch_size": batch_size}))
    a = build_panel(lazy, kpis=["attendance_rate", "chronic_absence"])
    b = build_panel(ds, kpis=["attendance_rate", "chronic_absence"])
    key = ["student_id", "term", "kpi_id"]
    a = a.assign(student_id=a.student_id.astype(str)).sort_values(key).reset_index(drop=True)
    b = b.assign(student_id=b.student_id.astype(str)).sort_values(key).reset_index(drop=True)
    assert len(a) > 100
    pd.testing.assert_frame_equal(a, b, check_categorical=False)


@pytest.mark.parametrize("fraction", ["partial_only", "every_row"])
def test_streaming_in_parallel_row_groups(rng, tmp_path, fraction):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from partner_analysis.kpi import panel as panel_mod
    ds = random_dataset(rng, n=40)
    daily = ds["attendance_daily"].copy()
    if fraction == "every_row":
        absent = daily["status"].isin(["excused", "unexcused", "partial", "suspended"]).astype(float)
        daily["fraction_absent"] = daily["fraction_absent"].fillna(absent)
    daily["student_id"] = daily["student_id"].astype("category")
    ds.tables["attendance_daily"] = daily
    f = tmp_path / "attendance_daily.parquet"
    pq.write_table(pa.Table.from_pandas(daily, preserve_index=False), f, row_group_size=500)
    assert pq.ParquetFile(f).metadata.num_row_groups > 4
    arr = panel_mod.compute_kpis(ds, kpis=["attendance_rate"])
    index, order = arr.student_ids, list(arr.term_ids)
    K, T = len(index) * len(order), len(order)
    got = []
    for workers in (1, 3):
        en, ab = np.zeros(K + 1), np.zeros(K + 1)
        panel_mod._daily_from_parquet(f, index, ds.config, order, K, T, en, ab, batch_size=128, workers=workers)
        got.append((en[:K], ab[:K] / panel_mod.MICRO_DAYS))  # absences are summed in micro-days
    # exact sums: one thread or three, the same bits (partitions and Dask rely on it)
    np.testing.assert_array_equal(got[0][1], got[1][1])
    for en, ab in got:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(en > 0, 1 - ab / en, np.nan).reshape(len(index), T)
        np.testing.assert_allclose(rate, arr.values["attendance_rate"], equal_nan=True)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_STATUSES = ["present", "tardy", "excused", "unexcused", "partial", "suspended"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 140), st.sampled_from(_STATUSES),
                          st.one_of(st.none(), st.floats(0, 1))), min_size=1, max_size=120))
def test_attendance_invariants(rows):
    """Rates stay in [0, 1]; chronic absence agrees with the rate and the 10-day minimum; duplicates-free input."""
    cfg = load_config()
    days = pd.bdate_range("2025-08-18", periods=141)
    frame = pd.DataFrame(rows, columns=["s", "d", "status", "fraction_absent"]).drop_duplicates(["s", "d"])
    daily = pd.DataFrame({"student_id": frame.s.map(lambda i: f"{i:03d}"), "date": days[frame.d.to_numpy()],
                          "status": frame.status, "fraction_absent": frame.fraction_absent.astype(float)})
    students = pd.DataFrame({"student_id": [f"{i:03d}" for i in range(5)], "school_id": "0101", "grade_level": 9})
    ds = Dataset(config=cfg, tables={"students": students, "attendance_daily": daily})
    p = build_panel(ds, kpis=["attendance_rate", "chronic_absence"])
    in_terms = daily.date.map(lambda d: cfg.term_for_date(d.date()) is not None)
    if not in_terms.any():  # every day between terms (hypothesis found it): no value at all, nothing to check
        assert p.empty
        return
    wide = p.pivot_table(index=["student_id", "term"], columns="kpi_id", values="value", observed=True)
    n = p[p.kpi_id == "attendance_rate"].set_index(["student_id", "term"])["n_records"]
    assert wide["attendance_rate"].between(0, 1).all()
    assert n.sum() == in_terms.sum()
    if "chronic_absence" in wide:
        both = wide.dropna(subset=["chronic_absence"])
        clear = (1 - both["attendance_rate"] - 0.10).abs() > 1e-9  # rounding can tip exact-boundary cases
        assert ((both["chronic_absence"] == 1) == (1 - both["attendance_rate"] >= 0.10))[clear].all()
        assert (n.reindex(both.index) >= 10).all()
