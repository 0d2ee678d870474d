"""KPI comparison table: independent oracles, floors, baseline, trends, UCI golden vectors, demo district, CLI."""
from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from partner_analysis.config import load_config
from partner_analysis.data.dataset import Dataset
from partner_analysis.exceptions import ConfigError
from partner_analysis.kpi.compare import COLUMNS, compare_partners, compare_terms
from partner_analysis.kpi.panel import build_panel

Q1, Q2, LY_Q2 = "2025-26-Q1", "2025-26-Q2", "2024-25-Q2"


def district(rng, n=500, *, shift_prior=0.0) -> Dataset:
    """A random district: term attendance summaries and courses for all 8 terms, two partners, three programmes.

    Participants of P01 in 2025-26 get ``shift_prior`` extra absence days in every 2024-25 term, to make
    the baseline differ on purpose.
    """
    cfg = load_config()
    sids = [f"{i:06d}" for i in range(n)]
    students = pd.DataFrame({"student_id": sids, "school_id": rng.choice(["0101", "0102", "0201"], n),
                             "grade_level": rng.choice([9, 10], n), "frl": rng.random(n) < 0.4})
    terms = list(cfg.term_ids)
    pick = rng.choice(n, 160, replace=False)
    programs = pd.DataFrame({"program_id": ["P01-A", "P01-B", "P02-A"], "partner_id": ["P01", "P01", "P02"],
                             "name": ["a", "b", "c"], "type": ["internship", "mentoring", "dual_enrollment"]})
    part = pd.DataFrame({"student_id": [sids[i] for i in pick],
                         "program_id": rng.choice(["P01-A", "P01-B", "P02-A"], len(pick), p=[.55, .08, .37]),
                         "start_date": pd.Timestamp("2025-08-20"), "end_date": pd.Timestamp("2026-06-01")})
    # a few P02 students who ended before Q2 and one P01 cohort in Q2 of last year (trends)
    early = pd.DataFrame({"student_id": sids[:5], "program_id": "P02-A", "start_date": pd.Timestamp("2025-08-20"),
                          "end_date": pd.Timestamp("2025-10-01")})
    last_year = pd.DataFrame({"student_id": [sids[i] for i in pick[:40]], "program_id": "P01-A",
                              "start_date": pd.Timestamp("2024-11-01"), "end_date": pd.Timestamp("2024-12-20")})
    part = pd.concat([part, early, last_year], ignore_index=True).drop_duplicates(["student_id", "program_id",
                                                                                    "start_date"])
    p01 = set(part.loc[part.program_id.str.startswith("P01") & (part.start_date > "2025-01-01"), "student_id"])
    att = pd.DataFrame({"student_id": np.repeat(sids, len(terms)), "term_id": np.tile(terms, n)})
    att["days_enrolled"] = 45.0
    att["days_absent"] = rng.poisson(3, len(att)).astype(float)
    bump = att.student_id.isin(p01) & att.term_id.str.startswith("2024-25")
    att.loc[bump, "days_absent"] = np.minimum(att.loc[bump, "days_absent"] + shift_prior, 45)
    cg = pd.DataFrame({"student_id": np.repeat(sids, len(terms) * 2), "term_id": np.tile(np.repeat(terms, 2), n),
                       "course_id": np.tile(["MATH", "ART"], n * len(terms))})
    cg["subject"] = np.where(cg.course_id == "MATH", "math", "art")
    cg["mark"] = rng.choice(list("ABCDF"), len(cg), p=[.3, .3, .2, .12, .08])
    cg["credits_attempted"] = 0.5
    cg["credits_earned"] = np.where(cg["mark"] == "F", 0.0, 0.5)
    return Dataset(config=cfg, tables={"students": students, "attendance_terms": att, "course_grades": cg,
                                       "programs": programs, "participation": part,
                                       "partners": pd.DataFrame({"partner_id": ["P01", "P02"], "name": ["x", "y"]})})


