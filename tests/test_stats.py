"""Tests for partner_analysis.stats.

Three layers: published vectors (statistics.md, surveys.md; sources named per
case), UCI golden vectors (statistics.md §9) and >= 200 random cases per
statistic against an independent implementation (pingouin, scipy, statsmodels,
scikit-learn, or a direct formula written here). Hypothesis covers invariants.
"""
from __future__ import annotations

import doctest
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from partner_analysis import stats
from partner_analysis.exceptions import ConfigError, InputDataError, PartnerAnalysisWarning
from partner_analysis.stats import (EffectSize, attrition, attrition_boundary, baseline_equivalence, bh_adjust,
                                    bh_reject, cluster_correction, cox_effect, cox_index, cronbach_alpha,
                                    hedges_g, hedges_g_from_stats, improvement_index, rwg, rwg_j,
                                    two_proportion_test, weighted_kappa, welch_t_from_stats, welch_t_test,
                                    wilson_ci)

REF = Path(__file__).parent / "reference"
N_RANDOM = 250
HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_docstring_examples_run():
    # Every statistic's docstring carries a runnable example; keep them honest.
    result = doctest.testmod(stats, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 20
    assert result.failed == 0


# =========================================================================== published vectors
class TestHedgesG:
    def test_wwc_vector(self):
        # statistics.md §1.1: T={5,6,7}, C={4,5,6}: d = 1.0, omega = 0.8, g = 0.8 (exact J: 0.7979)
        es = hedges_g([5, 6, 7], [4, 5, 6])
        assert es.estimate == pytest.approx(0.8, abs=1e-12)
        assert float(es) == pytest.approx(0.8, abs=1e-12)
        assert es.method == "hedges_g"
        assert (es.n_treatment, es.n_comparison) == (3, 3)
        d = hedges_g([5, 6, 7], [4, 5, 6], small_sample_correction=False)
        assert d.estimate == pytest.approx(1.0, abs=1e-12)
        assert d.method == "cohens_d"
        assert stats.wwc_omega(6) == pytest.approx(0.8, abs=1e-12)

    def test_se_and_ci_formula(self):
        es = hedges_g([5, 6, 7], [4, 5, 6])
        se = math.sqrt(6 / 9 + 0.64 / 12)  # statistics.md §1.1 SE(g)
        assert es.se == pytest.approx(se, abs=1e-12)
        assert es.ci_low == pytest.approx(0.8 - 1.959964 * se, abs=1e-5)
        assert es.ci_high == pytest.approx(0.8 + 1.959964 * se, abs=1e-5)
        es90 = hedges_g([5, 6, 7], [4, 5, 6], confidence=0.90)
        assert es90.ci_high - es90.ci_low < es.ci_high - es.ci_low

    def test_vectorised_from_stats_matches_scalar(self, rng):
        mt, mc = rng.normal(size=20), rng.normal(size=20)
        sd_t, sd_c = rng.uniform(0.5, 2, 20), rng.uniform(0.5, 2, 20)
        nt, nc = rng.integers(2, 200, 20), rng.integers(2, 200, 20)
        vec = hedges_g_from_stats(mt, sd_t, nt, mc, sd_c, nc)
        assert isinstance(vec.estimate, np.ndarray) and vec.estimate.shape == (20,)
        for i in range(20):
            one = hedges_g_from_stats(mt[i], sd_t[i], nt[i], mc[i], sd_c[i], nc[i])
            assert vec.estimate[i] == pytest.approx(one.estimate, abs=1e-12)
            assert vec.ci_low[i] == pytest.approx(one.ci_low, abs=1e-12)

    def test_degenerate_cells_are_nan_not_errors(self):
        with pytest.warns(PartnerAnalysisWarning, match="pooled SD is 0"):
            es = hedges_g_from_stats([1.0, 1.0, 2.0], [0.0, 1.0, 1.0], [5, 1, 10], [0.0, 0.0, 1.0],
                                     [0.0, 1.0, 1.0], [5, 1, 10])
        assert math.isnan(es.estimate[0])  # no variance
        assert math.isnan(es.estimate[1])  # N = 2
        assert not math.isnan(es.estimate[2])

    def test_errors(self):
        with pytest.raises(InputDataError, match="at least 2"):
            hedges_g([1.0], [1.0, 2.0])
        with pytest.raises(InputDataError, match="must not be negative"):
            hedges_g_from_stats(1, -1, 10, 0, 1, 10)
        with pytest.raises(InputDataError, match="numbers only"):
            hedges_g(["a", "b"], [1, 2])
        with pytest.raises(ConfigError, match="confidence"):
            hedges_g([1, 2, 3], [2, 3, 4], confidence=95)

    def test_nan_dropped(self):
        assert hedges_g([5, 6, np.nan, 7], [4, 5, 6]).estimate == pytest.approx(0.8, abs=1e-12)


class TestCox:
    def test_vectors(self):
        # statistics.md §1.2: p_T = 0.60, p_C = 0.50 -> 0.2457; with omega, N = 40 -> 0.2409
        assert cox_index(0.60, 0.50) == pytest.approx(0.2457, abs=5e-5)
        assert cox_index(0.60, 0.50, n_t=20, n_c=20, small_sample_correction=True) == pytest.approx(0.2409,
                                                                                                    abs=5e-5)

    @pytest.mark.parametrize("pt,pc", [pytest.param(0.0, 0.5, id="zero"), pytest.param(0.5, 1.0, id="one")])
    def test_undefined_at_bounds(self, pt, pc):
        with pytest.warns(PartnerAnalysisWarning, match="undefined"):
            assert math.isnan(cox_index(pt, pc))

    def test_errors(self):
        with pytest.raises(InputDataError, match="proportion"):
            cox_index(60, 50)
        with pytest.raises(ConfigError, match="n_t and n_c"):
            cox_index(0.6, 0.5, small_sample_correction=True)

    def test_random_against_direct_formula(self, rng):
        # direct formula written here: difference of log odds / 1.65, omega = 1 - 3/(4N - 9)
        pt, pc = rng.uniform(0.01, 0.99, N_RANDOM), rng.uniform(0.01, 0.99, N_RANDOM)
        nt, nc = rng.integers(2, 500, N_RANDOM), rng.integers(2, 500, N_RANDOM)
        got = cox_index(pt, pc, n_t=nt, n_c=nc, small_sample_correction=True)
        for i in range(N_RANDOM):
            lo = math.log(pt[i] / (1 - pt[i])) - math.log(pc[i] / (1 - pc[i]))
            omega = 1 - 3 / (4 * (nt[i] + nc[i]) - 9)
            assert got[i] == pytest.approx(omega * lo / 1.65, rel=1e-12)
            assert cox_index(pt[i], pc[i]) == pytest.approx(lo / 1.65, rel=1e-12)

    def test_cox_effect_se(self):
        es = cox_effect(12, 20, 10, 20)
        assert es.estimate == pytest.approx(cox_index(0.6, 0.5), abs=1e-12)
        # variance of the log odds ratio = sum of reciprocal cell counts (Borenstein et al. 2009, ch. 5)
        assert es.se == pytest.approx(math.sqrt(1 / 12 + 1 / 8 + 1 / 10 + 1 / 10) / 1.65, abs=1e-12)
        assert es.method == "cox"


class TestImprovementIndex:
    # statistics.md §1.3 table: g -> unrounded I, reported (rounded) I
    @pytest.mark.parametrize("g,unrounded,reported", [
        pytest.param(0.25, 9.87, 10, id="0.25"),
        pytest.param(0.10, 3.98, 4, id="0.10"),
        pytest.param(-0.20, -7.93, -8, id="-0.20"),
        pytest.param(0.80, 28.81, 29, id="0.80"),
    ])
    def test_table(self, g, unrounded, reported):
        got = improvement_index(g)
        assert got == pytest.approx(unrounded, abs=5e-3)
        assert round(got) == reported

    def test_arrays_and_effectsize(self):
        arr = improvement_index(np.array([0.25, np.nan]))
        assert arr[0] == pytest.approx(9.87, abs=5e-3) and math.isnan(arr[1])
        assert improvement_index(hedges_g([5, 6, 7], [4, 5, 6])) == pytest.approx(28.81, abs=5e-3)

    @HYP
    @given(st.floats(-30, 30))
    def test_range_and_odd(self, g):
        i = improvement_index(g)
        assert -50 <= i <= 50
        if abs(g) < 8:  # beyond that Phi(g) rounds to 1 in floating point
            assert -50 < i < 50
        assert improvement_index(-g) == pytest.approx(-i, abs=1e-9)


class TestWilson:
    @pytest.mark.parametrize("row", pd.read_csv(REF / "wilson_statistics.csv").to_dict("records"),
                             ids=lambda r: f"{r['x']}/{r['n']}")
    def test_table(self, row):
        # statistics.md §6 table
        lo, hi = wilson_ci(row["x"], row["n"])
        assert lo == pytest.approx(row["ci_low"], abs=5e-5)
        assert hi == pytest.approx(row["ci_high"], abs=5e-5)

    def test_random_against_statsmodels(self, rng):
        from statsmodels.stats.proportion import proportion_confint
        n = rng.integers(1, 1000, N_RANDOM)
        x = rng.integers(0, n + 1)
        conf = 0.9
        lo, hi = wilson_ci(x, n, confidence=conf)
        ref_lo, ref_hi = proportion_confint(x, n, alpha=1 - conf, method="wilson")
        np.testing.assert_allclose(lo, ref_lo, atol=1e-10)
        np.testing.assert_allclose(hi, ref_hi, atol=1e-10)
        lo95, hi95 = wilson_ci(x, n)
        r95 = proportion_confint(x, n, alpha=0.05, method="wilson")
        np.testing.assert_allclose(lo95, r95[0], atol=1e-10)
        np.testing.assert_allclose(hi95, r95[1], atol=1e-10)

    def test_zero_n_and_errors(self):
        lo, hi = wilson_ci(np.array([0, 1]), np.array([0, 2]))
        assert math.isnan(lo[0]) and math.isnan(hi[0]) and not math.isnan(lo[1])
        with pytest.raises(InputDataError, match="exceed"):
            wilson_ci(5, 4)
        with pytest.raises(InputDataError, match="negative"):
            wilson_ci(-1, 4)


class TestBH:
    def test_vector(self):
        ref = pd.read_csv(REF / "bh_statistics.csv")  # statistics.md §5
        np.testing.assert_allclose(bh_adjust(ref["p"]), ref["p_adj"], atol=5e-5)
        assert bh_reject(ref["p"]).tolist() == ref["reject_05"].tolist()

    def test_random_against_statsmodels_and_scipy(self, rng):
        from scipy.stats import false_discovery_control
        from statsmodels.stats.multitest import multipletests
        for _ in range(N_RANDOM):
            m = int(rng.integers(1, 40))
            p = rng.uniform(0, 1, m) ** rng.uniform(1, 6)
            if rng.random() < 0.3:  # ties occur with rounded p-values
                p = np.round(p, 2)
            rej, adj, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")
            np.testing.assert_allclose(bh_adjust(p), adj, atol=1e-12)
            np.testing.assert_allclose(bh_adjust(p), false_discovery_control(p, method="bh"), atol=1e-12)
            assert (bh_reject(p, 0.05) == rej).all()

    def test_nan_kept_in_place(self):
        p = np.array([0.01, np.nan, 0.04, 0.03])
        adj = bh_adjust(p)
        assert math.isnan(adj[1])
        np.testing.assert_allclose(adj[[0, 2, 3]], bh_adjust([0.01, 0.04, 0.03]), atol=1e-15)
        assert bh_reject(p).tolist() == [True, False, True, True]

    def test_errors(self):
        with pytest.raises(InputDataError, match=r"\[0, 1\]"):
            bh_adjust([0.5, 1.2])
        with pytest.raises(ConfigError, match="alpha"):
            bh_reject([0.5], alpha=5)

    @HYP
    @given(hnp.arrays(float, st.integers(1, 30), elements=st.floats(0, 1)))
    def test_invariants(self, p):
        before = p.copy()
        adj = bh_adjust(p)
        np.testing.assert_array_equal(p, before)  # not mutated
        assert (adj >= p - 1e-15).all() and (adj <= 1).all()
        order = np.argsort(p, kind="mergesort")
        assert (np.diff(adj[order]) >= -1e-15).all()  # monotone in rank
        perm = np.random.default_rng(0).permutation(p.size)
        np.testing.assert_allclose(bh_adjust(p[perm]), adj[perm], atol=1e-15)


class TestBaselineEquivalence:
    @pytest.mark.parametrize("es,verdict", [
        pytest.param(0.0, "satisfied", id="0"),
        pytest.param(0.05, "satisfied", id="0.05"),
        pytest.param(-0.05, "satisfied", id="-0.05"),
        pytest.param(0.0500001, "needs_adjustment", id="0.05+"),
        pytest.param(0.25, "needs_adjustment", id="0.25"),
        pytest.param(-0.2500001, "not_satisfied", id="-0.25-"),
        pytest.param(0.8, "not_satisfied", id="0.8"),
        pytest.param(float("nan"), "unknown", id="nan"),
    ])
    def test_thresholds(self, es, verdict):
        # statistics.md §2 (WWC v5.0 via baselinr wwc_classify)
        assert baseline_equivalence(es) == verdict

    def test_array(self):
        assert baseline_equivalence(np.array([0.01, 0.1, 0.3])).tolist() == ["satisfied", "needs_adjustment",
                                                                             "not_satisfied"]


class TestWelch:
    def test_random_against_scipy(self, rng):
        from scipy.stats import ttest_ind
        for _ in range(N_RANDOM):
            t = rng.normal(rng.normal(), rng.uniform(0.2, 3), int(rng.integers(2, 60)))
            c = rng.normal(rng.normal(), rng.uniform(0.2, 3), int(rng.integers(2, 60)))
            ref = ttest_ind(t, c, equal_var=False)
            got = welch_t_test(t, c)
            assert got.t == pytest.approx(ref.statistic, rel=1e-10)
            assert got.df == pytest.approx(ref.df, rel=1e-10)
            assert got.p_val == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)

    def test_from_stats_vectorised(self):
        from scipy.stats import ttest_ind_from_stats
        res = welch_t_from_stats(np.array([6.75, 1.0]), np.array([1.7, 2.0]), np.array([4, 30]),
                                 np.array([5.0, 0.0]), np.array([1.0, 1.0]), np.array([3, 40]))
        for i, args in enumerate([(6.75, 1.7, 4, 5.0, 1.0, 3), (1.0, 2.0, 30, 0.0, 1.0, 40)]):
            ref = ttest_ind_from_stats(*args, equal_var=False)
            assert res.t[i] == pytest.approx(ref.statistic, rel=1e-10)
            assert res.p_val[i] == pytest.approx(ref.pvalue, rel=1e-9)
        t, df, p = welch_t_test([5, 6, 7], [4, 5, 6])  # unpacks as (t, df, p)
        assert df == pytest.approx(4.0)

    def test_errors(self):
        with pytest.raises(InputDataError, match="at least 2"):
            welch_t_test([1.0], [2.0, 3.0])


