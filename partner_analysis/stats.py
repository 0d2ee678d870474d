r"""Statistics for partner comparisons: effect sizes, intervals, tests, reliability.

Pure numpy/scipy functions. Nothing here reads files or touches pandas I/O;
the KPI engine (``partner_analysis.kpi``) aggregates and calls these.

The formulas follow the What Works Clearinghouse (WWC) handbooks so that a
district's figures can be compared with published WWC reviews. Each function
documents its formula, its method choices, its sources and the independent
implementation it is tested against (``tests/test_stats.py``).

References used throughout
--------------------------
.. [WWC5] What Works Clearinghouse (2022). *Procedures and Standards Handbook,
   Version 5.0*. IES/NCEE.
.. [WWC41] What Works Clearinghouse (2020). *Procedures Handbook, Version 4.1*
   and *Standards Handbook, Version 4.1*, plus the Supplement (ERIC ED608943).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np
from scipy import stats as _sps

from .exceptions import ConfigError, InputDataError, PartnerAnalysisWarning, check_argument

__all__ = [
    "EffectSize",
    "WelchResult",
    "ProportionTest",
    "hedges_g",
    "hedges_g_from_stats",
    "wwc_omega",
    "cox_index",
    "cox_effect",
    "improvement_index",
    "wilson_ci",
    "bh_adjust",
    "bh_reject",
    "baseline_equivalence",
    "welch_t_test",
    "welch_t_from_stats",
    "two_proportion_test",
    "cluster_correction",
    "attrition",
    "attrition_boundary",
    "WWC_ATTRITION_CAUTIOUS",
    "WWC_ATTRITION_OPTIMISTIC",
    "cronbach_alpha",
    "rwg",
    "rwg_j",
    "weighted_kappa",
]

#: WWC's divisor for the Cox index (not pi/sqrt(3) ~= 1.814 of the logistic conversion).
COX_DIVISOR = 1.65

# WWC Standards Handbook v4.1, Table II.1. Index = overall attrition in whole
# percent (0..65); value = largest differential attrition (percentage points)
# that still counts as "low"; None = always high.
WWC_ATTRITION_CAUTIOUS: tuple[float | None, ...] = (
    5.7, 5.8, 5.9, 5.9, 6.0, 6.1, 6.2, 6.3, 6.3, 6.3, 6.3, 6.2, 6.2, 6.1, 6.0, 5.9, 5.9, 5.8, 5.7, 5.5,
    5.4, 5.3, 5.2, 5.1, 4.9, 4.8, 4.7, 4.5, 4.4, 4.3, 4.1, 4.0, 3.8, 3.6, 3.5, 3.3, 3.2, 3.1, 2.9, 2.8,
    2.6, 2.5, 2.3, 2.1, 2.0, 1.8, 1.6, 1.5, 1.3, 1.2, 1.0, 0.9, 0.7, 0.6, 0.4, 0.3, 0.2, 0.0,
) + (None,) * 8
WWC_ATTRITION_OPTIMISTIC: tuple[float | None, ...] = (
    10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.7, 10.8, 10.9, 10.9, 10.9, 10.9, 10.9, 10.8, 10.8,
    10.7, 10.6, 10.5, 10.3, 10.2, 10.0, 9.9, 9.7, 9.5, 9.4, 9.2, 9.0, 8.8, 8.6, 8.4, 8.2, 8.0, 7.8, 7.6,
    7.4, 7.2, 7.0, 6.7, 6.5, 6.3, 6.0, 5.8, 5.6, 5.3, 5.1, 4.9, 4.6, 4.4, 4.2, 3.9, 3.7, 3.5, 3.2, 3.0,
    2.8, 2.6, 2.3, 2.1, 1.9, 1.6, 1.4, 1.1, 0.9, 0.7, 0.5, 0.3,
)
_ATTRITION_TABLES = {"cautious": WWC_ATTRITION_CAUTIOUS, "optimistic": WWC_ATTRITION_OPTIMISTIC}
# The published comparison "differential <= boundary" is made on values rounded
# to 0.1 pp; a float tolerance stops 4.1 - 1e-15 from flipping a verdict.
_ATTRITION_TOL = 1e-8
_BASELINE_TOL = 1e-12


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class EffectSize:
    """A standardised mean difference with its standard error and confidence interval.

    Fields are floats for scalar input and numpy arrays when
    :func:`hedges_g_from_stats` or :func:`cox_effect` is called with arrays.
    ``float(es)`` gives the estimate (scalar results only).

    Attributes
    ----------
    estimate : float
        The effect size (Hedges' g, Cohen's d or the Cox index).
    se : float
        Its standard error.
    ci_low, ci_high : float
        Normal-theory confidence limits ``estimate -/+ z * se``.
    n_treatment, n_comparison : int
        Group sizes used.
    method : str
        ``"hedges_g"`` (with the WWC small-sample factor), ``"cohens_d"``
        (without it), ``"cox"`` or ``"cox_corrected"``.
    """

    estimate: Any
    se: Any
    ci_low: Any
    ci_high: Any
    n_treatment: Any
    n_comparison: Any
    method: str

    def __float__(self) -> float:
        return float(self.estimate)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict (stable keys, for building tidy frames)."""
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "n_treatment": self.n_treatment, "n_comparison": self.n_comparison, "method": self.method}


class WelchResult(NamedTuple):
    """Welch's t test: statistic, Welch-Satterthwaite degrees of freedom, two-sided p."""

    t: Any
    df: Any
    p_val: Any


class ProportionTest(NamedTuple):
    """Two-sided test of two proportions: p-value and the test used (``"z"`` or ``"fisher"``)."""

    p_val: float
    method: str


# --------------------------------------------------------------------------- helpers
def _z(confidence: float) -> float:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ConfigError(f"confidence must be a number strictly between 0 and 1, but {confidence!r} was passed",
                          key="confidence", value=confidence, fix="Use e.g. confidence=0.95")
    return float(_sps.norm.ppf(0.5 + confidence / 2))


def _sample(values: Any, name: str) -> np.ndarray:
    """1-D float array without NaN; raises InputDataError for non-numeric or infinite input."""
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise InputDataError(f"`{name}` must contain numbers only", column=name,
                             fix="Convert the values to numbers (missing values as NaN)") from err
    if np.isinf(arr).any():
        raise InputDataError(f"`{name}` contains an infinite value", column=name, value=float("inf"),
                             fix="Remove or correct infinite values")
    return arr[~np.isnan(arr)]


def _as_float_array(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputDataError(f"`{name}` must be numeric, found {value!r}", column=name, value=value,
                             fix="Pass numbers or numeric arrays") from err


def _scalar_or_array(arr: np.ndarray, scalar: bool):
    return float(arr) if scalar else arr


def _is_scalar(*values: Any) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def _check_nonnegative(arr: np.ndarray, name: str) -> None:
    bad = arr[~np.isnan(arr)] < 0
    if bad.any():
        raise InputDataError(f"`{name}` must not be negative, found {arr[~np.isnan(arr)][bad][0]!r}",
                             column=name, value=float(arr[~np.isnan(arr)][bad][0]),
                             fix=f"Check how `{name}` was computed")


def wwc_omega(n_total: Any) -> Any:
    r"""WWC small-sample correction factor.

    .. math::

        \omega = 1 - \frac{3}{4N - 9}

    where :math:`N = n_T + n_C` is the total sample size. This equals
    :math:`1 - 3/(4(N-2) - 1)`, the Hedges (1981) approximation to the exact
    gamma-function factor :math:`J(N-2)`; the WWC uses the approximation [1]_.
    NaN where :math:`N \le 2` (undefined).

    Parameters
    ----------
    n_total : int or array_like
        Total sample size :math:`N`.

    Returns
    -------
    float or numpy.ndarray

    Checked against the ``docs/methods.md#hedges-g`` vector (N = 6 gives 0.8) and,
    through :func:`hedges_g`, against pingouin's ``compute_effsize``.

    References
    ----------
    .. [1] What Works Clearinghouse (2022). Procedures and Standards Handbook,
           Version 5.0, Appendix E.

    Examples
    --------
    >>> round(wwc_omega(6), 6)
    0.8
    """
    scalar = _is_scalar(n_total)
    n = _as_float_array(n_total, "n_total")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > 2, 1.0 - 3.0 / (4.0 * n - 9.0), np.nan)
    return _scalar_or_array(out, scalar)