def _groups(ds, partner, term, *, comparison="same_school_grade"):
    """Participants and comparison students, computed independently with pandas."""
    t = ds.config.term(term)
    part = ds["participation"].merge(ds["programs"], on="program_id")
    part = part[(part.partner_id == partner) & (part.start_date <= pd.Timestamp(t.end))
                & (part.end_date.isna() | (part.end_date >= pd.Timestamp(t.start)))]
    st = ds["students"].set_index("student_id")
    treated = set(part.student_id)
    cells = set(map(tuple, st.loc[sorted(treated), ["school_id", "grade_level"]].to_numpy()))
    if comparison == "same_school_grade":
        comp = {s for s, r in st.iterrows() if (r.school_id, r.grade_level) in cells and s not in treated}
    else:
        comp = set(st.index) - treated
    return treated, comp


@pytest.fixture(scope="module")
def ds():
    return district(np.random.default_rng(11))


@pytest.fixture(scope="module")
def table(ds):
    return compare_partners(ds, term=Q2, suppress=False, by_program=True, design="raw")


def test_columns_and_one_row_per_key(table):
    assert list(table.columns[:len(COLUMNS)]) == COLUMNS
    key = ["partner_id", "program_id", "term", "kpi_id", "subgroup", "subgroup_value"]
    assert not table.duplicated(key).any()
    assert set(table.program_id) == {"all", "P01-A", "P01-B", "P02-A"}


@pytest.mark.parametrize("comparison", ["same_school_grade", "all_nonparticipants"])
def test_continuous_kpi_matches_pingouin_and_scipy(ds, comparison):
    pg = pytest.importorskip("pingouin")
    res = compare_partners(ds, term=Q2, partners="P01", suppress=False, comparison=comparison, design="raw")
    row = res.set_index("kpi_id").loc["attendance_rate"]
    treated, comp = _groups(ds, "P01", Q2, comparison=comparison)
    panel = build_panel(ds, terms=Q2, kpis=["attendance_rate"])
    v = panel.assign(student_id=panel.student_id.astype(str)).set_index("student_id")["value"]
    xt, xc = v[v.index.isin(treated)].to_numpy(), v[v.index.isin(comp)].to_numpy()
    assert (row.n_t, row.n_c) == (len(xt), len(xc))
    assert row.mean_t == pytest.approx(xt.mean()) and row.sd_c == pytest.approx(xc.std(ddof=1))
    # pingouin's "hedges" is the WWC g (statistics.md §9)
    assert row.effect_size == pytest.approx(pg.compute_effsize(xt, xc, eftype="hedges"), abs=1e-9)
    assert row.p_val == pytest.approx(sps.ttest_ind(xt, xc, equal_var=False).pvalue, rel=1e-9)
    lo, hi = sps.t.interval(0.95, len(xt) - 1, loc=xt.mean(), scale=sps.sem(xt))
    assert (row.ci_low_t, row.ci_high_t) == (pytest.approx(lo), pytest.approx(hi))
    assert row.test == "welch_t" and row.es_method == "hedges_g"
    assert row.improvement_index == pytest.approx(100 * sps.norm.cdf(row.effect_size) - 50)
    assert row.n_all == row.n_t + row.n_c
    assert row.mean_all == pytest.approx(np.concatenate([xt, xc]).mean())


def test_binary_kpi_matches_statsmodels(ds):
    from statsmodels.stats.proportion import proportion_confint, proportions_ztest
    res = compare_partners(ds, term=Q2, partners="P01", suppress=False, design="raw")
    row = res.set_index("kpi_id").loc["course_failure"]
    treated, comp = _groups(ds, "P01", Q2)
    panel = build_panel(ds, terms=Q2, kpis=["course_failure"])
    v = panel.assign(student_id=panel.student_id.astype(str)).set_index("student_id")["value"]
    xt, xc = v[v.index.isin(treated)], v[v.index.isin(comp)]
    k_t, k_c = int(xt.sum()), int(xc.sum())
    lo, hi = proportion_confint(k_t, len(xt), method="wilson")
    assert (row.ci_low_t, row.ci_high_t) == (pytest.approx(lo), pytest.approx(hi))
    assert row.mean_t == pytest.approx(k_t / len(xt))
    assert np.isnan(row.sd_t)
    if row.test == "z":
        assert row.p_val == pytest.approx(proportions_ztest([k_t, k_c], [len(xt), len(xc)])[1], rel=1e-6)
    else:
        assert row.p_val == pytest.approx(sps.fisher_exact([[k_t, len(xt) - k_t], [k_c, len(xc) - k_c]])[1])
    pt, pc = k_t / len(xt), k_c / len(xc)
    assert row.effect_size == pytest.approx((np.log(pt / (1 - pt)) - np.log(pc / (1 - pc))) / 1.65)
    assert row.es_method == "cox"


