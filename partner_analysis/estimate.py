r"""Impact estimation on arrays: regression adjustment, cluster-robust errors, matching, balance, MDE.

Pure numpy/scipy functions (no pandas I/O), as :mod:`partner_analysis.stats`.
:mod:`partner_analysis.kpi.designs` builds the design matrices from district
data and calls these.

What is estimated (issue #11, "Precise definitions")
----------------------------------------------------
* :func:`ols_cluster` — least squares with a cluster-robust CR1 covariance,

  .. math::

      \hat V = \frac{G}{G-1}\,\frac{N-1}{N-K}\,(X'X)^{-1}
               \Bigl(\sum_{g=1}^{G} X_g'\hat e_g \hat e_g' X_g\Bigr)(X'X)^{-1}

  with :math:`G` clusters, :math:`N` rows and :math:`K` the rank of the model
  (constant or aliased columns are dropped first, in column order, as R's
  ``lm`` does). This is R ``sandwich::vcovCL(fit, cluster = ~school,
  type = "HC1")`` and statsmodels ``cov_type="cluster"`` with
  ``use_correction=True``; *p*-values use *t* with :math:`G - 1` degrees of
  freedom (as Stata's ``vce(cluster)``).
* :func:`logit_cluster` — logistic regression by Newton–Raphson (iteratively
  reweighted least squares), converged when the relative change in deviance is
  below ``1e-10`` (R ``glm.control(epsilon = 1e-10)``), with the same CR1
  covariance built from the score contributions :math:`X_g'(y_g - \hat\mu_g)`
  and the bread :math:`(X'WX)^{-1}`.
* :func:`marginal_proportions` — marginal standardisation: the mean predicted
  probability with the treatment column set to 1, then to 0, and the
  delta-method standard error of their difference from the cluster-robust
  covariance, :math:`\mathrm{SE} = \sqrt{\nabla' \hat V \nabla}` with
  :math:`\nabla = \overline{\mu_1(1-\mu_1)X_1} - \overline{\mu_0(1-\mu_0)X_0}`.
* Fixed effects (school × grade cells) can be *absorbed* (``absorb=`` of
  :func:`ols_cluster`, :func:`logit_cluster`, :func:`logit_fit`,
  :func:`independent_columns`): the model, its rank, aliasing, estimates and
  CR1 covariance are those of the dense dummy model, computed from the one-hot
  block structure (:func:`fixed_effect_gram`) and, for least squares, the
  Frisch–Waugh–Lovell theorem.
* :func:`greedy_match` — 1:1 nearest-neighbour matching without replacement.
* :func:`standardized_difference`, :func:`variance_ratio` — balance.
* :func:`minimum_detectable_effect` and :func:`evidence_label`.

References
----------
.. [1] Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to
       cluster-robust inference. J. Human Resources 50(2), 317-372.
.. [2] Zeileis, A., Köll, S. & Graham, N. (2020). Various versatile variances:
       an object-oriented implementation of clustered covariances in R.
       J. Statistical Software 95(1).
.. [3] Austin, P. C. (2011). Optimal caliper widths for propensity-score
       matching when estimating differences in means and differences in
       proportions in observational studies. Pharmaceutical Statistics 10(2).
.. [4] Bloom, H. S. (1995). Minimum detectable effects: a simple way to report
       the statistical power of experimental designs. Evaluation Review 19(5).
.. [5] What Works Clearinghouse (2022). Procedures and Standards Handbook,
       Version 5.0. IES/NCEE.
.. [6] U.S. Department of Education (2016). Non-regulatory guidance: using
       evidence to strengthen education investments (ESSA tiers).
.. [7] Guimarães, P. & Portugal, P. (2010). A simple feasible procedure to fit
       models with high-dimensional fixed effects. Stata Journal 10(4), 628-649.
.. [8] Correia, S. (2016). Linear models with high-dimensional fixed effects:
       an efficient and feasible estimator. Working paper (reghdfe).
.. [9] Davidson, R. & MacKinnon, J. G. (2004). Econometric Theory and Methods.
       Oxford University Press (sec. 2.4, the FWL theorem).
.. [10] threadpoolctl: Python helpers to limit the number of threads used in
        the threadpool-backed native libraries (BLAS, OpenMP) to mitigate
        oversubscription. https://github.com/joblib/threadpoolctl
"""
from __future__ import annotations

import bisect
import functools
import warnings
from dataclasses import dataclass, field
from dataclasses import replace as _replace
from typing import Sequence

import numpy as np
from scipy import linalg as _la
from scipy import sparse as _sp
from scipy import stats as _sps
from scipy.special import expit as _expit
from threadpoolctl import ThreadpoolController

from .exceptions import InputDataError

__all__ = ["compact_codes", "one_blas_thread", "RegressionFit", "independent_columns", "fixed_effect_gram", "ols_cluster", "logit_fit", "logit_cluster",
           "marginal_proportions", "logit_has_mle", "SEPARATION_TOL", "greedy_match", "standardized_difference", "variance_ratio",
           "minimum_detectable_effect", "evidence_label", "EVIDENCE_LABELS", "LOGIT_TOL", "CALIPER_SD",
           "MIN_CLUSTERS"]