class TestTwoProportion:
    def test_z_matches_statsmodels(self, rng):
        from statsmodels.stats.proportion import proportions_ztest
        checked = 0
        for _ in range(N_RANDOM):
            nt, nc = int(rng.integers(30, 400)), int(rng.integers(30, 400))
            xt, xc = int(rng.integers(10, nt - 9)), int(rng.integers(10, nc - 9))
            res = two_proportion_test(xt, nt, xc, nc)
            if res.method == "z":
                _, ref = proportions_ztest([xt, xc], [nt, nc])
                assert res.p_val == pytest.approx(ref, rel=1e-9, abs=1e-300)
                checked += 1
        assert checked >= 200

    def test_fisher_when_expected_below_5(self):
        from scipy.stats import fisher_exact
        res = two_proportion_test(1, 12, 6, 15)  # expected successes 7*12/27 = 3.1 < 5
        assert res.method == "fisher"
        assert res.p_val == pytest.approx(fisher_exact([[1, 11], [6, 9]])[1], rel=1e-12)
        assert two_proportion_test(0, 50, 0, 60) == (1.0, "fisher")

    def test_vector(self):
        # R: prop.test(c(30, 20), c(50, 50), correct = FALSE)$p.value = 0.04550026
        p, method = two_proportion_test(30, 50, 20, 50)
        assert method == "z" and p == pytest.approx(0.04550026, abs=1e-7)

    def test_errors(self):
        with pytest.raises(InputDataError, match="exceed"):
            two_proportion_test(11, 10, 1, 10)
        with pytest.raises(InputDataError, match="whole number"):
            two_proportion_test(0.5, 10, 1, 10)