# --------------------------------------------------------------------------- effect sizes
def hedges_g(treatment: Sequence[float] | np.ndarray, comparison: Sequence[float] | np.ndarray, *,
             small_sample_correction: bool = True, confidence: float = 0.95) -> EffectSize:
    r"""Hedges' g for two independent groups, with the WWC small-sample factor.

    Parameters
    ----------
    treatment, comparison : array_like
        Outcome values of participants and of the comparison group. NaN values
        are dropped (per group); each group needs at least 2 values.
    small_sample_correction : bool, default True
        Multiply by the WWC factor :math:`\omega` (gives Hedges' g); False gives
        Cohen's d with the pooled SD.
    confidence : float, default 0.95
        Coverage of the normal-theory interval.

    Returns
    -------
    EffectSize
        ``estimate, se, ci_low, ci_high, n_treatment, n_comparison, method``.

    Raises
    ------
    InputDataError
        Non-numeric or infinite values, or a group with fewer than 2 values.
    ConfigError
        ``confidence`` outside (0, 1).

    See Also
    --------
    hedges_g_from_stats : the same from group means, SDs and sizes.
    cox_index : the binary-outcome counterpart.

    Notes
    -----
    .. math::

        S = \sqrt{\frac{(n_T-1)s_T^2 + (n_C-1)s_C^2}{n_T+n_C-2}}, \qquad
        \omega = 1 - \frac{3}{4N-9}, \qquad
        g = \omega\,\frac{\bar y_T - \bar y_C}{S}

    .. math::

        SE(g) = \sqrt{\frac{n_T+n_C}{n_T n_C} + \frac{g^2}{2(n_T+n_C)}}, \qquad
        CI = g \pm z_{1-(1-c)/2}\,SE(g)

    where :math:`\bar y`, :math:`s^2` (``ddof=1``) and :math:`n` are the
    group means, variances and sizes, :math:`N = n_T + n_C` and :math:`c` the
    confidence. This is WWC Procedures Handbook v4.1 eq. E.1.1 / v5.0 [1]_ [2]_.
    :math:`\omega` is the WWC approximation; R ``effectsize::hedges_g`` uses the
    exact gamma-function factor and differs slightly (0.7979 vs 0.8 for the
    example below). When both groups have zero variance the estimate is NaN
    (with a :class:`PartnerAnalysisWarning`).

    Checked against ``pingouin.compute_effsize(x, y, eftype="hedges")``
    (same approximation) on 250 random samples, against the WWC example
    vector, and against the UCI Student Performance golden values of
    ``docs/methods.md#test-vectors`` (math g = -0.246639).

    References
    ----------
    .. [1] What Works Clearinghouse (2022). Procedures and Standards Handbook,
           Version 5.0, Appendix E.
    .. [2] Hedges, L. V. (1981). Distribution theory for Glass's estimator of
           effect size and related estimators. Journal of Educational
           Statistics, 6(2), 107-128.

    Examples
    --------
    >>> from partner_analysis.stats import hedges_g
    >>> es = hedges_g([5, 6, 7], [4, 5, 6])
    >>> round(es.estimate, 4), es.method
    (0.8, 'hedges_g')
    >>> # R: baselinr::wwc_hedges_g(...) / pingouin.compute_effsize(t, c, eftype="hedges")
    """
    t = _sample(treatment, "treatment")
    c = _sample(comparison, "comparison")
    for arr, name in ((t, "treatment"), (c, "comparison")):
        if arr.size < 2:
            raise InputDataError(f"`{name}` needs at least 2 non-missing values to estimate an SD, found {arr.size}",
                                 column=name, value=int(arr.size),
                                 fix="Report descriptive statistics only for groups this small")
    return hedges_g_from_stats(t.mean(), t.std(ddof=1), t.size, c.mean(), c.std(ddof=1), c.size,
                               small_sample_correction=small_sample_correction, confidence=confidence)