#: Relative change in deviance at which a logistic fit has converged (issue #11).
LOGIT_TOL = 1e-10
#: Caliper in standard deviations of the logit of the propensity score (Austin 2011 [3]_).
CALIPER_SD = 0.2
#: Fewer clusters than this: cluster-robust errors are optimistic (Cameron & Miller 2015 [1]_).
MIN_CLUSTERS = 10
#: Columns whose residual after projection on earlier columns keeps less than this share of their
#: sum of squares are aliased (R ``lm`` uses 1e-7 on the norm, i.e. 1e-14 on squares; 1e-10 leaves
#: room for the Gram-matrix route used here).
_ALIAS_TOL = 1e-10

#: The four evidence labels, in plain words (see :func:`evidence_label`).
EVIDENCE_LABELS = ("descriptive only", "comparison adjusted for prior achievement and background",
                   "baseline-equivalent comparison", "groups not comparable")


@dataclass(frozen=True)
class RegressionFit:
    """One fitted model: coefficients and CR1 covariance over the kept columns.

    Attributes
    ----------
    coef : ndarray
        Coefficients of the kept columns (``kept`` gives their positions in
        the design matrix passed in).
    vcov : ndarray
        CR1 cluster-robust covariance of ``coef``.
    kept, dropped : tuple of int
        Column positions kept, and dropped as constant or aliased.
    n, rank, n_clusters : int
        Rows, model rank :math:`K`, clusters :math:`G`.
    r2 : float
        :math:`1 - \\sum(y - \\hat y)^2 / \\sum(y - \\bar y)^2` (Efron's
        pseudo-:math:`R^2` for a logistic model).
    fitted : ndarray
        Fitted values (probabilities for a logistic model).
    converged : bool
        Always True for least squares.
    absorbed : int
        Model columns with no entry in ``coef`` (fixed effects absorbed by
        :func:`ols_cluster` with ``absorb``: the intercept and the kept level
        dummies); ``rank == len(kept) + absorbed``.
    fe : ndarray or None
        The compact fixed-effect codes of the rows when the model was fitted
        with ``absorb`` (positions ``p + l - 1`` of ``kept``/``dropped`` are
        level ``l``'s dummy, ``p`` the columns of ``X``).
    """

    coef: np.ndarray
    vcov: np.ndarray
    kept: tuple[int, ...]
    dropped: tuple[int, ...]
    n: int
    rank: int
    n_clusters: int
    r2: float
    fitted: np.ndarray = field(repr=False)
    converged: bool = True
    iterations: int = 0
    absorbed: int = 0
    fe: np.ndarray | None = field(default=None, repr=False)

    def position(self, column: int) -> int | None:
        """Index in ``coef`` of design-matrix column ``column`` (None when it was dropped)."""
        try:
            return self.kept.index(column)
        except ValueError:
            return None

    def coefficient(self, column: int) -> tuple[float, float]:
        """Estimate and CR1 standard error of one design-matrix column (NaN when dropped)."""
        i = self.position(column)
        if i is None:
            return float("nan"), float("nan")
        return float(self.coef[i]), float(np.sqrt(max(self.vcov[i, i], 0.0)))

    def t_test(self, column: int) -> tuple[float, float, float]:
        """Estimate, SE and two-sided *p* from *t* with :math:`G-1` df for one column."""
        est, se = self.coefficient(column)
        df = self.n_clusters - 1
        if not np.isfinite(se) or se <= 0 or df < 1:
            return est, se, float("nan")
        return est, se, float(2 * _sps.t.sf(abs(est / se), df))


