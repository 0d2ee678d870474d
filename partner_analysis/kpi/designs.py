r"""Impact designs for one comparison: ``raw``, ``adjusted`` and ``matched`` (issue #11).

:func:`estimate_effect` takes a tidy student-level frame (one row per student:
outcome, treated 0/1, prior, covariates, school, grade) and returns a
:class:`DesignResult` with the estimate, its cluster-robust SE and *p*, the
WWC effect size, the MDE, the evidence label, a balance table and the analysis
frame an auditor can re-run in R or Stata. :func:`partner_analysis.kpi.compare.compare_partners`
calls the array core of it once per partner (programme) × KPI × subgroup.

Precise definitions
-------------------
Analytic sample
    Rows complete on outcome, treated, prior (every design but ``raw``), the
    chosen covariates, school and grade; ``n_t``/``n_c`` are counted after
    that. Categorical covariates stay strings (a category literally called
    ``"NA"`` is a category); numeric ones (not boolean) enter linearly.
adjusted, continuous
    OLS ``outcome ~ treated + prior + covariates + school×grade fixed
    effects`` (one dummy per level but the first, levels sorted, as R's
    treatment contrasts); constant or aliased columns are dropped and listed
    (``dropped_columns``). Estimate = the ``treated`` coefficient, SE = CR1
    clustered by school (:func:`partner_analysis.estimate.ols_cluster`),
    *p* from *t* with :math:`G - 1` df. The school×grade dummies are absorbed
    rather than formed (``absorb=`` of :func:`partner_analysis.estimate.ols_cluster`
    and ``logit_cluster``): the same model, rank, dropped columns, estimates and
    CR1 errors, at the cost of the other columns only. Effect size
    :math:`\omega\,\hat\beta / S`, :math:`S` the pooled within-group SD
    (:math:`n-1`) of the outcome in the analytic sample (matched sample for
    ``matched``), :math:`\omega = 1 - 3/(4N-9)` (WWC); its CI is
    :math:`\omega(\hat\beta \pm t_{G-1,.975}\,SE)/S`.
adjusted, binary
    Logistic regression with the same terms, converged to ``1e-10``; school ×
    grade cells, and levels of categorical covariates, in which every student
    has the same outcome are reported (``cells_without_variation``,
    ``levels_without_variation``) and their rows left out of the fit (their
    coefficient is infinite: quasi-separation; repeated until none is left, as
    Stata's ``logit`` does); a fit still separated by a combination of terms
    (a fitted probability within 1e-10 of 0 or 1) is reported, not used. Estimate = :math:`p_T - p_C` by marginal standardisation,
    SE by the delta method from the CR1 covariance; effect size = Cox index of
    :math:`p_T, p_C` (no :math:`\omega`), CI :math:`\pm t_{G-1,.975}` × its
    delta SE.
matched
    Propensity score: logistic ``treated ~ prior + covariates``. 1:1 greedy
    nearest neighbour on its logit, exact on school × grade, caliper 0.2 SD of
    the logit (SD over the analytic sample), without replacement (greedy order
    in :func:`partner_analysis.estimate.greedy_match`). Then the adjusted
    model on the matched rows only; ``n_unmatched`` participants found no
    match (weight 0 in the frame).
raw
    Difference of means (proportions) on the rows complete on the outcome,
    Welch SE (binary: unpooled SE of the difference); the comparison table keeps
    its existing Welch / two-proportion tests for this design.
Balance
    Per covariate (categoricals by level; the prior first): SMD
    :math:`(\bar x_T - \bar x_C)/S_{before}` and variance ratio, before and
    after matching (after = before for ``raw``/``adjusted``). The prior's row
    carries the WWC baseline category of its effect size (g, or Cox for a 0/1
    prior): ≤ 0.05 satisfied, ≤ 0.25 satisfied with adjustment, otherwise not
    satisfied — the WWC thresholds, not a hard 0.1.
Clusters
    With fewer than 10 schools the result carries the warning that
    cluster-robust errors are optimistic.

References
----------
.. [1] What Works Clearinghouse (2022). Procedures and Standards Handbook,
       Version 5.0. IES/NCEE.
.. [2] Austin, P. C. (2011). Optimal caliper widths for propensity-score
       matching. Pharmaceutical Statistics 10(2), 150-161.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import estimate as est
from ..config import IMPACT_DESIGNS
from ..exceptions import InputDataError, check_argument

__all__ = ["DESIGNS", "DEFAULT_COVARIATES", "DesignResult", "Covariates", "estimate_effect", "fit_design",
           "build_covariates", "FRAME_COLUMNS", "BALANCE_COLUMNS"]

DESIGNS = IMPACT_DESIGNS
#: Covariates of the adjusted and matched designs unless district.yml or the caller say otherwise.
DEFAULT_COVARIATES = ("prior", "frl", "ell", "swd", "gender", "race_ethnicity")
FRAME_COLUMNS = ["partner_id", "program_id", "kpi_id", "student_id", "school_id", "grade_level", "treated",
                 "outcome", "prior", "weight", "subclass"]
BALANCE_COLUMNS = ["covariate", "level", "smd_before", "smd_after", "variance_ratio_before",
                   "variance_ratio_after", "wwc_category"]


@dataclass(frozen=True)
class Covariates:
    """Background covariates for a set of students, coded once.

    ``numeric`` (n × a) with ``numeric_names``; ``categorical`` a list of
    integer code arrays (−1 = missing) with their ``levels`` (sorted strings);
    the frame columns themselves stay with the caller.
    """

    numeric: np.ndarray
    numeric_names: tuple[str, ...]
    categorical: tuple[np.ndarray, ...]
    categorical_names: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    n: int = 0

    @property
    def complete(self) -> np.ndarray:
        ok = np.isfinite(self.numeric).all(axis=1) if self.numeric.shape[1] else np.ones(self.n, bool)
        for c in self.categorical:
            ok &= c >= 0
        return ok

    def take(self, rows: np.ndarray) -> "Covariates":
        rows = np.asarray(rows)
        n = int(rows.sum()) if rows.dtype == bool else len(rows)
        return Covariates(self.numeric[rows], self.numeric_names, tuple(c[rows] for c in self.categorical),
                          self.categorical_names, self.levels, n)


def build_covariates(data: pd.DataFrame, names: Sequence[str]) -> Covariates:
    """Code the covariate columns of ``data``: numeric (non-boolean) columns stay numbers, others are strings.

    Missing values (NaN/None) are incomplete; the string ``"NA"`` is a category.
    """
    num, num_names, cats, cat_names, levels = [], [], [], [], []
    for name in names:
        if name not in data.columns:
            raise InputDataError(f"covariate {name!r} is not a column of the students table", column=name,
                                 fix=f"Use some of {[c for c in data.columns if c != 'student_id']}")
        col = data[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            num.append(pd.to_numeric(col, errors="coerce").to_numpy(float))
            num_names.append(name)
        else:
            missing = col.isna().to_numpy()
            codes, uniques = pd.factorize(col.astype("object").astype(str).where(~missing, None), sort=True)
            cats.append(np.where(missing, -1, codes).astype(np.int64))
            cat_names.append(name)
            levels.append(tuple(str(u) for u in uniques))
    numeric = np.column_stack(num) if num else np.empty((len(data), 0))
    return Covariates(numeric, tuple(num_names), tuple(cats), tuple(cat_names), tuple(levels), len(data))


@dataclass(frozen=True)
class DesignResult:
    """One comparison under one design (see the module docstring for every definition)."""

    design: str
    kind: str
    n_t_full: int
    n_c_full: int
    n_t: int
    n_c: int
    estimate: float = float("nan")
    se: float = float("nan")
    p_val: float = float("nan")
    df: float = float("nan")
    effect_size: float = float("nan")
    es_ci_low: float = float("nan")
    es_ci_high: float = float("nan")
    mean_t: float = float("nan")
    mean_c: float = float("nan")
    sd_pooled: float = float("nan")
    r2: float = float("nan")
    rank: int = 0
    mde: float = float("nan")
    n_schools: int = 0
    baseline_es: float = float("nan")
    baseline_verdict: str = "unknown"
    balance_max_smd: float = float("nan")
    background_max_smd: float = float("nan")
    n_unmatched: int = 0
    cells_without_variation: int = 0
    levels_without_variation: int = 0
    dropped_columns: tuple[str, ...] = ()
    status: str = "fitted"
    warnings: tuple[str, ...] = ()
    balance_data: dict | None = field(default=None, repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)
    subclass: np.ndarray | None = field(default=None, repr=False)
    analytic: np.ndarray | None = field(default=None, repr=False)

    @property
    def balance(self) -> pd.DataFrame | None:
        """The balance table (:data:`BALANCE_COLUMNS`), built on request (most callers only need its maximum)."""
        if self.balance_data is None:
            return None
        return pd.DataFrame(self.balance_data, columns=BALANCE_COLUMNS)

    def as_row(self) -> dict:
        """The scalar fields as a dict (for the comparison table)."""
        skip = {"balance_data", "weights", "subclass", "analytic"}
        row = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in skip}
        row["dropped_columns"] = "; ".join(self.dropped_columns)
        row["warnings"] = "; ".join(self.warnings)
        return row


def _dummies(codes: np.ndarray, n_levels: int) -> np.ndarray:
    """One column per level but the first (R treatment contrasts)."""
    if n_levels <= 1:
        return np.empty((len(codes), 0))
    out = np.zeros((len(codes), n_levels - 1))
    rows = np.flatnonzero(codes > 0)
    out[rows, codes[rows] - 1] = 1.0
    return out


def _design_matrix(treated, prior, cov: Covariates, cells, *, with_treated=True, with_cells=True,
                   with_prior=True):
    cols = [np.ones(len(cells))]
    names = ["(Intercept)"]
    if with_treated:
        cols.append(treated.astype(float))
        names.append("treated")
    if with_prior and prior is not None:
        cols.append(prior)
        names.append("prior")
    for j, nm in enumerate(cov.numeric_names):
        cols.append(cov.numeric[:, j])
        names.append(nm)
    for codes, nm, lv in zip(cov.categorical, cov.categorical_names, cov.levels):
        inverse, used = est.compact_codes(codes)
        if len(used) == 1:
            # a constant covariate: one column, aliased with the intercept, so it is dropped *and listed*
            cols.append(np.ones(len(codes)))
            names.append(f"{nm}[{lv[used[0]]}]")
            continue
        d = _dummies(inverse, len(used))
        cols.append(d)
        names.extend(f"{nm}[{lv[u]}]" for u in used[1:])
    if with_cells:
        cc = est.compact_codes(cells)[0]
        cols.append(_dummies(cc, int(cc.max()) + 1 if len(cc) else 0))
        names.extend(f"cell[{i}]" for i in range(1, (int(cc.max()) + 1) if len(cc) else 0))
    X = np.column_stack([c if c.ndim == 2 else c[:, None] for c in cols])
    return X, names


def _omega(n: float) -> float:
    return 1 - 3 / (4 * n - 9) if n > 2 else float("nan")


def _pooled_sd(y, t) -> float:
    a, b = y[t], y[~t]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return float(np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)))


def _is_binary(x: np.ndarray) -> bool:
    return bool(len(x)) and bool(np.isin(x, (0.0, 1.0)).all())


def _baseline_es(prior: np.ndarray, t: np.ndarray) -> float:
    """WWC baseline effect size: Hedges' g (with ω), or the Cox index (no ω) for a 0/1 prior."""
    a, b = prior[t], prior[~t]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    if _is_binary(prior):
        pa, pb = a.mean(), b.mean()
        if not (0 < pa < 1 and 0 < pb < 1):
            return float("nan")
        return float((np.log(pa / (1 - pa)) - np.log(pb / (1 - pb))) / 1.65)
    s = _pooled_sd(prior, t)
    return float(_omega(len(prior)) * (a.mean() - b.mean()) / s) if s > 0 else float("nan")