class TestClusterAttrition:
    def test_hedges_2007_vector(self):
        # statistics.md §4: g=0.30, n=200/200, m=10/10, icc=0.20
        r = cluster_correction(0.30, 200, 200, 10, 10, 0.20)
        assert r["t"] == pytest.approx(2.983, abs=5e-4)
        assert r["t_adjusted"] == pytest.approx(1.349, abs=5e-4)
        assert r["df"] == pytest.approx(231.66, abs=5e-3)
        assert r["p"] == pytest.approx(0.179, abs=1e-3)
        assert r["p"] > 0.05  # no longer significant

    def test_icc_zero_changes_only_df(self):
        r = cluster_correction(0.30, 200, 200, 10, 10, 0.0)
        assert r["t_adjusted"] == pytest.approx(r["t"], rel=1e-12)
        assert r["df"] == pytest.approx(398, rel=1e-12)

    def test_single_cluster_warns_and_errors(self):
        with pytest.warns(PartnerAnalysisWarning, match="n = 1 confound"):
            cluster_correction(0.3, 20, 20, 1, 2, 0.1)
        with pytest.raises(InputDataError, match="icc"):
            cluster_correction(0.3, 20, 20, 2, 2, 1.0)
        with pytest.raises(InputDataError, match="more clusters"):
            cluster_correction(0.3, 2, 20, 3, 2, 0.1)

    @pytest.mark.parametrize("overall,cautious,optimistic", [
        # statistics.md §3 table
        (0, 5.7, 10.0), (10, 6.3, 10.9), (20, 5.4, 10.0), (30, 4.1, 8.2), (40, 2.6, 6.0), (50, 1.0, 3.7),
        (57, 0.0, 2.1), (60, None, 1.4), (65, None, 0.3), (66, None, None), (90, None, None),
    ])
    def test_boundaries(self, overall, cautious, optimistic):
        assert attrition_boundary(overall) == cautious
        assert attrition_boundary(overall, boundary="optimistic") == optimistic

    def test_table_shapes(self):
        assert len(stats.WWC_ATTRITION_CAUTIOUS) == len(stats.WWC_ATTRITION_OPTIMISTIC) == 66

    def test_worked_example(self):
        # statistics.md §3: overall 30 %, differential 6 pp -> high (cautious 4.1), low (optimistic 8.2)
        r = attrition(100, 100, 73, 67)
        assert r["overall"] == pytest.approx(30.0) and r["differential"] == pytest.approx(6.0)
        assert (r["limit"], r["rating"]) == (4.1, "high")
        assert attrition(100, 100, 73, 67, boundary="optimistic")["rating"] == "low"

    def test_boundary_inclusive_with_tolerance(self):
        # differential equal to the limit is low even when float arithmetic lands just above it
        r = attrition(2000, 2000, 1441, 1359)  # attrition 27.95 % vs 32.05 %: overall 30 %, limit 4.1
        assert r["limit"] == 4.1 and r["differential"] == pytest.approx(4.1, abs=1e-9)
        assert r["rating"] == "low"
        r = attrition(2000, 2000, 1441, 1358)  # differential 4.15 pp > 4.1 -> high
        assert r["rating"] == "high"
        r = attrition(1000, 1000, 730, 689)  # overall 29.05 -> 29 %, limit 4.3; differential 4.1 -> low
        assert r["limit"] == 4.3 and r["rating"] == "low"

    def test_errors(self):
        with pytest.raises(ConfigError, match="boundary"):
            attrition_boundary(10, boundary="pessimistic")
        with pytest.raises(InputDataError, match="percentage"):
            attrition_boundary(1.5e2)
        with pytest.raises(InputDataError, match="more analysed"):
            attrition(10, 10, 11, 5)