def compact_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inverse, used values): ``used[inverse] == codes`` with ``used`` sorted — ``np.unique(...,
    return_inverse=True)``, by ``bincount`` when the codes are small non-negative integers (the common case
    here: schools, school×grade cells, covariate levels), which avoids a sort per model."""
    codes = np.asarray(codes)
    if codes.size and codes.dtype.kind in "iu" and codes.min() >= 0 and codes.max() < 4 * codes.size + 1024:
        present = np.bincount(codes)
        used = np.flatnonzero(present)
        lookup = np.zeros(len(present), dtype=np.int64)
        lookup[used] = np.arange(len(used))
        return lookup[codes], used
    used, inverse = np.unique(codes, return_inverse=True)
    return inverse.reshape(-1), used


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()  # once: it scans the loaded native libraries (numpy's and scipy's OpenBLAS)


def one_blas_thread():
    """Context manager: BLAS/LAPACK limited to one thread inside it (threadpoolctl [10]_), restored after.

    The fits here multiply and factor tall, narrow matrices (``n`` students ×
    a few dozen columns); several BLAS threads split so little work per call
    that they gain almost nothing, and when the cores are busy (other
    processes, or the district's notebook server) the threads wait for each
    other at every call: measured on a shared 2-core machine at load 5, the
    Gram matrix of a 20,000 × 30 matrix took 1.7 ms with one OpenBLAS thread
    and 65 ms with two, a QR 17 ms against 680 ms. Numbers are unchanged up to
    floating-point rounding.
    """
    return _threadpools().limit(limits=1, user_api="blas")


def _check_design(y: np.ndarray, X: np.ndarray, cluster: np.ndarray):
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    cluster = np.asarray(cluster)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or cluster.shape[0] != y.shape[0]:
        raise InputDataError(f"design matrix {X.shape}, outcome {y.shape} and clusters {cluster.shape} do not "
                             "have the same number of rows", fix="Pass one row per student to each")
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise InputDataError("the outcome or design matrix holds missing values",
                             fix="Keep complete cases only (kpi.designs does)")
    return y, X, compact_codes(cluster)[0]


def independent_columns(X: np.ndarray, *, weights: np.ndarray | None = None, absorb: np.ndarray | None = None
                        ) -> tuple[list[int], list[int]]:
    """Columns of ``X`` to keep and to drop, dropping each column aliased with the earlier ones.

    A column is dropped when it is all zero, or when projecting it on the
    columns already kept leaves less than ``1e-10`` of its sum of squares —
    R ``lm``'s rule (pivot aliased columns out, keep column order), so a
    constant covariate beside the intercept, or a level present in one
    school×grade cell only, is dropped and the model rank counts what is left.

    With ``absorb`` (integer codes of a fixed-effect factor), the columns are
    those of ``[X, D]``, ``D`` one dummy per level of ``absorb`` but the first
    (after :func:`compact_codes`), without forming ``D``: its Gram blocks are
    per-level sums (:func:`fixed_effect_gram`).

    Returns
    -------
    kept, dropped : list of int
    """
    X = np.asarray(X, dtype=float)
    if absorb is not None:
        fe, used = compact_codes(absorb)
        return _independent_from_gram(fixed_effect_gram(X, fe, len(used), weights=weights))
    Xw = X if weights is None else X * np.sqrt(np.asarray(weights, float))[:, None]
    return _independent_from_gram(Xw.T @ Xw)


def _independent_from_gram(gram: np.ndarray) -> tuple[list[int], list[int]]:
    p = gram.shape[0]
    # Cholesky of the Gram matrix, column by column in the given order, skipping aliased columns:
    # L[:, r] is the r-th kept column's factor, so L[j, :r] @ L[j, :r] is column j's projected sum of squares.
    L = np.zeros((p, p))
    kept: list[int] = []
    dropped: list[int] = []
    for j in range(p):
        ss = gram[j, j]
        r = len(kept)
        resid = ss - float(L[j, :r] @ L[j, :r]) if r else ss
        if ss <= 0 or resid <= _ALIAS_TOL * ss:
            dropped.append(j)
            continue
        d = np.sqrt(resid)
        L[j, r] = d
        if j + 1 < p:
            L[j + 1:, r] = (gram[j + 1:, j] - L[j + 1:, :r] @ L[j, :r]) / d
        kept.append(j)
    return kept, dropped


def _indicator(codes: np.ndarray, G: int) -> _sp.csc_matrix:
    """The G × n 0/1 matrix of group membership (rows: groups), sparse.

    Built in compressed-column form directly (column ``i`` holds one entry, in row ``codes[i]``), which skips
    the sort and duplicate summing of a coordinate-format construction.
    """
    n = len(codes)
    return _sp.csc_matrix((np.ones(n), np.asarray(codes, dtype=np.int64), np.arange(n + 1, dtype=np.int64)),
                          shape=(G, n))


def fixed_effect_gram(X: np.ndarray, fe: np.ndarray, n_levels: int, *, weights: np.ndarray | None = None,
                      indicator: _sp.csc_matrix | None = None) -> np.ndarray:
    r"""The (weighted) Gram matrix :math:`[X, D]'W[X, D]` without forming the fixed-effect dummies ``D``.

    ``D`` holds one 0/1 column per level ``1 .. n_levels - 1`` of ``fe``
    (compact codes; level 0 is the reference, as R's treatment contrasts).
    Because every row has exactly one level, :math:`D'WD` is diagonal (the
    level totals of the weights) and :math:`X'WD` holds per-level sums of
    :math:`WX` — the block structure fixed-effect estimators exploit
    (Guimarães & Portugal 2010 [7]_; Correia 2016 [8]_). Only the dense
    :math:`X'WX` costs :math:`O(np^2)`, with ``p`` the non-dummy columns, instead
    of :math:`O(n(p + L)^2)`; the matrix is the same up to floating-point
    rounding.
    """
    X = np.asarray(X, float)
    Xw = X if weights is None else X * np.asarray(weights, float)[:, None]
    ind = _indicator(fe, n_levels) if indicator is None else indicator
    p = X.shape[1]
    m = p + n_levels - 1
    gram = np.empty((m, m))
    gram[:p, :p] = Xw.T @ X
    cross = np.asarray(ind @ Xw)[1:]  # (levels 1..L-1) × p
    gram[p:, :p] = cross
    gram[:p, p:] = cross.T
    tot = np.bincount(fe, weights=None if weights is None else np.asarray(weights, float), minlength=n_levels)
    gram[p:, p:] = np.diag(tot[1:].astype(float))
    return gram


def _cluster_sums(codes: np.ndarray, U: np.ndarray, G: int) -> np.ndarray:
    """Σ over the rows of each cluster of U (G × k), through a sparse indicator matrix."""
    return np.asarray(_indicator(codes, G) @ U)


def _fe_cluster_sums(codes: np.ndarray, G: int, fe: np.ndarray, n_levels: int, u: np.ndarray) -> np.ndarray:
    """Σ over the rows of each cluster of ``D * u`` (G × (L - 1)): per cluster × level sums of ``u``."""
    s = np.bincount(codes * n_levels + fe, weights=u, minlength=G * n_levels).reshape(G, n_levels)
    return s[:, 1:]


def _cr1(bread: np.ndarray, scores: np.ndarray, codes: np.ndarray, n: int, k: int, *,
         summed: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    G = int(codes.max()) + 1 if len(codes) else 0
    S = _cluster_sums(codes, scores, G) if summed is None else summed
    meat = S.T @ S
    adj = (G / (G - 1)) * ((n - 1) / (n - k)) if G > 1 and n > k else np.nan
    return adj * (bread @ meat @ bread), G


def _fe_setup(X: np.ndarray, absorb: np.ndarray):
    """Compact codes of the absorbed factor, its level count, and the aliasing of ``[X, D]`` (full model order).

    ``ok`` is False when the absorbed route does not apply and the dense model must be fitted: column 0 of
    ``X`` is not the intercept, or a level dummy is aliased with earlier columns (R drops that dummy, not the
    earlier column, so the dense route, which does the same, keeps the result identical).
    """
    fe, used = compact_codes(absorb)
    L = len(used)
    kept, dropped = _independent_from_gram(fixed_effect_gram(X, fe, L))
    p = X.shape[1]
    ok = (p > 0 and bool(np.all(X[:, 0] == 1.0)) and 0 in kept and all(j < p for j in dropped))
    return fe, L, kept, dropped, ok


def _dense_fe(X: np.ndarray, fe: np.ndarray, L: int) -> np.ndarray:
    D = np.zeros((len(fe), max(L - 1, 0)))
    rows = np.flatnonzero(fe > 0)
    D[rows, fe[rows] - 1] = 1.0
    return np.column_stack([X, D])


def ols_cluster(y: np.ndarray, X: np.ndarray, cluster: np.ndarray, *, absorb: np.ndarray | None = None
                ) -> RegressionFit:
    r"""Least squares with a CR1 cluster-robust covariance (module docstring).

    Parameters
    ----------
    y : array_like, shape (n,)
        Outcome.
    X : array_like, shape (n, p)
        Design matrix with the intercept column; constant or aliased columns are
        dropped (``RegressionFit.dropped``).
    cluster : array_like, shape (n,)
        Cluster labels (schools).
    absorb : array_like, shape (n,), optional
        Codes of a fixed-effect factor (school × grade cells) whose dummies,
        one per level but the first, follow the columns of ``X`` in the model.
        ``X``'s column 0 must then be the intercept. The result is that of the
        dense model ``[X, D]`` (same ``rank``, ``dropped`` positions in
        ``[X, D]``, ``r2``, residuals, coefficients and CR1 covariance of the
        other columns), but ``coef``/``vcov`` cover the kept non-intercept
        columns of ``X`` only: the intercept and the level dummies are
        absorbed (``RegressionFit.absorbed``).

    Returns
    -------
    RegressionFit

    Notes
    -----
    Solved by a QR decomposition of the kept columns. Checked against R
    ``lm`` + ``sandwich::vcovCL(type = "HC1")`` (``tests/reference/designs_r.R``)
    and statsmodels ``OLS(...).fit(cov_type="cluster", cov_kwds={"groups": g,
    "use_correction": True})`` to 1e-8.

    With ``absorb``, by the Frisch–Waugh–Lovell theorem (Davidson & MacKinnon
    2004 [9]_, sec. 2.4): the other coefficients are the least-squares
    coefficients of the within-level demeaned outcome on the within-level
    demeaned columns ``Z``, with the same residuals. Their rows of the full
    model's :math:`(X'X)^{-1}X'` equal :math:`(Z'Z)^{-1}Z'`, so the cluster
    sums of the scores, hence the sandwich, are the full model's exactly; the
    small-sample factor uses the full model's rank :math:`K` (levels plus kept
    columns) as R ``sandwich::vcovCL(type = "HC1")`` on the dummy model does —
    not the "within" rank of Stata's ``xtreg, fe`` (Cameron & Miller 2015 [1]_,
    sec. IV.C, on which ``K`` to use with fixed effects). Aliasing is decided on
    the full model's Gram matrix (:func:`fixed_effect_gram`), in the full
    model's column order; when a level dummy itself is aliased the dense model
    is fitted. The QR costs :math:`O(np^2)` instead of :math:`O(n(p+L)^2)`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(40), rng.integers(0, 2, 40)])
    >>> y = 1 + 0.5 * X[:, 1] + rng.normal(size=40)
    >>> fit = ols_cluster(y, X, np.repeat(np.arange(8), 5))
    >>> fit.rank, fit.n_clusters
    (2, 8)
    """
    y, X, codes = _check_design(y, X, cluster)
    if absorb is not None:
        fe, L, kept_full, dropped, ok = _fe_setup(X, absorb)
        if not ok:
            fit = ols_cluster(y, _dense_fe(X, fe, L), codes)
            return _replace(fit, fe=fe)
        p = X.shape[1]
        xk = [j for j in kept_full if 0 < j < p]
        n, k = len(y), len(kept_full)
        ind = _indicator(fe, L)
        cnt = np.bincount(fe, minlength=L).astype(float)
        M = np.column_stack([y, X[:, xk]])
        M = M - (np.asarray(ind @ M) / cnt[:, None])[fe]
        yt, Z = M[:, 0], M[:, 1:]
        if Z.shape[1]:
            Q, R = np.linalg.qr(Z)
            coef = _la.solve_triangular(R, Q.T @ yt)
            Rinv = _la.solve_triangular(R, np.eye(Z.shape[1]))
            resid = yt - Z @ coef
        else:
            coef, Rinv, resid = np.empty(0), np.empty((0, 0)), yt
        vcov, G = _cr1(Rinv @ Rinv.T, Z * resid[:, None], codes, n, k)
        tss = float(((y - y.mean()) ** 2).sum())
        r2 = 1 - float(resid @ resid) / tss if tss > 0 else float("nan")
        return RegressionFit(coef=coef, vcov=vcov, kept=tuple(xk), dropped=tuple(dropped), n=n, rank=k,
                             n_clusters=G, r2=r2, fitted=y - resid, absorbed=k - len(xk), fe=fe)
    kept, dropped = independent_columns(X)
    Xk = X[:, kept]
    n, k = Xk.shape
    Q, R = np.linalg.qr(Xk)
    coef = _la.solve_triangular(R, Q.T @ y)
    Rinv = _la.solve_triangular(R, np.eye(k))
    bread = Rinv @ Rinv.T
    fitted = Xk @ coef
    resid = y - fitted
    vcov, G = _cr1(bread, Xk * resid[:, None], codes, n, k)
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(resid @ resid) / tss if tss > 0 else float("nan")
    return RegressionFit(coef=coef, vcov=vcov, kept=tuple(kept), dropped=tuple(dropped), n=n, rank=k,
                         n_clusters=G, r2=r2, fitted=fitted)


class _FEDesign:
    """``[X, D]`` as a linear operator: ``X`` dense, ``D`` the dummies of levels 1..L-1 of ``fe`` (never formed)."""

    def __init__(self, X: np.ndarray, fe: np.ndarray | None, n_levels: int):
        self.X, self.fe, self.L = X, fe, n_levels
        self.p = X.shape[1]
        self.ind = _indicator(fe, n_levels) if fe is not None else None

    @property
    def ncol(self) -> int:
        return self.p + (self.L - 1 if self.fe is not None else 0)

    def dot(self, beta: np.ndarray) -> np.ndarray:
        """``[X, D] @ beta``."""
        out = self.X @ beta[:self.p]
        if self.fe is not None:
            out += np.concatenate([[0.0], beta[self.p:]])[self.fe]
        return out

    def tdot(self, v: np.ndarray) -> np.ndarray:
        """``[X, D]' @ v``."""
        if self.fe is None:
            return self.X.T @ v
        return np.concatenate([self.X.T @ v, np.bincount(self.fe, weights=v, minlength=self.L)[1:]])

    def gram(self, w: np.ndarray) -> np.ndarray:
        """``[X, D]' diag(w) [X, D]``."""
        if self.fe is None:
            return (self.X * w[:, None]).T @ self.X
        return fixed_effect_gram(self.X, self.fe, self.L, weights=w, indicator=self.ind)