def _verdict(es_value: float) -> str:
    a = abs(es_value)
    if not np.isfinite(a):
        return "unknown"
    return "satisfied" if a <= 0.05 + 1e-12 else ("needs_adjustment" if a <= 0.25 + 1e-12 else "not_satisfied")


def _group_moments(M: np.ndarray, rows: np.ndarray):
    """Means and variances (n - 1) of the columns of M over the rows selected."""
    sub = M[rows]
    n = sub.shape[0]
    mean = sub.mean(axis=0) if n else np.full(M.shape[1], np.nan)
    var = sub.var(axis=0, ddof=1) if n > 1 else np.full(M.shape[1], np.nan)
    return n, mean, var


def _balance(prior, t, cov: Covariates, weights) -> dict:
    """Balance table, vectorised over covariates (same numbers as estimate.standardized_difference)."""
    names, levels, cols = [], [], []
    if prior is not None:
        names.append("prior"), levels.append(""), cols.append(prior)
    for j, nm in enumerate(cov.numeric_names):
        names.append(nm), levels.append(""), cols.append(cov.numeric[:, j])
    for codes, nm, lv in zip(cov.categorical, cov.categorical_names, cov.levels):
        for u in est.compact_codes(codes)[1]:
            names.append(nm), levels.append(lv[u]), cols.append((codes == u).astype(float))
    if not cols:
        return {c: [] for c in BALANCE_COLUMNS}
    M = np.column_stack(cols)
    binary = np.array([_is_binary(c) for c in cols])
    nt, mt, vt = _group_moments(M, t)
    nc, mc, vc = _group_moments(M, ~t)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(((nt - 1) * vt + (nc - 1) * vc) / (nt + nc - 2)) if nt > 1 and nc > 1 else np.full(len(cols),
                                                                                                     np.nan)
        sd = np.where(sd > 0, sd, np.nan)
        smd_b = (mt - mc) / sd
        vr_b = np.where(binary | (vc <= 0), np.nan, vt / vc)
        if weights is not None:
            keep = weights > 0
            _, mta, vta = _group_moments(M, t & keep)
            _, mca, vca = _group_moments(M, ~t & keep)
            smd_a = (mta - mca) / sd
            vr_a = np.where(binary | (vca <= 0), np.nan, vta / vca)
        else:
            keep = np.ones(len(t), bool)
            smd_a, vr_a = smd_b, vr_b
    wwc = [""] * len(cols)
    if prior is not None:
        wwc[0] = _verdict(_baseline_es(prior[keep], t[keep]))
    return {"covariate": names, "level": levels, "smd_before": np.asarray(smd_b, float),
            "smd_after": np.asarray(smd_a, float), "variance_ratio_before": np.asarray(vr_b, float),
            "variance_ratio_after": np.asarray(vr_a, float), "wwc_category": wwc}