# =========================================================================== surveys
class TestAlpha:
    def test_vector(self):
        # surveys.md §3 -> 0.9300
        assert cronbach_alpha(pd.read_csv(REF / "alpha_surveys.csv")) == pytest.approx(0.9300, abs=5e-5)

    def test_random_against_pingouin(self, rng):
        import pingouin as pg
        for i in range(N_RANDOM):
            n, k = int(rng.integers(4, 40)), int(rng.integers(2, 8))
            latent = rng.normal(size=(n, 1))
            x = np.clip(np.round(3 + latent + rng.normal(scale=rng.uniform(0.3, 2), size=(n, k))), 1, 5)
            df = pd.DataFrame(x, columns=[f"q{j}" for j in range(k)])
            if i % 5 == 0:  # some missing answers: both sides use listwise deletion
                df = df.mask(rng.random(df.shape) < 0.05)
            if df.dropna().shape[0] < 2 or df.dropna().sum(axis=1).var() == 0:
                continue
            ref, _ = pg.cronbach_alpha(data=df, nan_policy="listwise")
            assert cronbach_alpha(df) == pytest.approx(ref, abs=1e-10)

    def test_errors(self):
        with pytest.raises(InputDataError, match="at least 2 items"):
            cronbach_alpha([[1], [2], [3]])
        with pytest.raises(InputDataError, match="complete respondents"):
            cronbach_alpha([[1, 2], [np.nan, 3]])
        with pytest.warns(PartnerAnalysisWarning):
            assert math.isnan(cronbach_alpha([[3, 3], [3, 3]]))

    @HYP
    @given(hnp.arrays(float, st.tuples(st.integers(2, 15), st.integers(2, 6)), elements=st.integers(1, 5)))
    def test_at_most_one_and_row_order_free(self, x):
        before = x.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PartnerAnalysisWarning)
            a = cronbach_alpha(x)
            b = cronbach_alpha(x[::-1])
        np.testing.assert_array_equal(x, before)
        if not math.isnan(a):
            assert a <= 1 + 1e-12
            assert b == pytest.approx(a, abs=1e-10)