def test_bh_is_applied_within_each_partner_family(table):
    # one family per partner report: every KPI x the partner as a whole and each programme (issue #11)
    from statsmodels.stats.multitest import multipletests
    tested = table[table.p_val.notna()]
    assert len(tested) > 20
    assert set(tested.sample_status) == {"tested"}
    for pid, fam in tested.groupby("partner_id"):
        expected = multipletests(fam.p_val, method="fdr_bh")[1]  # oracle: statsmodels fdr_bh
        np.testing.assert_allclose(fam.p_adj, expected, rtol=1e-9)
    assert table.loc[table.p_val.isna(), "p_adj"].isna().all()


def test_sample_floors(table):
    small = np.minimum(table.n_t, table.n_c)
    assert (table.loc[small < 10, "sample_status"] == "suppressed").all()
    assert (table.loc[(small >= 10) & (small < 20), "sample_status"] == "descriptive_only").all()
    assert (table.loc[small >= 20, "sample_status"] == "tested").all()
    untested = table[table.sample_status != "tested"]
    assert len(untested) > 0  # P01-B is small on purpose
    assert untested[["effect_size", "p_val", "p_adj", "es_ci_low", "improvement_index"]].isna().all().all()
    assert (untested.baseline_verdict == "unknown").all()


def test_floors_follow_the_privacy_config(ds):
    import dataclasses
    cfg = dataclasses.replace(ds.config, privacy={**ds.config.privacy, "inference_min_n": 60})
    res = compare_partners(Dataset(config=cfg, tables=ds.tables), term=Q2, suppress=False)
    small = np.minimum(res.n_t, res.n_c)
    assert (res.loc[(small >= 10) & (small < 60), "sample_status"] == "descriptive_only").all()


def test_baseline_equivalence_and_wording(rng):
    # participants were absent 4 more days per quarter last year: baseline not equivalent
    ds = district(rng, shift_prior=4.0)
    res = compare_partners(ds, term=Q2, partners="P01", suppress=False, design="raw").set_index("kpi_id")
    row = res.loc["attendance_rate"]
    treated, comp = _groups(ds, "P01", Q2)
    prior = build_panel(ds, terms=LY_Q2, kpis=["attendance_rate"])
    v = prior.assign(student_id=prior.student_id.astype(str)).set_index("student_id")["value"]
    from partner_analysis.stats import hedges_g
    expected = float(hedges_g(v[v.index.isin(treated)], v[v.index.isin(comp)]))
    assert row.baseline_es == pytest.approx(expected)
    assert row.baseline_verdict == "not_satisfied" and row.wording == "association"
    # raw and adjusted comparisons are "associated with", never effects (issue #11)
    full = compare_partners(ds, term=Q2, suppress=False, design="raw")
    assert (full.wording == "association").all()
    assert set(full.baseline_verdict) <= {"satisfied", "needs_adjustment", "not_satisfied", "unknown"}


def test_trends_equal_the_earlier_terms_rows(ds, table):
    q1 = compare_partners(ds, term=Q1, suppress=False, by_program=True)
    ly = compare_partners(ds, term=LY_Q2, partners="P01", suppress=False)
    key = ["partner_id", "program_id", "kpi_id", "subgroup", "subgroup_value"]
    m = table.merge(q1, on=key, suffixes=("", "_q1"))
    ok = m.n_t_q1 >= 10
    np.testing.assert_allclose(m.loc[ok, "prev_term_mean_t"], m.loc[ok, "mean_t_q1"])
    np.testing.assert_allclose(m.change_prev_term[ok], (m.mean_t - m.mean_t_q1)[ok])
    assert m.loc[~ok, "prev_term_mean_t"].isna().all()  # too few students then: withheld
    p01 = table[(table.partner_id == "P01") & (table.program_id == "all")].merge(ly, on=key, suffixes=("", "_ly"))
    assert (p01.n_t_ly == 40).all()
    np.testing.assert_allclose(p01.last_year_mean_t, p01.mean_t_ly)
    # P02 had nobody in last year's Q2
    assert table.loc[table.partner_id == "P02", "last_year_mean_t"].isna().all()


