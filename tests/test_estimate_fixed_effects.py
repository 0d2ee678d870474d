"""Absorbed school x grade fixed effects (estimate.ols_cluster / logit_cluster with ``absorb``) against the dense
dummy model they replace: same rank, dropped columns, estimates, CR1 covariance, fitted values and marginal
proportions, to floating-point noise. The dense model is itself checked against R and statsmodels in
tests/test_kpi_designs.py, so these are the same numbers as R's ``lm``/``glm`` + ``sandwich::vcovCL(type="HC1")``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from partner_analysis import estimate as est
from partner_analysis.kpi.designs import estimate_effect


def _dense(X, fe):
    L = int(fe.max()) + 1
    D = np.zeros((len(fe), L - 1))
    rows = np.flatnonzero(fe > 0)
    D[rows, fe[rows] - 1] = 1.0
    return np.column_stack([X, D])


def _data(seed=0, n=1500, schools=8, grades=3, within_cell=False):
    rng = np.random.default_rng(seed)
    school = rng.integers(0, schools, n)
    grade = rng.integers(0, grades, n)
    cell = school * grades + grade  # nested in schools, as the designs use them
    fe, _ = est.compact_codes(cell)
    treated = (rng.random(n) < 0.3).astype(float)
    prior = rng.normal(50, 10, n)
    frl = (rng.random(n) < 0.4).astype(float)
    const = np.ones(n)  # a constant covariate: aliased with the intercept
    twice = 2 * frl  # aliased with frl
    cols = [np.ones(n), treated, prior, frl, const, twice]
    if within_cell:
        cols.append((cell % 2).astype(float))  # constant within cells: a cell dummy is aliased with it
    X = np.column_stack(cols)
    eta = -0.3 + 0.4 * treated + 0.03 * (prior - 50) + 0.2 * frl + 0.3 * np.sin(cell)
    y = eta + rng.normal(0, 1, n)
    yb = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return y, yb, X, school, fe


@pytest.mark.parametrize("within_cell", [False, True])
def test_ols_absorbed_equals_dense_dummy_model(within_cell):
    y, _, X, school, fe = _data(within_cell=within_cell)
    dense = est.ols_cluster(y, _dense(X, fe), school)
    fit = est.ols_cluster(y, X, school, absorb=fe)
    assert fit.rank == dense.rank
    assert fit.dropped == dense.dropped  # positions in [X, D], the dense model's column order
    assert 4 in fit.dropped and 5 in fit.dropped  # the constant and the aliased covariate
    if within_cell:
        assert any(j >= X.shape[1] for j in fit.dropped)  # R drops the later cell dummy, not the covariate
    assert fit.r2 == pytest.approx(dense.r2, abs=1e-12)
    np.testing.assert_allclose(fit.fitted, dense.fitted, atol=1e-9)
    for col in (1, 2, 3):
        assert fit.coefficient(col)[0] == pytest.approx(dense.coefficient(col)[0], abs=1e-10)
        assert fit.coefficient(col)[1] == pytest.approx(dense.coefficient(col)[1], abs=1e-12)
        assert fit.t_test(col)[2] == pytest.approx(dense.t_test(col)[2], abs=1e-10)
    i, j = fit.position(1), fit.position(2)
    a, b = dense.position(1), dense.position(2)
    assert fit.vcov[i, j] == pytest.approx(dense.vcov[a, b], abs=1e-14)
    assert fit.rank == len(fit.kept) + fit.absorbed


@pytest.mark.parametrize("within_cell", [False, True])
def test_logit_absorbed_equals_dense_dummy_model(within_cell):
    _, yb, X, school, fe = _data(seed=3, within_cell=within_cell)
    dense = est.logit_cluster(yb, _dense(X, fe), school)
    fit = est.logit_cluster(yb, X, school, absorb=fe)
    assert fit.converged and dense.converged
    assert (fit.rank, fit.dropped, fit.kept) == (dense.rank, dense.dropped, dense.kept)
    np.testing.assert_allclose(fit.coef, dense.coef, atol=1e-9)
    np.testing.assert_allclose(fit.vcov, dense.vcov, atol=1e-12)
    np.testing.assert_allclose(fit.fitted, dense.fitted, atol=1e-12)
    m_fit = est.marginal_proportions(fit, X, 1)
    m_dense = est.marginal_proportions(dense, _dense(X, fe), 1)
    for key in ("p_t", "p_c", "difference", "se", "cox", "cox_se"):
        assert m_fit[key] == pytest.approx(m_dense[key], abs=1e-12), key


def test_fixed_effect_gram_is_the_dense_gram():
    _, _, X, _, fe = _data(seed=5)
    w = np.random.default_rng(1).random(len(fe))
    D = _dense(X, fe)
    np.testing.assert_allclose(est.fixed_effect_gram(X, fe, int(fe.max()) + 1, weights=w),
                               (D * w[:, None]).T @ D, rtol=1e-12, atol=1e-9)
    assert est.independent_columns(X, absorb=fe) == est.independent_columns(D)


def _pairs(d: pd.DataFrame) -> set[tuple[str, str]]:
    res = estimate_effect(d, outcome="y", prior="prior", covariates=["frl", "gender"], school="school_id",
                          grade="grade_level", design="matched", student="student_id")
    sub = res.subclass
    ids = d["student_id"].to_numpy()[res.analytic]
    t = d["treated"].to_numpy()[res.analytic] == 1
    by_sub = {}
    for i in np.flatnonzero(sub > 0):
        by_sub.setdefault(int(sub[i]), [None, None])[0 if t[i] else 1] = ids[i]
    return {tuple(v) for v in by_sub.values()}


def test_matching_with_tied_profiles_does_not_depend_on_row_order():
    # few distinct covariate profiles, so many students share a propensity score exactly: the pairs must follow
    # the documented tie-break (student id), not the last bits of a BLAS product that depend on row positions
    rng = np.random.default_rng(11)
    n = 1200
    d = pd.DataFrame({"student_id": [f"S{i:05d}" for i in range(n)], "school_id": rng.integers(0, 6, n).astype(str),
                      "grade_level": rng.integers(9, 11, n), "prior": rng.integers(0, 4, n).astype(float),
                      "frl": rng.choice(["Y", "N"], n), "gender": rng.choice(["F", "M"], n),
                      "treated": (rng.random(n) < 0.25).astype(int)})
    d["y"] = d["prior"] + 0.3 * d["treated"] + rng.normal(size=n)
    reference = _pairs(d)
    assert len(reference) > 100
    for seed in (1, 2):
        shuffled = d.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        assert _pairs(shuffled) == reference