class TestRwg:
    def test_vector(self):
        # surveys.md §3: 4 raters x 3 items, A = 5 -> mean variance 0.25, item rwg 0.875, rwg(j) 0.9545
        x = pd.read_csv(REF / "rwg_surveys.csv")
        assert x.var(ddof=1).mean() == pytest.approx(0.25)
        for col in x:
            assert rwg(x[col], 5) == pytest.approx(0.875, abs=1e-12)
        assert rwg_j(x, 5) == pytest.approx(0.9545, abs=5e-5)

    def test_random_against_direct_formula(self, rng):
        for _ in range(N_RANDOM):
            a = int(rng.integers(3, 8))
            x = rng.integers(1, a + 1, size=(int(rng.integers(2, 10)), int(rng.integers(1, 8)))).astype(float)
            null = (a * a - 1) / 12
            s2 = x.var(axis=0, ddof=1).mean()
            j = x.shape[1]
            want = 0.0 if s2 > null else j * (1 - s2 / null) / (j * (1 - s2 / null) + s2 / null)
            assert rwg_j(x, a) == pytest.approx(want, abs=1e-12)
            assert rwg(x[:, 0], a) == pytest.approx(max(0.0, 1 - x[:, 0].var(ddof=1) / null), abs=1e-12)

    def test_edges(self):
        assert math.isnan(rwg([3], 5))
        assert rwg([1, 5, 1, 5], 5) == 0.0  # truncated
        with pytest.raises(ConfigError, match="n_options"):
            rwg([1, 2], 1)