def logit_fit(y: np.ndarray, X: np.ndarray, *, tol: float = LOGIT_TOL, max_iter: int = 100,
              absorb: np.ndarray | None = None) -> tuple[np.ndarray, bool, int]:
    r"""Maximum-likelihood logistic coefficients by Newton–Raphson (IRLS).

    Starts from :math:`\beta = 0` and stops when
    :math:`|D - D_{old}| / (|D| + 0.1) < tol` (R ``glm.fit``'s criterion, with
    ``epsilon = tol``). ``X`` must have full column rank (see
    :func:`independent_columns`).

    With ``absorb`` (compact codes of a fixed-effect factor, :func:`compact_codes`)
    the model is ``[X, D]``, ``D`` one dummy per level but the first, and the
    coefficients are those of ``X`` then of the dummies. ``D`` is never formed:
    the information matrix is assembled from its blocks
    (:func:`fixed_effect_gram`), so each Newton step costs :math:`O(np^2)` for
    the ``p`` columns of ``X`` instead of :math:`O(n(p+L)^2)`; the iterations,
    the stopping rule and the MLE are the same (up to rounding).

    Returns
    -------
    coef : ndarray
    converged : bool
    iterations : int
    """
    y = np.asarray(y, float)
    X = np.asarray(X, float)
    A = _FEDesign(X, None, 0) if absorb is None else _FEDesign(X, np.asarray(absorb), int(np.max(absorb)) + 1)
    # R glm's starting values: mu = (y + 0.5) / 2, eta = logit(mu); then Newton steps on the normal equations
    mu = (y + 0.5) / 2
    eta = np.log(mu / (1 - mu))
    w = mu * (1 - mu)
    z = eta + (y - mu) / w
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _la.LinAlgWarning)
            beta = _la.solve(A.gram(w), A.tdot(w * z), assume_a="pos")
    except (np.linalg.LinAlgError, _la.LinAlgError, _la.LinAlgWarning):
        return np.zeros(A.ncol), False, 0
    dev_old = np.inf
    for it in range(1, max_iter + 1):
        eta = A.dot(beta)
        mu = np.clip(_expit(eta), 1e-300, 1 - 1e-16)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = -2 * float(np.sum(np.where(y > 0, np.log(mu), np.log1p(-mu))))
        converged = abs(dev - dev_old) / (abs(dev) + 0.1) < tol
        dev_old = dev
        w = mu * (1 - mu)
        try:
            # a near-singular information matrix means (quasi-)separation: the MLE does not exist
            with warnings.catch_warnings():
                warnings.simplefilter("error", _la.LinAlgWarning)
                beta = beta + _la.solve(A.gram(w), A.tdot(y - mu), assume_a="pos")
        except (np.linalg.LinAlgError, _la.LinAlgError, _la.LinAlgWarning):
            return beta, False, it
        if converged:
            # one Newton step past the criterion: quadratic convergence puts the coefficients at the MLE to
            # machine precision, so SEs agree with R to 1e-8 whatever iterate either stopped at
            return beta, True, it
    return beta, False, max_iter