def _groups_without_variation(y, codes, keep) -> np.ndarray:
    """Rows (among ``keep``) whose group has only one outcome value."""
    cc, used = est.compact_codes(codes)
    G = len(used)
    s = np.bincount(cc[keep], weights=y[keep], minlength=G)
    n = np.bincount(cc[keep], minlength=G)
    bad = (n > 0) & ((s == 0) | (s == n))
    return keep & bad[cc], int(bad.sum())


def _rows_with_variation(y, cells, cov: Covariates):
    """Binary KPIs: rows left once school×grade cells and categorical levels without outcome variation go.

    Such a group predicts the outcome perfectly, so its coefficient is infinite and the maximum-likelihood
    estimate does not exist (quasi-separation). Its rows are left out, as Stata's ``logit`` does, repeated
    until no group is left without variation. Returns (keep, cells dropped, covariate levels dropped).
    """
    keep = np.ones(len(y), bool)
    n_cells = n_levels = 0
    changed = True
    while changed:
        changed = False
        drop, k = _groups_without_variation(y, cells, keep)
        if drop.any():
            keep &= ~drop
            n_cells += k
            changed = True
        for codes in cov.categorical:
            drop, k = _groups_without_variation(y, codes, keep)
            if drop.any():
                keep &= ~drop
                n_levels += k
                changed = True
    return keep, n_cells, n_levels