class TestKappa:
    @pytest.fixture
    def pairs(self):
        return pd.read_csv(REF / "kappa_surveys.csv")

    @pytest.mark.parametrize("weights,expected", [
        pytest.param("quadratic", 0.7126, id="quadratic"),
        pytest.param("linear", 0.5098, id="linear"),
        pytest.param(None, 0.2958, id="unweighted"),
    ])
    def test_vector_pair1(self, pairs, weights, expected):
        # surveys.md §3, first pair
        p = pairs[pairs.pair == 1]
        assert weighted_kappa(p.district, p.partner, labels=[1, 2, 3, 4, 5], weights=weights) == pytest.approx(
            expected, abs=5e-5)

    def test_vector_pair2_needs_labels(self, pairs):
        # surveys.md §3: 0.8611 with labels 1-5; 0.6429 when only observed labels are used (wrong)
        p = pairs[pairs.pair == 2]
        assert weighted_kappa(p.district, p.partner, labels=[1, 2, 3, 4, 5]) == pytest.approx(0.8611, abs=5e-5)
        assert weighted_kappa(p.district, p.partner, labels=[2, 4, 5]) == pytest.approx(0.6429, abs=5e-5)

    def test_random_against_sklearn(self, rng):
        from sklearn.metrics import cohen_kappa_score
        labels = [1, 2, 3, 4, 5]
        checked = 0
        for i in range(N_RANDOM):
            n = int(rng.integers(3, 30))
            a = rng.integers(1, 6, n)
            b = np.clip(a + rng.integers(-2, 3, n), 1, 5) if i % 2 else rng.integers(1, 6, n)
            w = ("quadratic", "linear", None)[i % 3]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = cohen_kappa_score(a, b, labels=labels, weights=w)
                got = weighted_kappa(a, b, labels=labels, weights=w)
            if math.isnan(ref):
                assert math.isnan(got)
                continue
            assert got == pytest.approx(ref, abs=1e-10)
            checked += 1
        assert checked >= 200

    def test_errors_and_missing(self):
        with pytest.raises(InputDataError, match="not one of the labels"):
            weighted_kappa([1, 6], [1, 2], labels=[1, 2, 3, 4, 5])
        with pytest.raises(ConfigError, match="weights"):
            weighted_kappa([1, 2], [1, 2], labels=[1, 2], weights="cubic")
        with pytest.raises(TypeError):
            weighted_kappa([1, 2], [1, 2])  # labels is required
        full = weighted_kappa([1, 2, 3, 4], [1, 3, 3, 4], labels=[1, 2, 3, 4, 5])
        assert weighted_kappa([1, 2, 3, None, 4], [1, 3, 3, 2, 4], labels=[1, 2, 3, 4, 5]) == pytest.approx(full)

    @HYP
    @given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=2, max_size=25))
    def test_pair_order_and_symmetry(self, pairs):
        a = np.array([p[0] for p in pairs])
        b = np.array([p[1] for p in pairs])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PartnerAnalysisWarning)
            k = weighted_kappa(a, b, labels=[1, 2, 3, 4, 5])
            k_rev = weighted_kappa(a[::-1], b[::-1], labels=[1, 2, 3, 4, 5])
            k_swap = weighted_kappa(b, a, labels=[1, 2, 3, 4, 5])
        if math.isnan(k):
            assert math.isnan(k_rev)
        else:
            assert k_rev == pytest.approx(k, abs=1e-12) and k_swap == pytest.approx(k, abs=1e-12)
            assert k <= 1 + 1e-12