def logit_cluster(y: np.ndarray, X: np.ndarray, cluster: np.ndarray, *, tol: float = LOGIT_TOL,
                  absorb: np.ndarray | None = None) -> RegressionFit:
    r"""Logistic regression with a CR1 cluster-robust covariance (module docstring).

    Parameters
    ----------
    y : array_like of 0/1
    X : array_like, shape (n, p)
        Design matrix with the intercept; constant or aliased columns are dropped.
    cluster : array_like
        Cluster labels.
    absorb : array_like, optional
        Codes of a fixed-effect factor whose dummies (one per level but the
        first) follow the columns of ``X`` in the model, as in
        :func:`ols_cluster`; ``X``'s column 0 must be the intercept. Unlike
        least squares, every coefficient is kept in ``coef``/``vcov`` (the
        marginal proportions need them): ``kept``/``dropped`` are positions in
        ``[X, D]`` and ``RegressionFit.fe`` holds the level codes. The dummies
        are never formed (:func:`logit_fit`); the CR1 meat's level part is the
        per cluster × level sum of the residuals.

    Returns
    -------
    RegressionFit
        ``fitted`` holds the predicted probabilities; ``r2`` is Efron's
        pseudo-:math:`R^2`.

    Notes
    -----
    Checked against R ``glm(family = binomial, control = glm.control(epsilon =
    1e-10))`` + ``sandwich::vcovCL(type = "HC1")`` and statsmodels ``Logit``.
    """
    y, X, codes = _check_design(y, X, cluster)
    fe = None
    if absorb is not None:
        fe, L, kept, dropped, ok = _fe_setup(X, absorb)
        if not ok:
            fit = logit_cluster(y, _dense_fe(X, fe, L), codes, tol=tol)
            return _replace(fit, fe=fe)
        p = X.shape[1]
        xk = [j for j in kept if j < p]
        A = _FEDesign(X[:, xk], fe, L)
    else:
        kept, dropped = independent_columns(X)
        A = _FEDesign(X[:, kept], None, 0)
    n, k = len(y), len(kept)
    coef, converged, iters = logit_fit(y, A.X, tol=tol, absorb=fe)
    mu = _expit(A.dot(coef))
    w = mu * (1 - mu)
    try:
        bread = np.linalg.inv(A.gram(w)) if converged else None
    except np.linalg.LinAlgError:
        bread, converged = None, False
    G = int(codes.max()) + 1 if len(codes) else 0
    if bread is None:  # no MLE: report, do not pretend
        vcov = np.full((k, k), np.nan)
    else:
        r = y - mu
        S = _cluster_sums(codes, A.X * r[:, None], G)
        if fe is not None:
            S = np.column_stack([S, _fe_cluster_sums(codes, G, fe, A.L, r)])
        vcov, G = _cr1(bread, None, codes, n, k, summed=S)
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(((y - mu) ** 2).sum()) / tss if tss > 0 else float("nan")
    return RegressionFit(coef=coef, vcov=vcov, kept=tuple(kept), dropped=tuple(dropped), n=n, rank=k,
                         n_clusters=G, r2=r2, fitted=mu, converged=converged, iterations=iters, fe=fe)