def _fit_model(y, t, prior, cov, cells, schools, kind):
    """The adjusted model on given rows: (estimate, se, p, df, mean_t, mean_c, es, lo, hi, r2, G, dropped, cells0)."""
    cells_dropped = levels_dropped = 0
    keep = np.ones(len(y), bool)
    if kind == "binary":
        keep, cells_dropped, levels_dropped = _rows_with_variation(y, cells, cov)
    yk, tk = y[keep], t[keep]
    out = dict(cells_without_variation=cells_dropped, levels_without_variation=levels_dropped,
               n_schools=len(est.compact_codes(schools)[1]))
    if keep.sum() == 0 or np.ptp(yk) == 0:
        out["status"] = "not fitted: no outcome variation"
        return out
    if tk.all() or not tk.any():
        out["status"] = "not fitted: one group only"
        return out
    covk = cov.take(np.flatnonzero(keep))
    # the school x grade dummies are absorbed, not formed: same model and column order (they follow X), same
    # aliasing, estimates and CR1 covariance as the dense dummy model (estimate.ols_cluster / logit_cluster)
    X, names = _design_matrix(tk, None if prior is None else prior[keep], covk, cells[keep], with_cells=False)
    cc, used = est.compact_codes(cells[keep])
    names = names + [f"cell[{i}]" for i in range(1, len(used))]
    sch = schools[keep]
    if kind == "binary":
        fit = est.logit_cluster(yk, X, sch, absorb=cc)
    else:
        fit = est.ols_cluster(yk, X, sch, absorb=cc)
    out["dropped_columns"] = tuple(names[i] for i in fit.dropped)
    out["r2"] = fit.r2
    out["rank"] = fit.rank
    G = fit.n_clusters
    out["n_schools"] = G
    out["df"] = float(G - 1)
    if fit.position(1) is None:
        out["status"] = "not fitted: treatment aliased with the fixed effects"
        return out
    q = sps.t.ppf(0.975, G - 1) if G > 1 else float("nan")
    if kind == "binary":
        if not fit.converged or not est.logit_has_mle(fit):
            out["status"] = ("not fitted: the outcome is separated (some students' predicted probability is 0 or "
                             "1, so the logistic estimate does not exist)")
            return out
        m = est.marginal_proportions(fit, X, 1)
        out.update(estimate=m["difference"], se=m["se"], mean_t=m["p_t"], mean_c=m["p_c"], effect_size=m["cox"],
                   es_ci_low=m["cox"] - q * m["cox_se"], es_ci_high=m["cox"] + q * m["cox_se"])
        out["p_val"] = float(2 * sps.t.sf(abs(m["difference"] / m["se"]), G - 1)) \
            if G > 1 and m["se"] > 0 else float("nan")
    else:
        b, se, p = fit.t_test(1)
        S = _pooled_sd(y, t)
        w = _omega(len(y))
        out.update(estimate=b, se=se, p_val=p, effect_size=w * b / S if S > 0 else float("nan"),
                   es_ci_low=w * (b - q * se) / S if S > 0 else float("nan"),
                   es_ci_high=w * (b + q * se) / S if S > 0 else float("nan"), sd_pooled=S,
                   mean_t=float(y[t].mean()), mean_c=float(y[~t].mean()))
    out["status"] = "fitted"
    return out