def test_participation_overlap_rule(ds, table):
    # five P02 students ended on 2025-10-01 (Q1): they count in Q1, not in Q2
    n_q2 = table.set_index(["partner_id", "program_id", "kpi_id"]).loc[("P02", "all", "gpa"), "n_t"]
    n_q1 = compare_partners(ds, term=Q1, partners="P02", suppress=False).set_index("kpi_id").loc["gpa", "n_t"]
    treated_q2, _ = _groups(ds, "P02", Q2)
    treated_q1, _ = _groups(ds, "P02", Q1)
    assert n_q2 == len(treated_q2) and n_q1 == len(treated_q1)
    assert len(treated_q1 - treated_q2) > 0


def test_subgroups_partition_the_all_row(ds):
    res = compare_partners(ds, term=Q2, partners="P01", subgroup="frl", suppress=False)
    assert set(res.subgroup) == {"all", "frl"}
    assert set(res.loc[res.subgroup == "frl", "subgroup_value"]) == {"true", "false"} or \
        set(res.loc[res.subgroup == "frl", "subgroup_value"]) == {"True", "False"}
    for kpi, d in res.groupby("kpi_id"):
        all_row = d[d.subgroup == "all"].iloc[0]
        sub = d[d.subgroup == "frl"]
        assert sub.n_t.sum() == all_row.n_t and sub.n_c.sum() == all_row.n_c
        assert (sub.mean_t * sub.n_t).sum() / sub.n_t.sum() == pytest.approx(all_row.mean_t)


def test_bad_arguments_are_config_errors(ds):
    with pytest.raises(ConfigError, match="comparison"):
        compare_partners(ds, term=Q2, comparison="matched", suppress=False)
    with pytest.raises(ConfigError, match="P99"):
        compare_partners(ds, term=Q2, partners=["P99"], suppress=False)
    with pytest.raises(ConfigError, match="unknown term"):
        compare_partners(ds, term="2030-31-Q1", suppress=False)
    with pytest.raises(ConfigError, match="subgroup"):
        compare_partners(ds, term=Q2, subgroup="shoe_size", suppress=False)


def test_compare_terms_stacks_terms(ds):
    res = compare_terms(ds, terms=[Q1, Q2], partners="P02", suppress=False, kpis=["gpa"])
    assert list(res.term.unique()) == [Q1, Q2] and set(res.kpi_id) == {"gpa"}


# -- the UCI data through the same comparison ---------------------------------------------------------

UCI_KPIS = textwrap.dedent("""
    extends: default
    kpis:
      - {id: g3, label: Final grade (G3), source: course_grades, kind: continuous, unit: points,
         higher_is_better: true, aggregate: mean, column: mark_value}
      - {id: g3_pass, label: Passed (G3 >= 10), source: course_grades, kind: binary, unit: share,
         higher_is_better: true, aggregate: min, column: mark_value, threshold: {op: ">=", value: 10}}
    """)