def hedges_g_from_stats(mean_t: Any, sd_t: Any, n_t: Any, mean_c: Any, sd_c: Any, n_c: Any, *,
                        small_sample_correction: bool = True, confidence: float = 0.95) -> EffectSize:
    r"""Hedges' g from group means, standard deviations and sizes (vectorised).

    Parameters
    ----------
    mean_t, sd_t, n_t : float or array_like
        Mean, SD (``ddof=1``) and size of the participant group.
    mean_c, sd_c, n_c : float or array_like
        The same for the comparison group. Arrays broadcast together.
    small_sample_correction : bool, default True
        Apply the WWC factor :math:`\omega = 1 - 3/(4N-9)`.
    confidence : float, default 0.95
        Coverage of the normal-theory interval.

    Returns
    -------
    EffectSize
        Float fields for scalar input, arrays for array input. Elements where
        :math:`n_T + n_C \le 2`, a group has :math:`n < 1`, or the pooled SD
        is 0 are NaN (no exception: the KPI engine passes whole columns).

    Raises
    ------
    InputDataError
        Negative SD or size.

    Notes
    -----
    Same formula as :func:`hedges_g`:

    .. math::

        g = \left(1 - \frac{3}{4N-9}\right)\frac{\bar y_T - \bar y_C}
        {\sqrt{\frac{(n_T-1)s_T^2 + (n_C-1)s_C^2}{N-2}}}, \qquad
        SE(g) = \sqrt{\frac{N}{n_T n_C} + \frac{g^2}{2N}}

    with :math:`N = n_T + n_C`. For covariate-adjusted results pass the
    adjusted means and the *unadjusted* SDs (WWC v5.0 [1]_). Checked against
    pingouin on random data (via :func:`hedges_g`) and against the UCI golden
    values of ``docs/methods.md#test-vectors``.

    References
    ----------
    .. [1] What Works Clearinghouse (2022). Procedures and Standards Handbook,
           Version 5.0, Appendix E.

    Examples
    --------
    >>> es = hedges_g_from_stats([6.0, 10.0], [1.0, 2.0], [3, 30], [5.0, 9.0], [1.0, 2.0], [3, 30])
    >>> es.estimate.round(4).tolist()
    [0.8, 0.4935]
    """
    z = _z(confidence)
    scalar = _is_scalar(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    mt, st, nt, mc, sc, nc = (_as_float_array(v, name) for v, name in (
        (mean_t, "mean_t"), (sd_t, "sd_t"), (n_t, "n_t"), (mean_c, "mean_c"), (sd_c, "sd_c"), (n_c, "n_c")))
    for arr, name in ((st, "sd_t"), (sc, "sd_c"), (nt, "n_t"), (nc, "n_c")):
        _check_nonnegative(arr, name)
    mt, st, nt, mc, sc, nc = np.broadcast_arrays(mt, st, nt, mc, sc, nc)
    n = nt + nc
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.sqrt(((nt - 1) * st ** 2 + (nc - 1) * sc ** 2) / (n - 2))
        valid = (n > 2) & (nt >= 1) & (nc >= 1) & (pooled > 0)
        d = np.where(valid, (mt - mc) / np.where(valid, pooled, 1.0), np.nan)
        omega = wwc_omega(n) if small_sample_correction else np.ones_like(n)
        g = d * omega
        se = np.sqrt(n / (nt * nc) + g ** 2 / (2 * n))
    if np.any((n > 2) & (pooled == 0)):
        warnings.warn("pooled SD is 0 (no variation in either group): effect size set to NaN",
                      PartnerAnalysisWarning, stacklevel=2)
    method = "hedges_g" if small_sample_correction else "cohens_d"
    return EffectSize(
        estimate=_scalar_or_array(g, scalar), se=_scalar_or_array(se, scalar),
        ci_low=_scalar_or_array(g - z * se, scalar), ci_high=_scalar_or_array(g + z * se, scalar),
        n_treatment=int(nt) if scalar else nt, n_comparison=int(nc) if scalar else nc, method=method)


def _proportion(p: Any, name: str) -> np.ndarray:
    arr = _as_float_array(p, name)
    bad = (arr < 0) | (arr > 1)
    if np.any(bad):
        raise InputDataError(f"`{name}` must be a proportion in [0, 1], found {arr[bad].ravel()[0]!r}",
                             column=name, value=float(arr[bad].ravel()[0]),
                             fix="Pass proportions, not percentages (divide by 100)")
    return arr


def cox_index(p_t: Any, p_c: Any, *, n_t: Any = None, n_c: Any = None,
              small_sample_correction: bool = False) -> Any:
    r"""Cox index: a difference in proportions on the Hedges' g scale.

    Parameters
    ----------
    p_t, p_c : float or array_like
        Proportions (0-1) of participants and comparison students with the
        outcome (e.g. passing).
    n_t, n_c : int or array_like, optional
        Group sizes; needed only with ``small_sample_correction=True``.
    small_sample_correction : bool, default False
        Multiply by the WWC :math:`\omega = 1 - 3/(4N-9)`. Off by default,
        following Procedures Handbook v4.1 and R ``baselinr``; whether WWC v5.0
        applies it is still to be confirmed.

    Returns
    -------
    float or numpy.ndarray
        NaN (with a :class:`PartnerAnalysisWarning`) where a proportion is 0 or
        1: the log odds are then infinite.

    Raises
    ------
    InputDataError
        A proportion outside [0, 1].
    ConfigError
        Correction requested without ``n_t`` and ``n_c``.

    Notes
    -----
    .. math::

        d_{Cox} = \omega^{\delta}\;
        \frac{\ln\frac{p_T}{1-p_T} - \ln\frac{p_C}{1-p_C}}{1.65}

    where :math:`p_T, p_C` are the group proportions, :math:`\delta = 1` when
    the correction is on and :math:`\omega = 1 - 3/(4(n_T+n_C)-9)`. The WWC
    divides by 1.65 [1]_ (Sanchez-Meca et al. [2]_), not by :math:`\pi/\sqrt3`.
    Checked against ``docs/methods.md#test-vectors`` vectors (0.2457; 0.2409 with
    :math:`\omega`, N = 40), the UCI golden values (-0.36274, 0.208684) and a
    direct formula on random proportions.

    References
    ----------
    .. [1] What Works Clearinghouse (2020). Procedures Handbook, Version 4.1,
           Appendix E.
    .. [2] Sanchez-Meca, J., Marin-Martinez, F., & Chacon-Moscoso, S. (2003).
           Effect-size indices for dichotomized outcomes in meta-analysis.
           Psychological Methods, 8(4), 448-467.

    Examples
    --------
    >>> round(cox_index(0.60, 0.50), 4)
    0.2457
    >>> round(cox_index(0.60, 0.50, n_t=20, n_c=20, small_sample_correction=True), 4)
    0.2409
    """
    scalar = _is_scalar(p_t, p_c) and _is_scalar(n_t, n_c)
    pt = _proportion(p_t, "p_t")
    pc = _proportion(p_c, "p_c")
    pt, pc = np.broadcast_arrays(pt, pc)
    edge = (pt <= 0) | (pt >= 1) | (pc <= 0) | (pc >= 1)
    if np.any(edge):
        warnings.warn("Cox index undefined when a group proportion is 0 or 1: returned NaN",
                      PartnerAnalysisWarning, stacklevel=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        logit_t = np.log(pt / (1 - pt))
        logit_c = np.log(pc / (1 - pc))
        d = np.where(edge, np.nan, (logit_t - logit_c) / COX_DIVISOR)
    if small_sample_correction:
        if n_t is None or n_c is None:
            raise ConfigError("small_sample_correction=True needs the group sizes n_t and n_c",
                              key="small_sample_correction", fix="Pass n_t= and n_c=, or leave the correction off")
        nt = _as_float_array(n_t, "n_t")
        nc = _as_float_array(n_c, "n_c")
        _check_nonnegative(nt, "n_t")
        _check_nonnegative(nc, "n_c")
        d = d * wwc_omega(nt + nc)
    return _scalar_or_array(np.asarray(d, dtype=float), scalar)


def cox_effect(x_t: Any, n_t: Any, x_c: Any, n_c: Any, *, small_sample_correction: bool = False,
               confidence: float = 0.95) -> EffectSize:
    r"""Cox index with its standard error and confidence interval, from counts.

    Parameters
    ----------
    x_t, n_t : int or array_like
        Participants with the outcome, and participants.
    x_c, n_c : int or array_like
        The same for the comparison group.
    small_sample_correction : bool, default False
        See :func:`cox_index`.
    confidence : float, default 0.95

    Returns
    -------
    EffectSize
        ``method`` is ``"cox"`` (or ``"cox_corrected"``). NaN where a
        proportion is 0 or 1.

    Notes
    -----
    .. math::

        SE(d_{Cox}) = \frac{\omega^{\delta}}{1.65}
        \sqrt{\frac{1}{x_T} + \frac{1}{n_T-x_T} + \frac{1}{x_C} + \frac{1}{n_C-x_C}}

    the large-sample SE of the log odds ratio [1]_ rescaled like the index.
    Checked against a direct computation of the log odds ratio variance.

    References
    ----------
    .. [1] Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R.
           (2009). Introduction to Meta-Analysis, ch. 5. Wiley.

    Examples
    --------
    >>> es = cox_effect(12, 20, 10, 20)
    >>> round(es.estimate, 4), round(es.se, 4)
    (0.2457, 0.3873)
    """
    z = _z(confidence)
    scalar = _is_scalar(x_t, n_t, x_c, n_c)
    xt, nt, xc, nc = (_as_float_array(v, k) for v, k in ((x_t, "x_t"), (n_t, "n_t"), (x_c, "x_c"), (n_c, "n_c")))
    for arr, name in ((xt, "x_t"), (nt, "n_t"), (xc, "x_c"), (nc, "n_c")):
        _check_nonnegative(arr, name)
    if np.any(xt > nt) or np.any(xc > nc):
        raise InputDataError("successes exceed the group size", column="x_t/x_c",
                             fix="Check that x counts students with the outcome among n")
    with np.errstate(divide="ignore", invalid="ignore"):
        pt = np.where(nt > 0, xt / nt, np.nan)
        pc = np.where(nc > 0, xc / nc, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartnerAnalysisWarning)
        est = np.asarray(cox_index(np.nan_to_num(pt, nan=0.0), np.nan_to_num(pc, nan=0.0), n_t=nt, n_c=nc,
                                   small_sample_correction=small_sample_correction), dtype=float)
    if np.any(np.isnan(est)):
        warnings.warn("Cox index undefined when a group proportion is 0 or 1: returned NaN",
                      PartnerAnalysisWarning, stacklevel=2)
    factor = wwc_omega(nt + nc) if small_sample_correction else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        se = factor * np.sqrt(1 / xt + 1 / (nt - xt) + 1 / xc + 1 / (nc - xc)) / COX_DIVISOR
    se = np.where(np.isnan(est), np.nan, se)
    return EffectSize(
        estimate=_scalar_or_array(est, scalar), se=_scalar_or_array(se, scalar),
        ci_low=_scalar_or_array(est - z * se, scalar), ci_high=_scalar_or_array(est + z * se, scalar),
        n_treatment=int(nt) if scalar else nt, n_comparison=int(nc) if scalar else nc,
        method="cox_corrected" if small_sample_correction else "cox")


def improvement_index(es: Any) -> Any:
    r"""WWC improvement index: expected percentile gain of an average comparison student.

    Parameters
    ----------
    es : float, EffectSize or array_like
        Hedges' g or Cox index.

    Returns
    -------
    float or numpy.ndarray
        Unrounded index in (-50, 50); reports round it to an integer. NaN stays NaN.

    Notes
    -----
    .. math::

        I = 100\,\Phi(g) - 50

    where :math:`\Phi` is the standard normal CDF [1]_. Checked against the
    ``docs/methods.md#test-vectors`` table (0.25 -> 9.87, 0.10 -> 3.98, -0.20 -> -7.93,
    0.80 -> 28.81) and ``scipy.stats.norm.cdf``.

    References
    ----------
    .. [1] What Works Clearinghouse (2022). Procedures and Standards Handbook,
           Version 5.0, Appendix E ("improvement index").

    Examples
    --------
    >>> round(improvement_index(0.25), 2)
    9.87
    """
    if isinstance(es, EffectSize):
        es = es.estimate
    scalar = _is_scalar(es)
    arr = _as_float_array(es, "es")
    return _scalar_or_array(100.0 * _sps.norm.cdf(arr) - 50.0, scalar)


# --------------------------------------------------------------------------- proportions
def wilson_ci(successes: Any, n: Any, *, confidence: float = 0.95) -> tuple[Any, Any]:
    r"""Wilson score interval for a proportion (vectorised).

    Parameters
    ----------
    successes : int or array_like
        Number of students with the outcome, :math:`0 \le x \le n`.
    n : int or array_like
        Group size. Where ``n == 0`` both limits are NaN.
    confidence : float, default 0.95

    Returns
    -------
    (ci_low, ci_high)
        Floats for scalar input, arrays otherwise.

    Raises
    ------
    InputDataError
        Negative counts or ``successes > n``.

    Notes
    -----
    .. math::

        \hat p = x/n,\quad
        \text{centre} = \frac{\hat p + z^2/(2n)}{1 + z^2/n},\quad
        \text{half} = \frac{z}{1 + z^2/n}\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}

    where :math:`z` is the standard normal quantile for the confidence
    (1.959964 for 95 %) [1]_. Limits are clipped to [0, 1] against rounding.
    Chosen over the Wald interval because it behaves at 0 % and 100 % and
    with small n [2]_. Checked against
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")`` on
    300 random cases and the ``docs/methods.md#test-vectors`` table (8/20 -> 0.2188-0.6134).

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession,
           and statistical inference. JASA, 22(158), 209-212.
    .. [2] Brown, L. D., Cai, T. T., & DasGupta, A. (2001). Interval
           estimation for a binomial proportion. Statistical Science, 16(2).

    Examples
    --------
    >>> lo, hi = wilson_ci(8, 20)
    >>> round(lo, 4), round(hi, 4)
    (0.2188, 0.6134)
    >>> # R: prop.test(8, 20, correct=FALSE)$conf.int
    """
    z = _z(confidence)
    scalar = _is_scalar(successes, n)
    x = _as_float_array(successes, "successes")
    nn = _as_float_array(n, "n")
    _check_nonnegative(x, "successes")
    _check_nonnegative(nn, "n")
    x, nn = np.broadcast_arrays(x, nn)
    over = x > nn
    if np.any(over):
        raise InputDataError(f"successes ({x[over].ravel()[0]:g}) exceed n ({nn[over].ravel()[0]:g})",
                             column="successes", value=float(x[over].ravel()[0]),
                             fix="Check the numerator and denominator")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / nn
        z2n = z * z / nn
        centre = (p + z2n / 2) / (1 + z2n)
        half = z / (1 + z2n) * np.sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn))
        lo = np.where(nn > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(nn > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return _scalar_or_array(lo, scalar), _scalar_or_array(hi, scalar)


def two_proportion_test(x_t: int, n_t: int, x_c: int, n_c: int) -> ProportionTest:
    r"""Two-sided test that two proportions are equal: pooled z, or Fisher's exact for small counts.

    Parameters
    ----------
    x_t, n_t : int
        Participants with the outcome, and participants.
    x_c, n_c : int
        The same for the comparison group.

    Returns
    -------
    ProportionTest
        ``(p_val, method)``, method ``"z"`` or ``"fisher"``.

    Raises
    ------
    InputDataError
        Negative or non-integer counts, an empty group or ``x > n``.

    Notes
    -----
    With pooled :math:`\bar p = (x_T + x_C)/(n_T + n_C)`:

    .. math::

        z = \frac{x_T/n_T - x_C/n_C}{\sqrt{\bar p(1-\bar p)(1/n_T + 1/n_C)}},
        \qquad p = 2\,(1 - \Phi(|z|))

    When any expected cell count :math:`E_{ij} = R_i C_j / N` of the 2x2 table
    is below 5 the normal approximation is poor and Fisher's exact test
    (two-sided, ``scipy.stats.fisher_exact``) is used instead [1]_ [2]_.
    Checked against ``statsmodels.stats.proportion.proportions_ztest`` and
    ``scipy.stats.fisher_exact``.

    References
    ----------
    .. [1] Agresti, A. (2013). Categorical Data Analysis, 3rd ed., §3.5. Wiley.
    .. [2] Cochran, W. G. (1954). Some methods for strengthening the common
           chi-squared tests. Biometrics, 10(4), 417-451.

    Examples
    --------
    >>> res = two_proportion_test(30, 50, 20, 50)
    >>> res.method, round(res.p_val, 4)
    ('z', 0.0455)
    >>> # R: prop.test(c(30, 20), c(50, 50), correct=FALSE)$p.value
    """
    counts = {}
    for name, v in (("x_t", x_t), ("n_t", n_t), ("x_c", x_c), ("n_c", n_c)):
        try:
            f = float(v)
        except (TypeError, ValueError) as err:
            raise InputDataError(f"`{name}` must be a count, found {v!r}", column=name, value=v) from err
        if not (f >= 0 and f == int(f)):
            raise InputDataError(f"`{name}` must be a non-negative whole number, found {v!r}", column=name,
                                 value=v, fix="Pass counts of students, not proportions")
        counts[name] = int(f)
    xt, nt, xc, nc = counts["x_t"], counts["n_t"], counts["x_c"], counts["n_c"]
    if nt == 0 or nc == 0:
        raise InputDataError("both groups need at least one student", column="n_t" if nt == 0 else "n_c", value=0)
    if xt > nt or xc > nc:
        raise InputDataError("successes exceed the group size", column="x_t" if xt > nt else "x_c",
                             value=xt if xt > nt else xc, fix="Check the numerator and denominator")
    table = np.array([[xt, nt - xt], [xc, nc - xc]], dtype=float)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if (expected < 5).any():
        _, p = _sps.fisher_exact(table.astype(int), alternative="two-sided")
        return ProportionTest(float(p), "fisher")
    pooled = (xt + xc) / (nt + nc)
    z = (xt / nt - xc / nc) / math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
    return ProportionTest(float(2 * _sps.norm.sf(abs(z))), "z")


# --------------------------------------------------------------------------- multiple comparisons
def bh_adjust(pvalues: Any, *, alpha: float = 0.05) -> np.ndarray:
    r"""Benjamini-Hochberg adjusted p-values (false discovery rate).

    Parameters
    ----------
    pvalues : array_like
        Raw p-values, any shape. NaN values are kept in place and do not count
        towards :math:`M`.
    alpha : float, default 0.05
        FDR level; only validated here (the adjusted values do not depend on
        it). Use :func:`bh_reject` for decisions.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape as the input.

    Raises
    ------
    InputDataError
        A p-value outside [0, 1].

    Notes
    -----
    Sort the :math:`M` non-missing p-values, :math:`p_{(1)} \le \dots \le p_{(M)}`:

    .. math::

        \tilde p_{(k)} = \min_{j \ge k} \min\left(1, \frac{M\,p_{(j)}}{j}\right)

    Rejecting :math:`\tilde p \le \alpha` is the BH step-up procedure [1]_.
    Checked against ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``
    and ``scipy.stats.false_discovery_control(method="bh")`` on 250 random
    vectors, and the ``docs/methods.md#test-vectors`` vector.

    References
    ----------
    .. [1] Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery
           rate: a practical and powerful approach to multiple testing. JRSS B,
           57(1), 289-300.

    Examples
    --------
    >>> bh_adjust([0.001, 0.008, 0.039, 0.041]).round(4).tolist()
    [0.004, 0.016, 0.041, 0.041]
    """
    _check_alpha(alpha)
    p = _as_float_array(pvalues, "pvalues")
    flat = p.ravel()
    ok = ~np.isnan(flat)
    if np.any((flat[ok] < 0) | (flat[ok] > 1)):
        bad = flat[ok][(flat[ok] < 0) | (flat[ok] > 1)][0]
        raise InputDataError(f"p-values must lie in [0, 1], found {bad!r}", column="pvalues", value=float(bad))
    out = np.full(flat.shape, np.nan)
    vals = flat[ok]
    m = vals.size
    if m:
        order = np.argsort(vals, kind="mergesort")
        ranked = vals[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
        res = np.empty(m)
        res[order] = adjusted
        out[ok] = res
    return out.reshape(p.shape)


def bh_reject(pvalues: Any, alpha: float = 0.05) -> np.ndarray:
    r"""Benjamini-Hochberg decisions: True where the null hypothesis is rejected.

    Parameters
    ----------
    pvalues : array_like
        Raw p-values; NaN gives False.
    alpha : float, default 0.05

    Returns
    -------
    numpy.ndarray of bool

    Notes
    -----
    Rejects :math:`H_{(1)},\dots,H_{(k)}` for the largest :math:`k` with
    :math:`p_{(k)} \le k\alpha/M` [1]_, i.e. where :func:`bh_adjust` gives
    :math:`\tilde p \le \alpha`. Checked against statsmodels ``multipletests``.

    References
    ----------
    .. [1] Benjamini, Y., & Hochberg, Y. (1995). JRSS B, 57(1), 289-300.

    Examples
    --------
    >>> bh_reject([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]).tolist()
    [True, True, False, False, False, False, False, False]
    """
    adj = bh_adjust(pvalues, alpha=alpha)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(adj), False, adj <= alpha)


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ConfigError(f"alpha must lie strictly between 0 and 1, but {alpha!r} was passed", key="alpha",
                          value=alpha)


def baseline_equivalence(es: Any) -> Any:
    r"""WWC baseline-equivalence verdict for a baseline effect size.

    Parameters
    ----------
    es : float, EffectSize or array_like
        Hedges' g or Cox index of a baseline measure on the analytic sample.

    Returns
    -------
    str or numpy.ndarray of str
        ``"satisfied"`` (:math:`|ES| \le 0.05`), ``"needs_adjustment"``
        (:math:`0.05 < |ES| \le 0.25`: satisfied only if the impact model
        adjusts for the measure), ``"not_satisfied"`` (:math:`|ES| > 0.25`) or
        ``"unknown"`` (NaN).

    Notes
    -----
    Thresholds from WWC v5.0 [1]_ as implemented in R ``baselinr::wwc_classify``;
    boundaries belong to the lower band (0.05 is satisfied, 0.25 needs
    adjustment).

    References
    ----------
    .. [1] What Works Clearinghouse (2022). Procedures and Standards Handbook,
           Version 5.0, ch. III.

    Examples
    --------
    >>> baseline_equivalence(0.12)
    'needs_adjustment'
    """
    if isinstance(es, EffectSize):
        es = es.estimate
    scalar = _is_scalar(es)
    a = np.abs(_as_float_array(es, "es"))
    out = np.select([np.isnan(a), a <= 0.05 + _BASELINE_TOL, a <= 0.25 + _BASELINE_TOL],
                    ["unknown", "satisfied", "needs_adjustment"], default="not_satisfied")
    return str(out) if scalar else out.astype(object)


# --------------------------------------------------------------------------- t tests
def welch_t_test(treatment: Sequence[float] | np.ndarray, comparison: Sequence[float] | np.ndarray) -> WelchResult:
    r"""Welch's unequal-variance t test (two-sided).

    Parameters
    ----------
    treatment, comparison : array_like
        Outcome values; NaN dropped. Each group needs 2 values.

    Returns
    -------
    WelchResult
        ``(t, df, p_val)``.

    Notes
    -----
    See :func:`welch_t_from_stats` for the formula. Checked against
    ``scipy.stats.ttest_ind(equal_var=False)`` on 250 random samples.

    References
    ----------
    .. [1] Welch, B. L. (1947). The generalization of "Student's" problem when
           several different population variances are involved. Biometrika,
           34(1-2), 28-35.

    Examples
    --------
    >>> res = welch_t_test([5, 6, 7, 9], [4, 5, 6])
    >>> round(res.t, 4), round(res.df, 3)
    (1.6977, 4.85)
    >>> # R: t.test(c(5,6,7,9), c(4,5,6))
    """
    t = _sample(treatment, "treatment")
    c = _sample(comparison, "comparison")
    for arr, name in ((t, "treatment"), (c, "comparison")):
        if arr.size < 2:
            raise InputDataError(f"`{name}` needs at least 2 non-missing values, found {arr.size}", column=name,
                                 value=int(arr.size))
    return welch_t_from_stats(t.mean(), t.std(ddof=1), t.size, c.mean(), c.std(ddof=1), c.size)


def welch_t_from_stats(mean_t: Any, sd_t: Any, n_t: Any, mean_c: Any, sd_c: Any, n_c: Any) -> WelchResult:
    r"""Welch's t test from group means, SDs and sizes (vectorised).

    Parameters
    ----------
    mean_t, sd_t, n_t, mean_c, sd_c, n_c : float or array_like
        Group means, SDs (``ddof=1``) and sizes. Elements with a group of
        fewer than 2 or zero variance in both groups are NaN.

    Returns
    -------
    WelchResult
        ``(t, df, p_val)``; floats for scalars, arrays otherwise.

    Notes
    -----
    .. math::

        t = \frac{\bar y_T - \bar y_C}{\sqrt{s_T^2/n_T + s_C^2/n_C}},\qquad
        \nu = \frac{(s_T^2/n_T + s_C^2/n_C)^2}
        {\frac{(s_T^2/n_T)^2}{n_T-1} + \frac{(s_C^2/n_C)^2}{n_C-1}},\qquad
        p = 2\,P(T_\nu > |t|)

    (Welch [1]_, Satterthwaite [2]_). Checked against
    ``scipy.stats.ttest_ind_from_stats(equal_var=False)``.

    References
    ----------
    .. [1] Welch, B. L. (1947). Biometrika, 34(1-2), 28-35.
    .. [2] Satterthwaite, F. E. (1946). An approximate distribution of
           estimates of variance components. Biometrics Bulletin, 2(6), 110-114.

    Examples
    --------
    >>> round(welch_t_from_stats(6.75, 1.7078, 4, 5.0, 1.0, 3).t, 3)
    1.698
    """
    scalar = _is_scalar(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    mt, st, nt, mc, sc, nc = (_as_float_array(v, name) for v, name in (
        (mean_t, "mean_t"), (sd_t, "sd_t"), (n_t, "n_t"), (mean_c, "mean_c"), (sd_c, "sd_c"), (n_c, "n_c")))
    for arr, name in ((st, "sd_t"), (sc, "sd_c"), (nt, "n_t"), (nc, "n_c")):
        _check_nonnegative(arr, name)
    with np.errstate(divide="ignore", invalid="ignore"):
        vt = st ** 2 / nt
        vc = sc ** 2 / nc
        se2 = vt + vc
        valid = (nt >= 2) & (nc >= 2) & (se2 > 0)
        t = np.where(valid, (mt - mc) / np.sqrt(se2), np.nan)
        df = np.where(valid, se2 ** 2 / (vt ** 2 / (nt - 1) + vc ** 2 / (nc - 1)), np.nan)
        p = np.where(valid, 2 * _sps.t.sf(np.abs(t), df), np.nan)
    return WelchResult(_scalar_or_array(t, scalar), _scalar_or_array(df, scalar), _scalar_or_array(p, scalar))


# --------------------------------------------------------------------------- clustering and attrition
def cluster_correction(g: float, n_t: int, n_c: int, m_t: int, m_c: int, icc: float) -> dict[str, float]:
    r"""Correct the significance test of g for clustering (Hedges 2007; WWC).

    Use when schools, classrooms or cohorts were assigned (or self-selected)
    but the analysis is by student.

    Parameters
    ----------
    g : float
        Hedges' g of the student-level analysis.
    n_t, n_c : int
        Students per condition.
    m_t, m_c : int
        Clusters per condition.
    icc : float
        Intra-class correlation :math:`\rho` in [0, 1). WWC defaults when none
        is reported: 0.20 for achievement, 0.10 for other outcomes.

    Returns
    -------
    dict
        ``t`` (uncorrected), ``t_adjusted``, ``df`` (:math:`h`) and ``p``
        (two-sided, from :math:`t_A` on :math:`h` df). NaN when the correction
        is undefined (:math:`(N-2) - 2(\bar n - 1)\rho \le 0`).

    Raises
    ------
    InputDataError
        Sizes below 1, fewer students than clusters, or ``icc`` outside [0, 1).

    Warns
    -----
    PartnerAnalysisWarning
        When a condition has a single cluster (the "n = 1 confound": the
        cluster and the condition cannot be told apart).

    Notes
    -----
    .. math::

        N = n_T + n_C,\quad M = m_T + m_C,\quad \bar n = N/M

    .. math::

        t = \frac{g}{\sqrt{\frac{N}{n_T n_C} + \frac{g^2}{2N}}},\qquad
        t_A = t\sqrt{\frac{(N-2) - 2(\bar n - 1)\rho}{(N-2)(1 + (\bar n - 1)\rho)}}

    .. math::

        h = \frac{[(N-2) - 2(\bar n - 1)\rho]^2}
        {(N-2)(1-\rho)^2 + \bar n(N - 2\bar n)\rho^2 + 2(N - 2\bar n)\rho(1-\rho)},
        \qquad p = 2\,P(T_h > |t_A|)

    Hedges (2007) [1]_, WWC v4.1 App. F (F.1.0-F.1.4) and v5.0 eq. E.21 [2]_.
    The WWC applies the correction only to findings reported as significant;
    it can only reduce significance. Checked against the ``docs/methods.md#test-vectors``
    vector (g = 0.30, 200/200 students, 10/10 clusters, :math:`\rho` = 0.20:
    t = 2.983, t_A = 1.349, h = 231.66, p = 0.179).

    References
    ----------
    .. [1] Hedges, L. V. (2007). Correcting a significance test for clustering.
           Journal of Educational and Behavioral Statistics, 32(2), 151-179.
    .. [2] What Works Clearinghouse (2022). Procedures and Standards Handbook,
           Version 5.0, eq. E.21.

    Examples
    --------
    >>> r = cluster_correction(0.30, 200, 200, 10, 10, 0.20)
    >>> round(r["t_adjusted"], 3), round(r["df"], 2), round(r["p"], 3)
    (1.349, 231.66, 0.179)
    """
    for name, v in (("n_t", n_t), ("n_c", n_c), ("m_t", m_t), ("m_c", m_c)):
        if not (isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer())) or v < 1:
            raise InputDataError(f"`{name}` must be a whole number >= 1, found {v!r}", column=name, value=v)
    if n_t < m_t or n_c < m_c:
        raise InputDataError("a condition has more clusters than students", column="m_t" if n_t < m_t else "m_c",
                             fix="Check the cluster counts")
    if not (0 <= icc < 1):
        raise InputDataError(f"`icc` must lie in [0, 1), found {icc!r}", column="icc", value=icc,
                             fix="Use 0.20 for achievement or 0.10 for other outcomes when none is reported")
    if m_t == 1 or m_c == 1:
        warnings.warn("one condition has a single cluster (n = 1 confound): the programme cannot be separated "
                      "from that site, classroom or cohort leader", PartnerAnalysisWarning, stacklevel=2)
    n = float(n_t + n_c)
    nbar = n / (m_t + m_c)
    t = g / math.sqrt(n / (n_t * n_c) + g * g / (2 * n))
    top = (n - 2) - 2 * (nbar - 1) * icc
    if top <= 0:
        warnings.warn("clustering correction undefined for these sizes and ICC", PartnerAnalysisWarning,
                      stacklevel=2)
        return {"t": t, "t_adjusted": math.nan, "df": math.nan, "p": math.nan}
    t_adj = t * math.sqrt(top / ((n - 2) * (1 + (nbar - 1) * icc)))
    h = top ** 2 / ((n - 2) * (1 - icc) ** 2 + nbar * (n - 2 * nbar) * icc ** 2
                    + 2 * (n - 2 * nbar) * icc * (1 - icc))
    p = float(2 * _sps.t.sf(abs(t_adj), h))
    return {"t": t, "t_adjusted": t_adj, "df": h, "p": p}


def _round_half_even_percent(x: float) -> int:
    # R's round() (used by baselinr) rounds halves to even; Python's round() does too.
    return int(round(x))


def attrition_boundary(overall: float, *, boundary: str = "cautious") -> float | None:
    r"""Largest differential attrition (percentage points) that still counts as low.

    Parameters
    ----------
    overall : float
        Overall attrition in percent (0-100).
    boundary : {"cautious", "optimistic"}, default "cautious"
        WWC boundary. Cautious is the toolkit default because a partner
        programme may change who stays enrolled.

    Returns
    -------
    float or None
        None when attrition is high whatever the differential (cautious above
        57 %, optimistic above 65 %).

    Notes
    -----
    Table II.1 of the WWC Standards Handbook v4.1 [1]_, indexed by
    :math:`\mathrm{round}(\text{overall})` with R's half-to-even rounding (as
    R ``baselinr`` does). That v5.0 keeps the table is still to be confirmed.

    References
    ----------
    .. [1] What Works Clearinghouse (2020). Standards Handbook, Version 4.1,
           Table II.1.

    Examples
    --------
    >>> attrition_boundary(30), attrition_boundary(30, boundary="optimistic")
    (4.1, 8.2)
    """
    table = _attrition_table(boundary)
    try:
        value = float(overall)
    except (TypeError, ValueError) as err:
        raise InputDataError(f"overall attrition must be a number, found {overall!r}", column="overall",
                             value=overall) from err
    if not (0 <= value <= 100):
        raise InputDataError(f"overall attrition must be a percentage in [0, 100], found {value!r}",
                             column="overall", value=value, fix="Pass percent (30 for 30 %), not a fraction")
    idx = _round_half_even_percent(value)
    return table[idx] if idx < len(table) else None


def _attrition_table(boundary: str):
    check_argument("boundary", boundary, _ATTRITION_TABLES, key="boundary")
    return _ATTRITION_TABLES[boundary]


def attrition(n_t_assigned: int, n_c_assigned: int, n_t_analytic: int, n_c_analytic: int, *,
              boundary: str = "cautious") -> dict[str, Any]:
    r"""WWC overall and differential attrition and the low/high rating.

    Parameters
    ----------
    n_t_assigned, n_c_assigned : int
        Students assigned (or enrolled at the start) per condition.
    n_t_analytic, n_c_analytic : int
        Students with an outcome in the analysis.
    boundary : {"cautious", "optimistic"}, default "cautious"

    Returns
    -------
    dict
        ``overall`` and ``differential`` (percent / percentage points),
        ``attrition_t``, ``attrition_c`` (percent), ``boundary`` (name),
        ``limit`` (pp, None when always high) and ``rating`` (``"low"`` or
        ``"high"``).

    Notes
    -----
    .. math::

        \text{overall} = 100\left(1 - \frac{n_{T,a} + n_{C,a}}{n_{T,0} + n_{C,0}}\right),\qquad
        \text{differential} = 100\,\left|\left(1 - \frac{n_{T,a}}{n_{T,0}}\right)
        - \left(1 - \frac{n_{C,a}}{n_{C,0}}\right)\right|

    where subscript 0 is assigned and a analytic. Low attrition when
    differential :math:`\le` :func:`attrition_boundary` (overall), compared
    with a 1e-8 tolerance [1]_. Checked against the worked example of
    ``docs/methods.md#attrition`` (30 % overall, 6 pp: high cautious, low optimistic).

    References
    ----------
    .. [1] What Works Clearinghouse (2020). Standards Handbook, Version 4.1,
           ch. II.

    Examples
    --------
    >>> attrition(100, 100, 73, 67)["rating"]
    'high'
    >>> attrition(100, 100, 73, 67, boundary="optimistic")["rating"]
    'low'
    """
    _attrition_table(boundary)
    vals = {}
    for name, v in (("n_t_assigned", n_t_assigned), ("n_c_assigned", n_c_assigned),
                    ("n_t_analytic", n_t_analytic), ("n_c_analytic", n_c_analytic)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise InputDataError(f"`{name}` must be a non-negative whole number, found {v!r}", column=name, value=v)
        vals[name] = int(v)
    if vals["n_t_assigned"] == 0 or vals["n_c_assigned"] == 0:
        raise InputDataError("each condition needs at least one assigned student", column="n_t_assigned")
    if vals["n_t_analytic"] > vals["n_t_assigned"] or vals["n_c_analytic"] > vals["n_c_assigned"]:
        raise InputDataError("more analysed than assigned students", column="n_t_analytic",
                             fix="Analytic counts must be subsets of the assigned counts")
    attr_t = 100 * (1 - vals["n_t_analytic"] / vals["n_t_assigned"])
    attr_c = 100 * (1 - vals["n_c_analytic"] / vals["n_c_assigned"])
    overall = 100 * (1 - (vals["n_t_analytic"] + vals["n_c_analytic"])
                     / (vals["n_t_assigned"] + vals["n_c_assigned"]))
    differential = abs(attr_t - attr_c)
    limit = attrition_boundary(overall, boundary=boundary)
    rating = "low" if limit is not None and differential <= limit + _ATTRITION_TOL else "high"
    return {"overall": overall, "differential": differential, "attrition_t": attr_t, "attrition_c": attr_c,
            "boundary": boundary, "limit": limit, "rating": rating}


# --------------------------------------------------------------------------- survey psychometrics
def _matrix(data: Any, name: str) -> np.ndarray:
    values = data.to_numpy() if hasattr(data, "to_numpy") else data
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputDataError(f"`{name}` must hold numeric item scores", column=name,
                             fix="Recode answers to numbers (non-scored answers as NaN)") from err
    if arr.ndim != 2:
        raise InputDataError(f"`{name}` must be 2-D (rows = respondents, columns = items), got {arr.ndim}-D",
                             column=name)
    return arr


def cronbach_alpha(items_frame: Any) -> float:
    r"""Cronbach's alpha for a set of items.

    Parameters
    ----------
    items_frame : DataFrame or 2-D array_like
        Rows = respondents, columns = items, numeric scores (reverse-coded
        already). Rows with any missing item are dropped (listwise deletion).

    Returns
    -------
    float
        NaN (with a warning) when the total score has no variance.

    Raises
    ------
    InputDataError
        Fewer than 2 items or fewer than 2 complete rows.

    Notes
    -----
    .. math::

        \alpha = \frac{k}{k-1}\left(1 - \frac{\sum_{i=1}^k s^2_i}{s^2_X}\right)

    where :math:`k` is the number of items, :math:`s^2_i` the variance of item
    :math:`i` and :math:`s^2_X` the variance of the total score (both
    ``ddof=1``) [1]_. Alpha can be negative and is at most 1. Report it pooled
    across partnerships, not per partnership (``docs/methods.md#reliability-and-agreement``). Checked
    against ``pingouin.cronbach_alpha`` (R ``psych::alpha(use="complete.obs")``)
    on 250 random item sets, and the ``docs/methods.md#test-vectors`` vector (0.9300).

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure
           of tests. Psychometrika, 16(3), 297-334.

    Examples
    --------
    >>> round(cronbach_alpha([[4, 5, 4, 4], [3, 3, 2, 3], [5, 5, 4, 5], [2, 3, 3, 2], [4, 4, 5, 4]]), 4)
    0.93
    >>> # R: psych::alpha(x)$total$raw_alpha
    """
    x = _matrix(items_frame, "items_frame")
    x = x[~np.isnan(x).any(axis=1)]
    k = x.shape[1]
    if k < 2:
        raise InputDataError(f"Cronbach's alpha needs at least 2 items, found {k}", column="items_frame", value=k)
    if x.shape[0] < 2:
        raise InputDataError(f"Cronbach's alpha needs at least 2 complete respondents, found {x.shape[0]}",
                             column="items_frame", value=int(x.shape[0]))
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var == 0:
        warnings.warn("total score has no variance: Cronbach's alpha is undefined", PartnerAnalysisWarning,
                      stacklevel=2)
        return math.nan
    return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var))


def _null_variance(n_options: int) -> float:
    if not isinstance(n_options, (int, np.integer)) or n_options < 2:
        raise ConfigError(f"`n_options` must be a whole number >= 2, but {n_options!r} was passed",
                          key="n_options", value=n_options, fix="Pass the number of response options, e.g. 5")
    return (n_options ** 2 - 1) / 12.0


def rwg(values: Any, n_options: int) -> float:
    r"""Within-group agreement :math:`r_{wg}` for one item (uniform null).

    Parameters
    ----------
    values : array_like
        One item's answers from the raters of one side (NaN dropped).
    n_options : int
        Number of response options :math:`A` (5 for a 1-5 scale).

    Returns
    -------
    float
        In [0, 1]; NaN with fewer than 2 answers.

    Notes
    -----
    .. math::

        \sigma^2_{EU} = \frac{A^2 - 1}{12},\qquad
        r_{wg} = 1 - \frac{s^2}{\sigma^2_{EU}}

    where :math:`s^2` is the observed variance (``ddof=1``) and
    :math:`\sigma^2_{EU}` the variance of a uniform (random) response on
    :math:`A` options [1]_. Truncated to 0 when :math:`s^2 > \sigma^2_{EU}`
    (LeBreton & Senter [2]_). Checked against the ``docs/methods.md#test-vectors`` vector
    (item rwg 0.875).

    References
    ----------
    .. [1] James, L. R., Demaree, R. G., & Wolf, G. (1984). Estimating
           within-group interrater reliability with and without response bias.
           Journal of Applied Psychology, 69(1), 85-98.
    .. [2] LeBreton, J. M., & Senter, J. L. (2008). Answers to 20 questions
           about interrater reliability and interrater agreement.
           Organizational Research Methods, 11(4), 815-852.

    Examples
    --------
    >>> rwg([4, 4, 5, 4], 5)
    0.875
    """
    null = _null_variance(n_options)
    v = _sample(values, "values")
    if v.size < 2:
        return math.nan
    return float(max(0.0, 1 - v.var(ddof=1) / null))


def rwg_j(items_frame: Any, n_options: int) -> float:
    r"""Multi-item within-group agreement :math:`r_{wg(J)}` (uniform null).

    Parameters
    ----------
    items_frame : DataFrame or 2-D array_like
        Rows = raters of one side, columns = the :math:`J` items of a scale.
        Each item's variance uses its non-missing answers.
    n_options : int
        Number of response options :math:`A`.

    Returns
    -------
    float
        In [0, 1]; NaN when no item has 2 answers.

    Notes
    -----
    .. math::

        r_{wg(J)} = \frac{J\left(1 - \bar s^2/\sigma^2_{EU}\right)}
        {J\left(1 - \bar s^2/\sigma^2_{EU}\right) + \bar s^2/\sigma^2_{EU}}

    where :math:`\bar s^2` is the mean of the item variances (``ddof=1``) and
    :math:`\sigma^2_{EU} = (A^2 - 1)/12` [1]_. Set to 0 when
    :math:`\bar s^2 > \sigma^2_{EU}` (LeBreton & Senter [2]_), where the
    formula leaves [0, 1]. Checked against the ``docs/methods.md#test-vectors`` vector (0.9545)
    and a direct formula on random data.

    References
    ----------
    .. [1] James, L. R., Demaree, R. G., & Wolf, G. (1984). Journal of Applied
           Psychology, 69(1), 85-98.
    .. [2] LeBreton, J. M., & Senter, J. L. (2008). Organizational Research
           Methods, 11(4), 815-852.

    Examples
    --------
    >>> round(rwg_j([[4, 4, 5], [4, 3, 4], [5, 4, 4], [4, 4, 4]], 5), 4)
    0.9545
    """
    null = _null_variance(n_options)
    x = _matrix(items_frame, "items_frame")
    variances = []
    for j in range(x.shape[1]):
        col = x[:, j][~np.isnan(x[:, j])]
        if col.size >= 2:
            variances.append(col.var(ddof=1))
    if not variances:
        return math.nan
    ratio = float(np.mean(variances)) / null
    if ratio >= 1:
        return 0.0
    jj = len(variances)
    return float(jj * (1 - ratio) / (jj * (1 - ratio) + ratio))


_KAPPA_WEIGHTS = ("quadratic", "linear", None)


def weighted_kappa(a: Any, b: Any, *, labels: Sequence[Any], weights: str | None = "quadratic") -> float:
    r"""Cohen's (weighted) kappa between two raters on an ordinal scale.

    Parameters
    ----------
    a, b : array_like
        Paired ratings (e.g. district and partner answers to the same items).
        Pairs with a missing value are dropped.
    labels : sequence
        The full ordered scale, e.g. ``[1, 2, 3, 4, 5]``. Required: without it
        distances would be positions among the *observed* labels only, which
        changes the result (0.6429 instead of 0.8611 in the test vector).
    weights : {"quadratic", "linear", None}, default "quadratic"
        None gives unweighted kappa.

    Returns
    -------
    float
        NaN (with a warning) when the expected disagreement is 0 (both raters
        used a single identical category).

    Raises
    ------
    InputDataError
        Unequal lengths, no complete pairs, or a rating not in ``labels``.
    ConfigError
        Unknown ``weights`` or repeated labels.

    Notes
    -----
    .. math::

        \kappa_w = 1 - \frac{\sum_{ij} w_{ij} O_{ij}}{\sum_{ij} w_{ij} E_{ij}},\qquad
        w_{ij} = (i-j)^2 \text{ (quadratic)},\ |i-j| \text{ (linear)},\
        [i \ne j] \text{ (unweighted)}

    where :math:`O_{ij}` is the observed proportion of pairs rated
    :math:`(i, j)`, :math:`E_{ij} = O_{i\cdot}O_{\cdot j}` the proportion
    expected from the marginals and :math:`i, j` positions in ``labels`` [1]_
    [2]_. Checked against ``sklearn.metrics.cohen_kappa_score(labels=...)`` on
    250 random pairs and the ``docs/methods.md#test-vectors`` vectors (0.7126 / 0.5098 / 0.2958;
    0.8611).

    References
    ----------
    .. [1] Cohen, J. (1968). Weighted kappa: nominal scale agreement with
           provision for scaled disagreement or partial credit. Psychological
           Bulletin, 70(4), 213-220.
    .. [2] Fleiss, J. L., & Cohen, J. (1973). The equivalence of weighted kappa
           and the intraclass correlation coefficient as measures of
           reliability. Educational and Psychological Measurement, 33, 613-619.

    Examples
    --------
    >>> d = [4, 4, 3, 5, 2, 4, 3, 4, 5, 3]
    >>> p = [3, 4, 3, 4, 2, 5, 2, 4, 4, 3]
    >>> round(weighted_kappa(d, p, labels=[1, 2, 3, 4, 5]), 4)
    0.7126
    >>> # R: irr::kappa2(cbind(d, p), weight="squared")
    """
    check_argument("weights", weights, _KAPPA_WEIGHTS, key="weights")
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ConfigError("`labels` must list at least 2 distinct categories in scale order", key="labels",
                          value=labels)
    a_list, b_list = list(np.asarray(a, dtype=object).ravel()), list(np.asarray(b, dtype=object).ravel())
    if len(a_list) != len(b_list):
        raise InputDataError(f"the two raters have different numbers of ratings ({len(a_list)} vs {len(b_list)})",
                             column="b", fix="Pass paired ratings of the same items")
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    counts = np.zeros((k, k))
    for pos, (u, v) in enumerate(zip(a_list, b_list)):
        if _missing(u) or _missing(v):
            continue
        for val, col in ((u, "a"), (v, "b")):
            if _key(val, index) is None:
                raise InputDataError(f"rating {val!r} is not one of the labels {labels}", column=col, row=pos,
                                     value=val, fix="Add it to `labels` or recode the rating")
        counts[_key(u, index), _key(v, index)] += 1
    total = counts.sum()
    if total == 0:
        raise InputDataError("no complete pairs of ratings", column="a", fix="Pass at least one pair")
    observed = counts / total
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    if weights == "quadratic":
        w = (i - j) ** 2
    elif weights == "linear":
        w = np.abs(i - j)
    else:
        w = (i != j).astype(float)
    denom = float((w * expected).sum())
    if denom == 0:
        warnings.warn("kappa is undefined: both raters used one identical category", PartnerAnalysisWarning,
                      stacklevel=2)
        return math.nan
    return float(1 - (w * observed).sum() / denom)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False


def _key(value: Any, index: dict) -> int | None:
    if value in index:
        return index[value]
    # 4.0 from a float column should match the label 4
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and int(value) in index:
        return index[int(value)]
    return None