def _raw(y, t, kind) -> dict:
    a, b = y[t], y[~t]
    nt, nc = len(a), len(b)
    if nt < 2 or nc < 2:
        return {"status": "not fitted: too few students"}
    diff = a.mean() - b.mean()
    if kind == "binary":
        se = float(np.sqrt(a.mean() * (1 - a.mean()) / nt + b.mean() * (1 - b.mean()) / nc))
        pa, pb = a.mean(), b.mean()
        es = (np.log(pa / (1 - pa)) - np.log(pb / (1 - pb))) / 1.65 if 0 < pa < 1 and 0 < pb < 1 else np.nan
        p = float(2 * sps.norm.sf(abs(diff / se))) if se > 0 else np.nan
        return dict(estimate=float(diff), se=se, p_val=p, effect_size=float(es), mean_t=pa, mean_c=pb,
                    status="fitted")
    se = float(np.sqrt(a.var(ddof=1) / nt + b.var(ddof=1) / nc))
    S = _pooled_sd(y, t)
    p = float(sps.ttest_ind(a, b, equal_var=False).pvalue) if se > 0 else np.nan
    return dict(estimate=float(diff), se=se, p_val=p, sd_pooled=S,
                effect_size=_omega(nt + nc) * diff / S if S > 0 else np.nan, mean_t=float(a.mean()),
                mean_c=float(b.mean()), r2=0.0, status="fitted")