#: A fitted probability this close to 0 or 1 (|logit| > 23) means (quasi-)separation: the MLE does not exist.
SEPARATION_TOL = 1e-10


def logit_has_mle(fit: RegressionFit) -> bool:
    """False when a fitted probability lies within ``SEPARATION_TOL`` of 0 or 1: the coefficients are running
    off to infinity (quasi-complete separation), so estimates and standard errors are artefacts of where the
    iterations stopped (R warns "fitted probabilities numerically 0 or 1 occurred")."""
    mu = np.asarray(fit.fitted, float)
    return bool(len(mu)) and bool(((mu > SEPARATION_TOL) & (mu < 1 - SEPARATION_TOL)).all())


def marginal_proportions(fit: RegressionFit, X: np.ndarray, treat_column: int) -> dict[str, float]:
    r"""Adjusted proportions by marginal standardisation, and the delta-method SE of their difference.

    Parameters
    ----------
    fit : RegressionFit
        From :func:`logit_cluster` on ``X``.
    X : array_like
        The design matrix the model was fitted on (all columns; without the
        fixed-effect dummies when it was fitted with ``absorb``).
    treat_column : int
        Position of the 0/1 treatment column in ``X``.

    Returns
    -------
    dict
        ``p_t``, ``p_c`` (mean predicted probability with treatment set to 1 and
        to 0), ``difference``, ``se`` (delta method, CR1 covariance), and
        ``cox``, ``cox_se`` (the Cox index of ``p_t`` and ``p_c`` and its delta
        SE). NaN when the treatment column was dropped.

    Notes
    -----
    Matches R: ``mean(predict(fit, transform(d, treated = 1), type =
    "response"))`` (``tests/reference/designs_r.R``).
    """
    nan = {k: float("nan") for k in ("p_t", "p_c", "difference", "se", "cox", "cox_se")}
    pos = fit.position(treat_column)
    if pos is None:
        return nan
    X = np.asarray(X, float)
    if fit.fe is not None:
        # fitted with absorbed fixed effects: kept positions >= p are level dummies (level = position - p + 1)
        p = X.shape[1]
        xk = [j for j in fit.kept if j < p]
        levels = np.array([j - p + 1 for j in fit.kept if j >= p], dtype=np.int64)
        L = int(fit.fe.max()) + 1
        effect = np.zeros(L)
        effect[levels] = fit.coef[len(xk):]
        Xk = X[:, xk]
        X1, X0 = Xk.copy(), Xk.copy()
        X1[:, pos], X0[:, pos] = 1.0, 0.0
        bx = fit.coef[:len(xk)]
        mu1, mu0 = _expit(X1 @ bx + effect[fit.fe]), _expit(X0 @ bx + effect[fit.fe])
        n = len(mu1)
        d1, d0 = mu1 * (1 - mu1), mu0 * (1 - mu0)
        g1 = np.concatenate([d1 @ X1 / n, np.bincount(fit.fe, weights=d1, minlength=L)[levels] / n])
        g0 = np.concatenate([d0 @ X0 / n, np.bincount(fit.fe, weights=d0, minlength=L)[levels] / n])
    else:
        Xk = X[:, list(fit.kept)]
        X1, X0 = Xk.copy(), Xk.copy()
        X1[:, pos], X0[:, pos] = 1.0, 0.0
        mu1, mu0 = _expit(X1 @ fit.coef), _expit(X0 @ fit.coef)
        g1 = ((mu1 * (1 - mu1))[:, None] * X1).mean(axis=0)
        g0 = ((mu0 * (1 - mu0))[:, None] * X0).mean(axis=0)
    p1, p0 = float(mu1.mean()), float(mu0.mean())
    grad = g1 - g0
    se = float(np.sqrt(max(grad @ fit.vcov @ grad, 0.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        cox = (np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))) / 1.65
        gc = (g1 / (p1 * (1 - p1)) - g0 / (p0 * (1 - p0))) / 1.65
    cox_se = float(np.sqrt(max(gc @ fit.vcov @ gc, 0.0)))
    return {"p_t": p1, "p_c": p0, "difference": p1 - p0, "se": se, "cox": float(cox), "cox_se": cox_se}


def greedy_match(score: np.ndarray, treated: np.ndarray, strata: np.ndarray, *, caliper: float,
                 order: np.ndarray | None = None) -> np.ndarray:
    r"""1:1 greedy nearest-neighbour matching without replacement, exact within strata.

    Parameters
    ----------
    score : array_like
        The distance measure (here the logit of the propensity score).
    treated : array_like of bool
    strata : array_like
        Exact-matching key (school × grade); a pair never crosses strata.
    caliper : float
        Largest allowed :math:`|score_t - score_c|`; farther participants stay
        unmatched.
    order : array_like of int, optional
        Tie-break rank of each row (e.g. its position when sorted by
        student id); default the row position.

    Returns
    -------
    ndarray of int
        For each row, the row index of its partner, or -1 (unmatched or unused).

    Notes
    -----
    Greedy order (documented, so a re-run gives the same pairs): participants
    are taken by **descending score** (the "largest" order of R MatchIt's
    ``m.order``), ties by ``order``. Each takes the unused comparison student of
    its stratum with the nearest score, ties by the lower score then ``order``;
    if that one is farther than the caliper, the participant stays unmatched.
    Tested by its properties (pairs within the caliper, exact on strata, no
    comparison student reused, order) — not against Debian's MatchIt 4.5.1,
    which ignores calipers (MatchIt issue #163).
    """
    score = np.asarray(score, float)
    treated = np.asarray(treated, bool)
    strata = compact_codes(strata)[0]
    order = np.arange(len(score)) if order is None else np.asarray(order)
    partner = np.full(len(score), -1, dtype=np.int64)
    controls: dict[int, tuple[list, list]] = {}
    for s in compact_codes(strata[~treated])[1]:
        idx = np.flatnonzero((strata == s) & ~treated)
        idx = idx[np.lexsort((order[idx], score[idx]))]
        controls[int(s)] = (score[idx].tolist(), idx.tolist())
    t_idx = np.flatnonzero(treated)
    t_idx = t_idx[np.lexsort((order[t_idx], -score[t_idx]))]
    for i in t_idx:
        pool = controls.get(int(strata[i]))
        if not pool or not pool[0]:
            continue
        vals, ids = pool
        x = score[i]
        j = bisect.bisect_left(vals, x)
        best = None
        for cand in (j - 1, j):
            if 0 <= cand < len(vals):
                d = abs(vals[cand] - x)
                if best is None or d < best[0] - 1e-15:
                    best = (d, cand)
        if best is None or best[0] > caliper:
            continue
        c = best[1]
        partner[i] = ids[c]
        partner[ids[c]] = i
        del vals[c], ids[c]
    return partner


def standardized_difference(x: np.ndarray, treated: np.ndarray, *, weights: np.ndarray | None = None,
                            sd: float | None = None) -> float:
    r"""Standardized mean difference :math:`(\bar x_T - \bar x_C)/S`.

    :math:`S` is the pooled within-group SD (:math:`n - 1`) of the unweighted
    sample unless ``sd`` is given — pass the before-matching SD to judge the
    matched sample on the same scale (R cobalt's convention). Weights select or
    weight rows (matching weights). NaN when :math:`S = 0`.
    """
    x = np.asarray(x, float)
    t = np.asarray(treated, bool)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    if sd is None:
        sd = _pooled_sd(x[t], x[~t])
    mt = np.average(x[t], weights=w[t]) if w[t].sum() > 0 else np.nan
    mc = np.average(x[~t], weights=w[~t]) if w[~t].sum() > 0 else np.nan
    return float((mt - mc) / sd) if sd and np.isfinite(sd) and sd > 0 else float("nan")


def _pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return float("nan")
    return float(np.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)))