# =========================================================================== random g vs pingouin
def test_hedges_g_random_against_pingouin(rng):
    import pingouin as pg
    for _ in range(N_RANDOM):
        t = rng.normal(rng.normal(), rng.uniform(0.2, 3), int(rng.integers(2, 80)))
        c = rng.normal(rng.normal(), rng.uniform(0.2, 3), int(rng.integers(2, 80)))
        ref = pg.compute_effsize(t, c, paired=False, eftype="hedges")
        es = hedges_g(t, c)
        assert es.estimate == pytest.approx(ref, rel=1e-10, abs=1e-12)
        agg = hedges_g_from_stats(t.mean(), t.std(ddof=1), t.size, c.mean(), c.std(ddof=1), c.size)
        assert agg.estimate == pytest.approx(ref, rel=1e-10, abs=1e-12)
        d = pg.compute_effsize(t, c, paired=False, eftype="cohen")
        assert hedges_g(t, c, small_sample_correction=False).estimate == pytest.approx(d, rel=1e-10, abs=1e-12)


@HYP
@given(hnp.arrays(float, st.integers(2, 30), elements=st.floats(-100, 100)),
       hnp.arrays(float, st.integers(2, 30), elements=st.floats(-100, 100)))
def test_hedges_g_invariants(t, c):
    t0, c0 = t.copy(), c.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartnerAnalysisWarning)
        es = hedges_g(t, c)
        swapped = hedges_g(c, t)
        shuffled = hedges_g(t[::-1], np.roll(c, 1))
    np.testing.assert_array_equal(t, t0)
    np.testing.assert_array_equal(c, c0)
    if math.isnan(es.estimate):
        return
    assert swapped.estimate == pytest.approx(-es.estimate, rel=1e-9, abs=1e-9)
    assert shuffled.estimate == pytest.approx(es.estimate, rel=1e-9, abs=1e-9)
    assert es.ci_low <= es.estimate <= es.ci_high
    assert isinstance(es, EffectSize)