def fit_design(y: np.ndarray, treated: np.ndarray, prior: np.ndarray | None, cov: Covariates, cells: np.ndarray,
               schools: np.ndarray, *, kind: str, design: str, order: np.ndarray | None = None,
               min_n: int = 0) -> DesignResult:
    """The array core of :func:`estimate_effect`: rows are students, missing values as NaN / code −1.

    Parameters
    ----------
    y, treated, prior : ndarray
        Outcome (NaN = missing), 0/1 or bool participation, prior value (NaN =
        missing; None when there is no prior).
    cov : Covariates
        Background covariates of the same rows.
    cells, schools : ndarray
        School × grade and school codes (−1 = missing).
    kind : {"continuous", "binary"}
    design : {"raw", "adjusted", "matched"}
    order : ndarray, optional
        Tie-break rank for matching (e.g. rank of the student id).
    min_n : int
        Below this many participants or comparison students in the analytic
        sample nothing is fitted (``status`` says so).
    """
    check_argument("design", design, DESIGNS)
    check_argument("kind", kind, ("continuous", "binary"))
    with est.one_blas_thread():  # narrow matrices: BLAS threads only contend (estimate.one_blas_thread)
        return _fit_design(y, treated, prior, cov, cells, schools, kind=kind, design=design, order=order,
                           min_n=min_n)