def variance_ratio(x: np.ndarray, treated: np.ndarray, *, weights: np.ndarray | None = None) -> float:
    """Variance ratio :math:`s_T^2 / s_C^2` (:math:`n - 1`) of the rows with positive weight."""
    x = np.asarray(x, float)
    t = np.asarray(treated, bool)
    keep = np.ones(len(x), bool) if weights is None else np.asarray(weights, float) > 0
    a, b = x[t & keep], x[~t & keep]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    vb = b.var(ddof=1)
    return float(a.var(ddof=1) / vb) if vb > 0 else float("nan")


def minimum_detectable_effect(r2: float, p: float, n: int, *, multiplier: float = 2.8) -> float:
    r"""Minimum detectable effect in SD units, 80 % power, two-sided :math:`\alpha = .05`.

    .. math::

        MDE = M\sqrt{\frac{1 - R^2}{P(1-P)N}}

    with :math:`M = 2.8 \approx z_{.975} + z_{.80}` (Bloom 1995 [4]_),
    :math:`R^2` the share of outcome variance the model explains (0 for the
    raw design), :math:`P` the share of participants and :math:`N` the analytic
    sample. It ignores clustering, so it is a lower bound when schools differ.

    Examples
    --------
    >>> round(minimum_detectable_effect(0.0, 34 / 1000, 1000), 3)
    0.489
    """
    if not n or not 0 < p < 1:
        return float("nan")
    r2 = 0.0 if not np.isfinite(r2) else min(max(r2, 0.0), 1.0)
    return float(multiplier * np.sqrt((1 - r2) / (p * (1 - p) * n)))