# =========================================================================== UCI golden vectors
def _uci(uci_dir, name):
    data = pd.read_csv(uci_dir / name, sep=";")
    t = data.loc[data["schoolsup"] == "yes", "G3"].to_numpy(float)
    c = data.loc[data["schoolsup"] == "no", "G3"].to_numpy(float)
    return t, c


@pytest.mark.parametrize("row", pd.read_csv(REF / "uci_golden.csv").to_dict("records"), ids=lambda r: r["file"])
def test_uci_golden(uci_dir, row):
    # statistics.md §9: schoolsup == "yes", outcome G3, pass = G3 >= 10
    t, c = _uci(uci_dir, row["file"])
    assert (t.size, c.size) == (row["n_t"], row["n_c"])
    es = hedges_g(t, c)
    assert es.estimate == pytest.approx(row["g"], abs=5e-7)
    assert hedges_g(t, c, small_sample_correction=False).estimate == pytest.approx(row["d"], abs=5e-7)
    assert es.ci_low == pytest.approx(row["ci_low"], abs=5e-4)
    assert es.ci_high == pytest.approx(row["ci_high"], abs=5e-4)
    assert improvement_index(es) == pytest.approx(row["improvement_index"], abs=5e-3)
    pt, pc = (t >= 10).mean(), (c >= 10).mean()
    assert pt == pytest.approx(row["pass_t"], abs=5e-5)
    assert pc == pytest.approx(row["pass_c"], abs=5e-5)
    assert cox_index(pt, pc) == pytest.approx(row["d_cox"], abs=5e-6)
    xt, xc = int((t >= 10).sum()), int((c >= 10).sum())
    assert cox_effect(xt, t.size, xc, c.size).estimate == pytest.approx(row["d_cox"], abs=5e-6)