def _fit_design(y, treated, prior, cov: Covariates, cells, schools, *, kind, design, order, min_n) -> DesignResult:
    y = np.asarray(y, float)
    t = np.asarray(treated).astype(bool)
    n_t_full, n_c_full = int((t & np.isfinite(y)).sum()), int((~t & np.isfinite(y)).sum())
    ok = np.isfinite(y) & (cells >= 0) & (schools >= 0)
    use_prior = prior is not None and design != "raw"
    if use_prior:
        ok &= np.isfinite(prior)
    if design != "raw":
        ok &= cov.complete
    rows = np.flatnonzero(ok)
    yk, tk = y[rows], t[rows]
    pk = np.asarray(prior, float)[rows] if prior is not None else None
    covk = cov.take(rows) if design != "raw" else None
    ck, sk = cells[rows], schools[rows]
    n_t, n_c = int(tk.sum()), int((~tk).sum())
    base = dict(design=design, kind=kind, n_t_full=n_t_full, n_c_full=n_c_full, n_t=n_t, n_c=n_c,
                n_schools=len(est.compact_codes(sk)[1]))
    analytic = ok
    if min(n_t, n_c) < max(min_n, 2):
        return DesignResult(**base, status="not fitted: too few students", analytic=analytic)
    if design == "raw":
        res = _raw(yk, tk, kind)
        pb = None if pk is None else pk
        bes = float("nan")
        if pb is not None:
            fin = np.isfinite(pb)
            bes = _baseline_es(pb[fin], tk[fin]) if fin.sum() else float("nan")
        res["mde"] = est.minimum_detectable_effect(0.0, n_t / (n_t + n_c), n_t + n_c)
        return DesignResult(**{**base, **res}, baseline_es=bes, baseline_verdict=_verdict(bes), analytic=analytic,
                            weights=np.ones(len(rows)))
    warns = []
    weights = np.ones(len(rows))
    subclass = np.full(len(rows), -1, dtype=np.int64)
    n_unmatched = 0
    fit_rows = np.arange(len(rows))
    if design == "matched":
        Xp, _ = _design_matrix(tk, pk, covk, ck, with_treated=False, with_cells=False)
        kept, _ = est.independent_columns(Xp)
        beta, conv, _ = est.logit_fit(tk.astype(float), Xp[:, kept])
        # the score column by column (elementwise IEEE products and sums), not by a BLAS matrix-vector product:
        # students with the same covariates then get bit-identical scores whatever the BLAS build, thread count
        # or memory alignment, so their ties are broken by ``order`` as documented, and a re-run pairs the same
        lp = np.zeros(len(tk))
        for j, b in zip(kept, beta):
            lp += Xp[:, j] * b
        if not conv or not np.isfinite(lp).all():
            # matching on a score that does not exist would pair students arbitrarily: report, do not fit
            return DesignResult(**base, status="not fitted: the propensity-score model did not converge "
                                               "(a covariate level has only participants or only comparison students)",
                                analytic=analytic)
        sd = float(np.std(lp, ddof=1)) if len(lp) > 1 else float("nan")
        caliper = est.CALIPER_SD * sd if np.isfinite(sd) else 0.0
        ordk = order[rows] if order is not None else None
        partner = est.greedy_match(lp, tk, ck, caliper=caliper, order=ordk)
        matched = partner >= 0
        weights = matched.astype(float)
        tr = np.flatnonzero(tk & matched)
        subclass[tr] = np.arange(1, len(tr) + 1)
        subclass[partner[tr]] = subclass[tr]
        n_unmatched = int((tk & ~matched).sum())
        fit_rows = np.flatnonzero(matched)
        if min(int(tk[fit_rows].sum()), int((~tk[fit_rows]).sum())) < max(min_n, 2):
            bal = _balance(pk, tk, covk, weights)
            return DesignResult(**base, status="not fitted: too few matched pairs", n_unmatched=n_unmatched,
                                balance_data=bal, weights=weights, subclass=subclass, analytic=analytic)
    sub = covk.take(fit_rows)
    res = _fit_model(yk[fit_rows], tk[fit_rows], None if pk is None else pk[fit_rows], sub, ck[fit_rows],
                     sk[fit_rows], kind)
    bal = _balance(pk, tk, covk, weights if design == "matched" else None)
    smd = np.abs(np.asarray(bal["smd_after"], float))
    background = smd[np.asarray(bal["covariate"], dtype=object) != "prior"] if len(smd) else smd
    bmax = float(np.nanmax(smd)) if np.isfinite(smd).any() else np.nan
    bgmax = float(np.nanmax(background)) if np.isfinite(background).any() else np.nan
    bes = float("nan")
    if pk is not None:
        bes = _baseline_es(pk[fit_rows], tk[fit_rows])
    G = res.get("n_schools", 0)
    if G < est.MIN_CLUSTERS:
        warns.append(f"only {G} school{'s' if G != 1 else ''}: cluster-robust standard errors are optimistic "
                     f"with fewer than {est.MIN_CLUSTERS}")
    tf = tk[fit_rows]
    nf = len(fit_rows)
    res["mde"] = est.minimum_detectable_effect(res.get("r2", np.nan), tf.mean() if nf else np.nan, nf)
    if design == "matched":
        res["n_t"], res["n_c"] = int(tf.sum()), int((~tf).sum())
    return DesignResult(**{**base, **res}, baseline_es=bes, baseline_verdict=_verdict(bes), balance_max_smd=bmax,
                        background_max_smd=bgmax, n_unmatched=n_unmatched, warnings=tuple(warns), balance_data=bal,
                        weights=weights, subclass=subclass, analytic=analytic)