def evidence_label(*, design: str, tested: bool, has_prior: bool, baseline_es: float, balance_max_smd: float,
                   significant: bool, favourable: bool) -> str:
    r"""The plain-words evidence label of one comparison.

    Rule (WWC v5.0 [5]_ for baseline equivalence; ESSA tiers [6]_):

    1. **descriptive only** — fewer participants or comparison students than
       the inference floor, no prior-year value (no baseline), or the ``raw``
       design while the baseline differs by more than 0.05 SD (WWC asks for
       statistical adjustment then).
    2. **groups not comparable** — the prior differs by more than 0.25 SD
       (WWC: baseline equivalence not satisfied; no adjustment rescues it).
    3. **baseline-equivalent comparison** — the prior is within 0.05 SD, or
       within 0.25 SD and adjusted for in the model (``adjusted``/``matched``),
       and every other covariate is within 0.25 SD: a comparison that could meet
       WWC group-design standards with reservations.
    4. **comparison adjusted for prior achievement and background** — the prior
       is within 0.25 SD and adjusted for, but a background covariate still
       differs by more than 0.25 SD: correlational with statistical controls.

    Labels 3 and 4 gain ", promising evidence (ESSA tier 3)" when the finding
    is significant after the BH adjustment and favourable (ESSA's tier 3 asks
    for a correlational study with statistical controls for selection bias and
    a significant favourable effect).
    """
    if not tested or not has_prior or not np.isfinite(baseline_es):
        return EVIDENCE_LABELS[0]
    b = abs(baseline_es)
    if b > 0.25 + 1e-12:
        return EVIDENCE_LABELS[3]
    if design == "raw" and b > 0.05 + 1e-12:
        return EVIDENCE_LABELS[0]
    background_ok = not np.isfinite(balance_max_smd) or balance_max_smd <= 0.25 + 1e-12
    label = EVIDENCE_LABELS[2] if background_ok else EVIDENCE_LABELS[1]
    if significant and favourable:
        label += ", promising evidence (ESSA tier 3)"
    return label


def logit_of(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Log odds, clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, float), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))