@pytest.mark.parametrize("map_name, n_t, n_c, g, ci, ii, pass_t, pass_c, cox", [
    # statistics.md §9 golden vectors (UCI Student Performance, schoolsup as the programme flag)
    pytest.param("uci_map.yml", 51, 344, -0.246639, (-0.541, 0.048), -9.74, 0.5490, 0.6890, -0.36274, id="math"),
    pytest.param("uci_por_map.yml", 68, 581, -0.216714, (-0.468, 0.035), -8.58, 0.8824, 0.8417, 0.208684,
                 id="portuguese"),
])
def test_uci_student_performance_golden_vectors(uci_dir, tmp_path, map_name, n_t, n_c, g, ci, ii, pass_t, pass_c,
                                                cox):
    from pathlib import Path

    from partner_analysis.data.dataset import read_dataset
    from partner_analysis.data.load import import_source
    from partner_analysis.kpi.catalog import load_catalog
    maps = Path(__file__).resolve().parents[1] / "examples" / "uci"
    out = tmp_path / "uci"
    import_source(uci_dir, map_path=maps / map_name, out=out)
    (tmp_path / "kpis.yml").write_text(UCI_KPIS, encoding="utf-8")
    ds = read_dataset(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = compare_partners(ds, term="2005-06", comparison="all_nonparticipants", suppress=False,
                               catalog=load_catalog(tmp_path / "kpis.yml"), kpis=["g3", "g3_pass"])
    res = res.set_index("kpi_id")
    row = res.loc["g3"]
    assert (row.partner_id, row.n_t, row.n_c) == ("SUP", n_t, n_c)
    assert row.effect_size == pytest.approx(g, abs=1e-6)
    assert (row.es_ci_low, row.es_ci_high) == (pytest.approx(ci[0], abs=1e-3), pytest.approx(ci[1], abs=1e-3))
    assert row.improvement_index == pytest.approx(ii, abs=0.01)
    p = res.loc["g3_pass"]
    assert (p.mean_t, p.mean_c) == (pytest.approx(pass_t, abs=1e-4), pytest.approx(pass_c, abs=1e-4))
    assert p.effect_size == pytest.approx(cox, abs=1e-5)
    # one term only: no baseline, no trend; wording stays "association"
    assert row.baseline_verdict == "unknown" and row.wording == "association"
    assert np.isnan(row.prev_term_mean_t)


# -- the demo district, suppressed ----------------------------------------------------------------------

T_COLUMNS = ["mean_t", "sd_t", "ci_low_t", "ci_high_t"]
C_COLUMNS = ["mean_c", "sd_c", "ci_low_c", "ci_high_c"]
CONTRAST_COLUMNS = ["difference", "effect_size", "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj"]

def test_demo_district_table_is_complete_and_suppressed(demo_dir):
    pytest.importorskip("partner_analysis.privacy")
    from partner_analysis.data.dataset import read_dataset
    ds = read_dataset(demo_dir)
    raw = compare_partners(ds, term=Q2, suppress=False, by_program=True)
    assert raw.p_adj.notna().any()
    assert raw.baseline_verdict.isin(["satisfied", "needs_adjustment", "not_satisfied"]).any()
    res = compare_partners(ds, term=Q2, by_program=True)
    assert list(res.columns[:len(COLUMNS)]) == COLUMNS
    assert len(res) == len(raw)
    assert res.p_adj.notna().any() and res.baseline_verdict.notna().all()
    small = ((raw.n_t < 10) | (raw.n_c < 10)).to_numpy()
    assert small.any()
    # no statistic of a group below 10 is visible, nor a contrast involving one, nor a count below 10
    small_t, small_c = (raw.n_t < 10).to_numpy(), (raw.n_c < 10).to_numpy()
    assert res.loc[small_t, T_COLUMNS + CONTRAST_COLUMNS].isna().all().all()
    assert res.loc[small_c, C_COLUMNS + CONTRAST_COLUMNS].isna().all().all()
    # and not recoverable by subtraction: of t, c and all, at least two are hidden
    hidden = np.column_stack([res[c].isna() for c in ("mean_t", "mean_c", "mean_all")]).sum(axis=1)
    assert (hidden[small] >= 2).all()
    assert res.loc[small, "suppressed"].all()
    for col in ("n_t", "n_c", "n_all"):
        shown = pd.to_numeric(res[col], errors="coerce").dropna()
        assert (shown >= 10).all()
    assert (res.loc[res.suppressed, "marker"] != "").all()


def test_cli_writes_the_suppressed_table(demo_dir, tmp_path, capsys):
    pytest.importorskip("partner_analysis.privacy")
    from partner_analysis.cli import main
    out = tmp_path / "kpis.csv"
    assert main(["kpis", str(demo_dir), "--term", Q2, "--partner", "P02", "--out-file", str(out)]) == 0
    got = pd.read_csv(out, dtype={"partner_id": str})
    assert set(got.partner_id) == {"P02"} and set(got.term) == {Q2}
    for col in ("n_t", "n_c"):
        assert (got[col].dropna() >= 10).all()
    hidden = got.n_t.isna() | got.n_c.isna()
    assert got.loc[hidden, ["mean_c", "difference", "effect_size", "p_val"]].isna().all().all() or \
        got.loc[hidden, ["mean_t", "difference", "effect_size", "p_val"]].isna().all().all()
    pq = tmp_path / "kpis.parquet"
    capsys.readouterr()
    # the old spelling `--out FILE` works for one release and says so (--out is a folder in every other verb)
    assert main(["kpis", str(demo_dir), "--term", Q2, "--out", str(pq)]) == 0
    assert "--out-file" in capsys.readouterr().err
    assert len(pd.read_parquet(pq)) > len(got)
    assert main(["kpis", str(demo_dir), "--term", Q2, "--out-file", str(tmp_path / "x.xlsx")]) == 2


def test_goal_attainment_from_a_yaml_file(ds, tmp_path):
    from partner_analysis.kpi.goals import goal_attainment, read_goals_yaml
    tables = compare_terms(ds, terms=[Q1, Q2], partners="P02", suppress=False, kpis=["gpa"])
    now = tables[(tables.term == Q2) & (tables.program_id == "all") & (tables.subgroup == "all")].iloc[0].mean_t
    (tmp_path / "goals.yml").write_text(textwrap.dedent(f"""
        goals:
          - {{goal_id: G1, partner_id: P02, kpi_id: gpa, baseline: {now - 0.5}, target: {now - 0.1},
             start_term: {Q1}, due_term: 2025-26-Q4}}
          - {{goal_id: G2, partner_id: P02, kpi_id: gpa, baseline: {now - 0.1}, target: {now + 0.9},
             start_term: {Q1}, due_term: {Q2}}}
          - {{goal_id: G3, partner_id: P02, kpi_id: gpa, baseline: {now - 0.3}, target: {now + 0.3},
             start_term: {Q1}, due_term: 2025-26-Q3}}
        """), encoding="utf-8")
    goals = read_goals_yaml(tmp_path / "goals.yml", config=ds.config)
    res = goal_attainment(tables, goals, config=ds.config, term=Q2).set_index("goal_id")
    assert res.loc["G1", "latest_value"] == pytest.approx(now)
    # G1 reached; G2 due now and 10 % of the way: off track; G3 half-way, expected half-way: on track
    assert list(res.status) == ["met", "off_track", "on_track"]
    bad = tmp_path / "bad.yml"
    bad.write_text("goals:\n  - {goal_id: G9, partner_id: P02, kpi_id: gpa, baseline: x, target: 1, "
                   "due_term: 2025-26-Q4}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="baseline"):
        read_goals_yaml(bad)


def test_school_filter_restricts_both_groups(ds):
    res = compare_partners(ds, term=Q2, partners="P01", school="0102", suppress=False).set_index("kpi_id")
    treated, comp = _groups(ds, "P01", Q2)
    st = ds["students"].set_index("student_id")["school_id"]
    in_school = set(st[st == "0102"].index)
    row = res.loc["gpa"]
    assert row.n_t == len(treated & in_school) and row.n_c == len(comp & in_school)
    with pytest.raises(ConfigError, match="school"):
        compare_partners(ds, term=Q2, school="9999", suppress=False)


def test_row_order_of_the_inputs_does_not_matter(ds):
    shuffled = Dataset(config=ds.config, tables={k: v.sample(frac=1.0, random_state=5).reset_index(drop=True)
                                                 for k, v in ds.tables.items()})
    key = ["partner_id", "program_id", "kpi_id", "subgroup", "subgroup_value"]
    a = compare_partners(ds, term=Q2, suppress=False, by_program=True).sort_values(key).reset_index(drop=True)
    b = compare_partners(shuffled, term=Q2, suppress=False, by_program=True).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


# -- designs, BH family and the analysis outputs (issue #11) ---------------------------------------------------

def _p03(ds, arrays, partners, **kw):
    t = compare_partners(ds, term=Q2, partners=partners, arrays=arrays, suppress=False, **kw)
    return t[(t.partner_id == "P03") & (t.program_id == "all")].set_index("kpi_id")["p_adj"]


def test_bh_family_is_the_partners_report_whatever_else_ran(demo_dir):
    # issue #11: P03's p_adj was 0.3935 / 0.4775 / 0.5968 in an 8-partner / 3-partner / solo run
    from partner_analysis.kpi.explore import OutcomeExplorer
    from partner_analysis.kpi.panel import compute_kpis, read_dataset_for_kpis
    ds = read_dataset_for_kpis(demo_dir)
    arrays = compute_kpis(ds)
    all8 = _p03(ds, arrays, None)
    assert all8.notna().sum() >= 3
    pd.testing.assert_series_equal(all8, _p03(ds, arrays, ["P01", "P03", "P05"]))
    pd.testing.assert_series_equal(all8, _p03(ds, arrays, "P03"))
    pd.testing.assert_series_equal(all8.loc[["attendance_rate"]], _p03(ds, arrays, "P03", kpis=["attendance_rate"]))
    # a subgroup request adds its own family and leaves the headline rows alone
    with_sub = compare_partners(ds, term=Q2, partners="P03", arrays=arrays, suppress=False, subgroup="frl")
    headline = with_sub[(with_sub.program_id == "all") & (with_sub.subgroup == "all")].set_index("kpi_id")["p_adj"]
    pd.testing.assert_series_equal(all8, headline)
    assert with_sub.loc[with_sub.subgroup == "frl", "p_adj"].notna().any()
    # the explorer shows the same adjusted p
    ex = OutcomeExplorer(ds, term=Q2)
    ex.partner.value, ex.kpi.value, ex.privacy.value = "P03", "attendance_rate", False
    shown = ex.comparison_table([Q2]).iloc[0]
    assert shown.p_adj == pytest.approx(all8["attendance_rate"], rel=1e-12, nan_ok=True)


def test_bundle_carries_design_label_mde_and_the_same_p_adj(demo_dir, tmp_path):
    from partner_analysis.kpi.panel import compute_kpis, read_dataset_for_kpis
    from partner_analysis.report.bundle import build_bundles, load_bundle
    info = build_bundles(demo_dir, term=Q2, partners=["P03"], out=tmp_path / Q2 / "bundles")[0]
    kpi = load_bundle(info.path).table("kpi_comparison").set_index("kpi_id")
    assert {"design", "evidence_label", "mde"} <= set(kpi.columns)
    ds = read_dataset_for_kpis(demo_dir)
    ref = compare_partners(ds, term=Q2, partners=None, arrays=compute_kpis(ds))
    ref = ref[(ref.partner_id == "P03") & (ref.program_id == "all")].set_index("kpi_id")
    shown = kpi.p_adj.dropna()
    assert len(shown) > 0
    np.testing.assert_allclose(shown, ref.loc[shown.index, "p_adj"], rtol=1e-9)
    assert set(kpi.design) == {"adjusted"}  # the default: 2025-26-Q2 has a prior-year term
    # the report's story puts the label and the MDE beside each tested effect
    from partner_analysis.report.narrative import story
    text = " ".join(story(load_bundle(info.path)))
    tested = kpi[kpi.sample_status == "tested"]
    if len(tested):
        assert "Evidence: " in text and "standard deviations could be detected" in text
        assert "with fewer than 10 schools the test is optimistic" in text  # the demo has 5 schools


def test_design_columns_and_robustness(demo_dir):
    from partner_analysis.kpi.panel import read_dataset_for_kpis
    ds = read_dataset_for_kpis(demo_dir)
    res = compare_partners(ds, term=Q2, suppress=False, design="adjusted", robustness=True)
    fitted = res[res.design_status.str.startswith("fitted")]
    assert len(fitted) > 20
    assert (fitted.n_t_analytic <= fitted.n_t).all() and (fitted.n_c_analytic <= fitted.n_c).all()
    assert fitted.se.gt(0).all() and fitted.mde.gt(0).all()
    assert set(res.evidence_label.str.split(",").str[0]) <= {
        "descriptive only", "comparison adjusted for prior achievement and background",
        "baseline-equivalent comparison", "groups not comparable"}
    np.testing.assert_allclose(res.es_adjusted[res.effect_size.notna()], res.effect_size.dropna())
    flagged = res[res.robustness_flag != ""]
    for r in flagged.itertuples():
        es = np.array([r.es_raw, r.es_adjusted, r.es_matched])
        pv = np.array([r.p_raw, r.p_adjusted, r.p_matched])
        ok = np.isfinite(es) & np.isfinite(pv)
        assert len(set(np.sign(es[ok]))) > 1 or len(set(pv[ok] < 0.05)) > 1
    assert (res.wording == "association").all()  # never causal words for the adjusted design
    # a design that is not one of the three is a ConfigError
    with pytest.raises(ConfigError, match="design"):
        compare_partners(ds, term=Q2, design="instrumental", suppress=False)
    with pytest.raises(ConfigError, match="shoe_size"):
        compare_partners(ds, term=Q2, design="adjusted", covariates=["prior", "shoe_size"], suppress=False)


def test_cli_design_balance_and_private_frame(demo_dir, tmp_path):
    from partner_analysis.cli import main
    out, bal, frame = tmp_path / "t.csv", tmp_path / "b.csv", tmp_path / "work" / "f.parquet"
    assert main(["kpis", str(demo_dir), "--term", Q2, "--partner", "P03", "--design", "matched",
                 "--covariates", "prior,frl,gender", "--out-file", str(out), "--balance", str(bal),
                 "--analysis-frame", str(frame)]) == 0
    t = pd.read_csv(out, dtype={"partner_id": str})
    assert set(t.design) == {"matched"}
    for col in ("n_t_analytic", "n_c_analytic", "estimate", "se", "effect_size", "es_ci_low", "es_ci_high", "p_val",
                "p_adj", "mde", "evidence_label", "balance_max_smd", "es_raw", "es_adjusted", "es_matched",
                "robustness_flag"):
        assert col in t.columns
    b = pd.read_csv(bal, keep_default_na=False)
    assert {"covariate", "level", "smd_before", "smd_after", "variance_ratio_before", "wwc_category"} <= set(b.columns)
    assert set(b.covariate) == {"prior", "frl", "gender"}
    f = pd.read_parquet(frame)
    assert {"partner_id", "kpi_id", "student_id", "school_id", "grade_level", "treated", "outcome", "prior",
            "weight", "subclass", "frl", "gender"} <= set(f.columns)
    assert set(f.weight) <= {0.0, 1.0} and (f.loc[f.weight == 1, "subclass"] > 0).all()
    pairs = f[f.weight == 1].groupby(["kpi_id", "subclass"])
    assert (pairs.treated.sum() == 1).all() and (pairs.size() == 2).all()
    assert (pairs.school_id.nunique() == 1).all() and (pairs.grade_level.nunique() == 1).all()
    # student-level files never go to a release folder; nothing is written when refused
    rel = tmp_path / "reports" / Q2 / "release"
    assert main(["kpis", str(demo_dir), "--term", Q2, "--out-file", str(tmp_path / "t2.csv"),
                 "--analysis-frame", str(rel / "f.parquet")]) == 2
    assert not (tmp_path / "t2.csv").exists() and not rel.exists()


def test_suppressed_design_columns_hide_small_and_hidden_figures(demo_dir):
    from partner_analysis.kpi.panel import read_dataset_for_kpis
    res = compare_partners(read_dataset_for_kpis(demo_dir), term=Q2, by_program=True, design="adjusted")
    for col in ("n_t_analytic", "n_c_analytic"):
        assert (res[col].dropna() >= 10).all()
    hidden = res.difference.isna() | (res.sample_status != "tested")
    assert hidden.any()
    assert res.loc[hidden, ["estimate", "se", "mde", "effect_size", "p_adj"]].isna().all().all()
    assert (res.loc[hidden, "evidence_label"] == "descriptive only").all()


def test_subgroup_only_rows_and_suppress_table_rebuild_the_suppressed_table(demo_dir):
    # run_comparison(subgroup_only=True) gives the value rows of the full call, and suppress_table applied to
    # the unsuppressed rows gives what suppress=True gives (the outcome explorer relies on both)
    from partner_analysis.kpi.compare import run_comparison, suppress_table
    from partner_analysis.kpi.panel import compute_kpis, read_dataset_for_kpis
    ds = read_dataset_for_kpis(demo_dir)
    arrays = compute_kpis(ds)
    common = dict(term="2025-26-Q2", partners=["P01"], by_program=True, arrays=arrays, school="0101")
    full = compare_partners(ds, subgroup="gender", suppress=False, **common)
    values = run_comparison(ds, subgroup="gender", subgroup_only=True, suppress=False, **common).table
    assert (values["subgroup_value"] != "all").all() and len(values)
    pd.testing.assert_frame_equal(values, full[full["subgroup_value"] != "all"].reset_index(drop=True))
    suppressed = compare_partners(ds, subgroup="gender", suppress=True, **common)
    assert (suppressed["marker"] != "").any()
    pd.testing.assert_frame_equal(suppress_table(ds, full), suppressed)
    with pytest.raises(ConfigError, match="subgroup_only"):
        run_comparison(ds, subgroup_only=True, suppress=False, **common)