def estimate_effect(data: pd.DataFrame, *, outcome: str, treated: str = "treated", prior: str | None = "prior",
                    covariates: Sequence[str] = (), school: str = "school_id", grade: str | None = "grade_level",
                    kind: str | None = None, design: str = "adjusted", student: str | None = "student_id",
                    min_n: int = 0) -> DesignResult:
    r"""Estimate a participant-vs-comparison difference under one design, from a tidy frame.

    Parameters
    ----------
    data : DataFrame
        One row per student. Not modified.
    outcome, treated, prior : str
        Columns: the outcome, 0/1 participation, and the prior-year value
        (``prior=None`` for none: then only ``raw`` is meaningful).
    covariates : list of str
        Background columns (numeric ones linear, others categorical strings).
        ``"prior"`` in the list is ignored (the prior always enters).
    school, grade : str
        Cluster and fixed-effect columns (fixed effects per school × grade;
        ``grade=None``: per school).
    kind : {"continuous", "binary"}, optional
        Default: binary when the outcome holds only 0 and 1.
    design : {"raw", "adjusted", "matched"}
    student : str, optional
        Id column; ties in the matching order are broken by it.
    min_n : int
        Smallest analytic group to fit.

    Returns
    -------
    DesignResult
        Scalars (``estimate``, ``se``, ``p_val``, ``effect_size``,
        ``es_ci_low``/``high``, ``mde``, ``n_t``/``n_c`` analytic and full,
        ``baseline_es``/``verdict``, ``balance_max_smd``, ``n_unmatched``,
        ``dropped_columns``, ``warnings``), ``balance`` (a frame with
        ``BALANCE_COLUMNS``) and per-row ``weights``/``subclass`` over the
        analytic rows.

    Examples
    --------
    UCI Student Performance, ``schoolsup`` as the programme, G1 as the prior
    of G3 (``tests/test_kpi_designs.py`` checks it against R)::

        d = pd.read_csv("student-mat.csv", sep=";")
        d["treated"] = (d["schoolsup"] == "yes").astype(int)
        r = estimate_effect(d, outcome="G3", prior="G1", covariates=["sex", "age", "address", "Medu", "Fedu"],
                            school="school", grade=None)
        # R: lm(G3 ~ treated + G1 + sex + age + address + Medu + Fedu + school, d)
        #    lmtest::coeftest(fit, vcov = sandwich::vcovCL(fit, cluster = ~school, type = "HC1"))
    """
    cols = [outcome, treated, school] + ([grade] if grade else []) + ([prior] if prior else [])
    for c in cols:
        if c not in data.columns:
            raise InputDataError(f"column {c!r} is not in the data", column=c,
                                 fix=f"Use one of {list(data.columns)}")
    covs = [c for c in covariates if c != "prior" and c != prior]
    cov = build_covariates(data, covs)
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(float)
    t = pd.to_numeric(data[treated], errors="coerce").to_numpy(float)
    if not np.isin(t[np.isfinite(t)], (0.0, 1.0)).all():
        raise InputDataError(f"column {treated!r} must hold 0/1", column=treated, fix="Code participation as 0/1")
    y = np.where(np.isfinite(t), y, np.nan)
    pr = pd.to_numeric(data[prior], errors="coerce").to_numpy(float) if prior else None
    sch_s = data[school].astype("object")
    key = sch_s.astype(str) + ("|" + data[grade].astype(str) if grade else "")
    miss = sch_s.isna() | (data[grade].isna() if grade else False)
    schools = np.where(miss, -1, pd.factorize(sch_s.astype(str))[0])
    cells = np.where(miss, -1, pd.factorize(key)[0])
    if kind is None:
        kind = "binary" if _is_binary(y[np.isfinite(y)]) else "continuous"
    order = None
    if student and student in data.columns:
        order = data[student].astype(str).rank(method="first").to_numpy()
    return fit_design(y, np.nan_to_num(t) > 0, pr, cov, cells, schools, kind=kind, design=design, order=order,
                      min_n=min_n)
