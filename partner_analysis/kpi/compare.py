r"""Participants vs. a comparison group, per partner (and programme) × term × KPI.

:func:`compare_partners` is the KPI comparison table of ``docs/methods.md#comparison-table``. It
works on group aggregates (n, Σx, Σx²) taken from the KPI panel, and hands them
to the pure functions of :mod:`partner_analysis.stats`.

Definitions
-----------
Participant
    A student participates with a partner (programme) in a term when one of
    their ``participation`` rows for that partner's programmes overlaps the
    term: ``start_date <= term.end`` and (``end_date`` missing or
    ``end_date >= term.start``).
Comparison group
    ``comparison="same_school_grade"`` (default): students who did not
    participate with *that partner* in the term, enrolled in the schools and
    grade levels (``students.school_id`` × ``grade_level``) in which the
    partner's participants are. ``"all_nonparticipants"``: every other student.
All
    Participants and comparison students together (``n_all``, ``mean_all``),
    the third member of the triplet used by complementary suppression.
Baseline
    The same KPI in the same-position term of the previous school year, for
    the same participants and comparison students (a quarter-to-quarter
    baseline keeps seasonality out of it). Its effect size gives the WWC
    baseline-equivalence verdict (docs/methods.md#baseline-equivalence); ``wording`` is
    ``"effect"`` only when the verdict is ``"satisfied"``, else
    ``"association"`` (programmes are self-selected).
Trends
    ``prev_term_mean_t`` and ``last_year_mean_t`` are participants' means in
    the previous term and in the same term last year, participants being those
    *of that term* (so they equal ``mean_t`` of that term's row of this table).
    They are withheld (NaN) when that term's participant group is below the
    privacy floor.
Sample status
    Below ``min_group_n`` (default 10) in either group: ``"suppressed"``;
    below ``inference_min_n`` (default 20): ``"descriptive_only"`` (no effect
    size, no test, "insufficient sample to assess"); otherwise ``"tested"``.

Statistics
----------
Continuous KPIs: Hedges' *g* with the WWC small-sample factor
:math:`\omega = 1 - 3/(4N - 9)` and its normal-theory CI; Welch's *t* test;
participant and comparison means with *t*-based 95 % CIs,
:math:`\bar y \pm t_{n-1,\,0.975}\, s/\sqrt n`.
Binary KPIs: the Cox index
:math:`d_{Cox} = [\operatorname{logit} p_T - \operatorname{logit} p_C]/1.65`
(no small-sample factor unless ``cox_small_sample=True``) with CI
:math:`d_{Cox} \pm 1.96\, SE`, :math:`SE = \sqrt{1/x_T + 1/(n_T-x_T) +
1/x_C + 1/(n_C-x_C)}/1.65`; Wilson 95 % CIs for the proportions; the
two-proportion *z* test, or Fisher's exact test when an expected count is
below 5. The improvement index is :math:`100\,\Phi(ES) - 50`.

Designs (issue #11)
-------------------
``design="raw"`` is the above. ``"adjusted"`` and ``"matched"`` replace
``effect_size``, its CI, ``p_val``, ``baseline_es`` and ``baseline_verdict``
by the regression (matched-sample) results of
:mod:`partner_analysis.kpi.designs` (read its docstring for every definition);
``estimate``/``se`` are the (adjusted) difference and its cluster-robust SE.
The default design is ``district.yml`` ``design``, else ``adjusted`` when the
term has a prior-year term, else ``raw``. ``mde`` is the minimum detectable
effect (SD units) and ``evidence_label`` the plain-words label of
:func:`partner_analysis.estimate.evidence_label`. ``wording`` is
``"association"`` for ``raw`` and ``adjusted`` (never causal words), and
``"effect"`` only for a ``matched`` baseline-equivalent comparison.
``robustness=True`` adds ``es_raw``/``p_raw``, ``es_adjusted``/``p_adjusted``,
``es_matched``/``p_matched`` and ``robustness_flag`` (the designs differ in
sign of the estimate, or in significance of the unadjusted *p* at ``alpha``).

Benjamini–Hochberg family
-------------------------
One family per partner report: every KPI of the panel × the partner as a whole
and each of its programmes, for the term, design and comparison of the call
(subgroup ``"all"`` rows). Rows of a subgroup variable form a family of their
own per partner (every KPI × programme × value of that variable), so asking for
a subgroup never changes the headline ``p_adj``. The family is always computed
in full, whatever ``kpis``, ``partners`` or ``by_program`` ask to see, so
``partner-analysis kpis``, the explorer and the report bundle give the same
``p_adj`` (a ``school=`` restriction is its own family).

References
----------
.. [1] What Works Clearinghouse (2022). Procedures and Standards Handbook,
       Version 5.0. IES/NCEE.
.. [2] Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery
       rate. JRSS B 57(1), 289-300.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import estimate as est
from ..exceptions import ConfigError, InputDataError, PartnerAnalysisWarning, check_argument
from . import designs as dsg
from .catalog import Catalog
from .panel import PanelArrays, compute_kpis

__all__ = ["compare_partners", "run_comparison", "suppress_table", "Comparison", "compare_terms",
           "participation_matrix",
           "COMPARISONS", "COLUMNS", "ROBUSTNESS_COLUMNS"]

COMPARISONS = ("same_school_grade", "all_nonparticipants")

COLUMNS = ["partner_id", "program_id", "term", "kpi_id", "kpi_label", "kind", "unit", "higher_is_better",
           "subgroup", "subgroup_value", "n_t", "n_c", "n_all", "mean_t", "mean_c", "mean_all", "sd_t", "sd_c",
           "difference", "ci_low_t", "ci_high_t", "ci_low_c", "ci_high_c", "effect_size", "es_method",
           "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj", "test", "baseline_es",
           "baseline_verdict", "wording", "sample_status", "prev_term_mean_t", "change_prev_term",
           "last_year_mean_t", "change_last_year", "suppressed", "marker", "suppression_reason",
           "design", "n_t_analytic", "n_c_analytic", "estimate", "se", "mde", "evidence_label", "balance_max_smd",
           "n_schools", "n_unmatched", "dropped_columns", "design_status", "design_warnings"]
_DESIGN_ONLY = ("design", "n_t_analytic", "n_c_analytic", "estimate", "se", "mde", "evidence_label",
                "balance_max_smd", "n_schools", "n_unmatched", "dropped_columns", "design_status", "design_warnings")
#: Added by ``robustness=True``.
ROBUSTNESS_COLUMNS = ["es_raw", "p_raw", "es_adjusted", "p_adjusted", "es_matched", "p_matched",
                      "robustness_flag"]
#: Design columns that are contrasts: hidden with the contrast by suppression, removed below the inference floor.
_DESIGN_CONTRAST = ("estimate", "se", "mde", "balance_max_smd", "es_raw", "p_raw", "es_adjusted", "p_adjusted",
                    "es_matched", "p_matched")


# -- participation -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Unit:
    partner_id: str
    program_id: str  # "all" for the partner as a whole


def participation_matrix(dataset, arrays: PanelArrays, *, partners: Sequence[str] | None = None,
                         by_program: bool = False) -> dict[_Unit, np.ndarray]:
    """Boolean (students, terms) participation per partner (and programme when ``by_program``)."""
    part = dataset.get("participation")
    programs = dataset.get("programs")
    if part is None or programs is None:
        raise InputDataError("the dataset has no participation/programs tables", path=getattr(dataset, "path", None),
                             fix="Import participation.parquet and programs.parquet")
    prog_partner = dict(zip(programs["program_id"].astype(str), programs["partner_id"].astype(str)))
    known = sorted(set(prog_partner.values()))
    if "partners" in dataset:
        known = sorted(set(known) | set(dataset["partners"]["partner_id"].astype(str)))
    if partners is not None:
        partners = [partners] if isinstance(partners, str) else [str(p) for p in partners]
        missing = [p for p in partners if p not in known]
        if missing:
            raise ConfigError(f"unknown partner(s) {missing}", key="partner", fix=f"Use one of {known}")
    else:
        partners = known
    config = dataset.config
    terms = [config.term(t) for t in arrays.term_ids]
    starts = np.array([np.datetime64(t.start, "D") for t in terms])
    ends = np.array([np.datetime64(t.end, "D") for t in terms])
    sid = _positions(part["student_id"], arrays.student_ids)
    prog_codes, prog_names = pd.factorize(part["program_id"].astype(str))  # a few programmes, many rows
    prog_names = [str(p) for p in prog_names]
    p_start = pd.to_datetime(part["start_date"]).to_numpy().astype("datetime64[D]")
    end_raw = pd.to_datetime(part["end_date"]) if "end_date" in part.columns else pd.Series(pd.NaT, index=part.index)
    p_end = end_raw.to_numpy().astype("datetime64[D]")
    open_end = np.isnat(p_end)
    # (rows, terms) overlap of [start, end] with each term
    overlap = (p_start[:, None] <= ends[None, :]) & (open_end[:, None] | (p_end[:, None] >= starts[None, :]))
    overlap &= (sid >= 0)[:, None]
    # each row's partner, as a position in ``partners`` (-1: none of them); code -1 (no programme) takes the last
    slot: dict[str, int] = {}
    for i, pid in enumerate(partners):
        slot.setdefault(pid, i)
    partner_of_row = np.array([slot.get(prog_partner.get(p, ""), -1) for p in prog_names] + [-1])[prog_codes]
    S, T = len(arrays.student_ids), len(terms)
    out: dict[_Unit, np.ndarray] = {}
    for pid in partners:
        rows = partner_of_row == slot[pid]
        out[_Unit(pid, "all")] = _scatter(sid[rows], overlap[rows], S, T)
        if by_program:
            for prg in sorted({p for p, q in prog_partner.items() if q == pid}):
                r = rows & (prog_codes == (prog_names.index(prg) if prg in prog_names else -2))
                out[_Unit(pid, prg)] = _scatter(sid[r], overlap[r], S, T)
    return out


def _positions(ids: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions in ``index`` of each id (-1: not there), one hash lookup per distinct id."""
    codes, uniques = pd.factorize(ids.astype(str), use_na_sentinel=True)
    mapped = index.get_indexer(pd.Index(np.asarray(uniques, dtype=object)))
    return np.where(codes >= 0, mapped[np.clip(codes, 0, None)], -1) if len(mapped) else np.full(len(codes), -1)


def _scatter(sid: np.ndarray, overlap: np.ndarray, S: int, T: int) -> np.ndarray:
    m = np.zeros((S, T), dtype=bool)
    r, t = np.nonzero(overlap)
    m[sid[r], t] = True
    return m


# -- group aggregates ------------------------------------------------------------------------------

def _matrix(arrays: PanelArrays, kpis, term_index: int) -> np.ndarray:
    """(students, KPIs) values of one term."""
    return np.column_stack([arrays.values[k.id][:, term_index] for k in kpis]) if kpis else \
        np.empty((len(arrays.student_ids), 0))


class _Sums:
    """n, Σx and Σx² of the non-missing values of one (students, KPIs) matrix, for sets of students by group.

    The matrix's missing-value mask, zero-filled values and squares are made
    once and shared by every participant and comparison group of every
    partner. A comparison group (the other students of the participants'
    school × grade cells, or all other students) is summed as the totals of
    its cells, made once per grouping, less the participants' own sums: at a
    million students, summing each partner's comparison students anew was
    most of the comparisons' time.
    """

    def __init__(self, X: np.ndarray, cells: np.ndarray):
        X = np.asfortranarray(X)  # column by column below: each KPI's values contiguous
        valid = ~np.isnan(X)
        z = X.copy(order="F")
        z[~valid] = 0.0
        self.columns = (valid.astype(float, order="F"), z, np.multiply(z, z, order="F"))
        self.cells = cells
        self.n_cells = int(cells.max()) + 1 if len(cells) else 0
        self._totals: dict[int, tuple] = {}

    def __call__(self, members: np.ndarray, groups: np.ndarray, G: int):
        """(n, Σx, Σx²), each of shape (groups, KPIs), over the ``members`` (bool per student)."""
        rows = np.flatnonzero(members)
        g = groups[rows]
        return tuple(_group_sums(g, c[rows], G) for c in self.columns)

    def others(self, members: np.ndarray, in_cells: np.ndarray, groups: np.ndarray, G: int):
        """The sums over the students of the cells ``in_cells`` (bool per cell) who are not ``members``.

        Every member must be in one of those cells.
        """
        totals = self._cell_totals(groups, G)
        mine = self(members, groups, G)
        return tuple(t[in_cells].sum(axis=0) - m for t, m in zip(totals, mine))

    def _cell_totals(self, groups: np.ndarray, G: int):
        """(cells, groups, KPIs) sums of each column, once per grouping."""
        got = self._totals.get(id(groups))
        if got is None or got[0] is not groups:
            key = self.cells.astype(np.int64) * G + groups
            size = self.n_cells * G
            got = (groups, tuple(_group_sums(key, c, size).reshape(self.n_cells, G, -1) for c in self.columns))
            self._totals[id(groups)] = got
        return got[1]


def _group_sums(g: np.ndarray, w: np.ndarray, G: int) -> np.ndarray:
    """(G, columns) sums of ``w``'s rows by group: one bincount per column, in row order (np.add.at, also in row
    order, is unbuffered and an order of magnitude slower)."""
    if not w.shape[1]:
        return np.zeros((G, 0))
    return np.column_stack([np.bincount(g, weights=w[:, j], minlength=G) for j in range(w.shape[1])])


def _mean_sd(n, s1, s2):
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / n, np.nan)
        var = np.where(n > 1, np.clip(s2 - n * mean * mean, 0, None) / (n - 1), np.nan)
    return mean, np.sqrt(var)


def _subgroup_codes(dataset, arrays: PanelArrays, subgroup: str | None):
    if subgroup is None:
        return np.zeros(len(arrays.student_ids), dtype=np.int64), ["all"]
    students = dataset["students"]
    if subgroup not in students.columns:
        raise ConfigError(f"subgroup column {subgroup!r} is not in students", key="subgroup",
                          fix=f"Use one of {[c for c in students.columns if c != 'student_id']}")
    s = students.set_index(students["student_id"].astype(str))[subgroup].reindex(arrays.student_ids)
    labels = s.astype("string").fillna("unknown")
    codes, uniques = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _cells(dataset, arrays: PanelArrays) -> np.ndarray:
    students = dataset["students"].set_index(dataset["students"]["student_id"].astype(str)).reindex(arrays.student_ids)
    key = students["school_id"].astype("string").fillna("?") + "|" + students["grade_level"].astype("string").fillna("?")
    codes, _ = pd.factorize(key)
    return codes


# -- statistics on aggregates ----------------------------------------------------------------------

def _stats():
    from .. import stats
    return stats


def _vectorised(fn, *args, **kwargs):
    """Call a stats function on arrays; fall back to one call per element if it only takes scalars."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PartnerAnalysisWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            res = fn(*args, **kwargs)
        return res, True
    except TypeError:  # a scalar-only implementation
        pass
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartnerAnalysisWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for vals in zip(*args):
            out.append(fn(*[float(v) for v in vals], **kwargs))
    return out, False


def _hedges(mean_t, sd_t, n_t, mean_c, sd_c, n_c):
    stats = _stats()
    k = len(n_t)
    est, lo, hi = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    ok = (n_t >= 2) & (n_c >= 2) & np.isfinite(sd_t) & np.isfinite(sd_c) & ((sd_t > 0) | (sd_c > 0))
    if ok.any():
        res, vec = _vectorised(stats.hedges_g_from_stats, mean_t[ok], sd_t[ok], n_t[ok], mean_c[ok], sd_c[ok],
                               n_c[ok])
        _fill(ok, res, vec, est, lo, hi)
    return est, lo, hi


def _cox(x_t, n_t, x_c, n_c, *, small_sample: bool):
    stats = _stats()
    k = len(n_t)
    est, lo, hi = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    # 0 % or 100 % in a group leaves the log odds infinite: NaN, without stats' warning per row
    ok = (n_t > 0) & (n_c > 0) & (x_t > 0) & (x_t < n_t) & (x_c > 0) & (x_c < n_c)
    if ok.any():
        res, vec = _vectorised(stats.cox_effect, x_t[ok], n_t[ok], x_c[ok], n_c[ok],
                               small_sample_correction=small_sample)
        _fill(ok, res, vec, est, lo, hi)
    return est, lo, hi


def _fill(ok, res, vectorised: bool, est, lo, hi) -> None:
    """Write an effect result (one result of arrays, or a list of scalar results) into the rows ``ok``."""
    if vectorised:
        est[ok], lo[ok], hi[ok] = (np.asarray(res.estimate, float), np.asarray(res.ci_low, float),
                                   np.asarray(res.ci_high, float))
    else:
        est[ok] = [r.estimate for r in res]
        lo[ok] = [r.ci_low for r in res]
        hi[ok] = [r.ci_high for r in res]


def _mean_ci(mean, sd, n):
    with np.errstate(invalid="ignore", divide="ignore"):
        q = sps.t.ppf(0.975, np.where(n > 1, n - 1, np.nan))
        half = q * sd / np.sqrt(n)
    return mean - half, mean + half


def _wilson(x, n):
    stats = _stats()
    lo, hi = np.full(len(n), np.nan), np.full(len(n), np.nan)
    ok = n > 0
    if ok.any():
        res, vec = _vectorised(stats.wilson_ci, x[ok], n[ok])
        if vec:
            lo[ok], hi[ok] = np.asarray(res[0], float), np.asarray(res[1], float)
        else:
            lo[ok] = [r[0] for r in res]
            hi[ok] = [r[1] for r in res]
    return lo, hi


def _resolve_profile(dataset, profile):
    from .. import privacy
    if profile is None:
        return privacy.PrivacyProfile.from_config(dict(dataset.config.privacy or {}))
    if isinstance(profile, str):
        return privacy.get_profile(profile)
    return profile


def _floors(dataset, profile) -> tuple[int, int]:
    cfg = dict(dataset.config.privacy or {})
    k = getattr(profile, "min_group_n", None) or cfg.get("min_group_n", 10)
    m = getattr(profile, "inference_min_n", None) or cfg.get("inference_min_n", 20)
    return int(k), int(m)


# -- the table ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """What :func:`run_comparison` returns.

    Attributes
    ----------
    table : DataFrame
        The comparison table (as :func:`compare_partners`).
    balance : DataFrame or None
        With ``balance=True``: one row per partner × programme × KPI ×
        subgroup × covariate (level), columns ``partner_id, program_id, term,
        kpi_id, subgroup, subgroup_value, design`` and
        :data:`partner_analysis.kpi.designs.BALANCE_COLUMNS`. Exact values: stays
        in the district.
    frame : DataFrame or None
        With ``frame=True``: the student-level analysis frame (partner-wide
        rows, subgroup ``all``), columns
        :data:`partner_analysis.kpi.designs.FRAME_COLUMNS` plus the covariates.
        **Student-level and private.**
    """

    table: pd.DataFrame
    balance: pd.DataFrame | None = None
    frame: pd.DataFrame | None = None


def compare_partners(dataset, *, term: str, partners: Sequence[str] | str | None = None, by_program: bool = False,
                     subgroup: str | None = None, profile=None, suppress: bool = True,
                     comparison: str = "same_school_grade", kpis: Iterable[str] | None = None,
                     catalog: Catalog | None = None, arrays: PanelArrays | None = None,
                     cox_small_sample: bool = False, alpha: float = 0.05,
                     school: str | None = None, design: str | None = None,
                     covariates: Sequence[str] | None = None, robustness: bool = False) -> pd.DataFrame:
    """Compare participants of each partner with a comparison group on every KPI, for one term.

    Parameters
    ----------
    dataset : Dataset
        Validated district data.
    term : str
        Term id, e.g. ``"2025-26-Q2"``.
    partners : str or list of str, optional
        Partner ids (default: every partner).
    by_program : bool
        Add one row set per programme besides the partner as a whole
        (``program_id="all"``).
    subgroup : str, optional
        A ``students`` column (``frl``, ``ell``, ``swd``, ``gender``, ...):
        add rows per value of it, besides ``subgroup="all"``.
    profile : PrivacyProfile or str, optional
        Disclosure profile; default from ``district.yml`` ``privacy``.
    suppress : bool
        Apply :func:`partner_analysis.privacy.suppress_comparisons` (default).
        ``False`` is for analysts inside the district only.
    comparison : {"same_school_grade", "all_nonparticipants"}
        Who the participants are compared with (module docstring).
    kpis : list of str, optional
        KPI ids to show (default: the whole catalog). The BH family always
        holds every KPI of the panel.
    catalog : Catalog, optional
        Default: ``DATA_DIR/kpis.yml`` when present, else the shipped catalog.
    arrays : PanelArrays, optional
        A panel from :func:`partner_analysis.kpi.panel.compute_kpis`, to reuse
        across calls (the notebook compares several terms).
    cox_small_sample : bool
        Apply the WWC ω factor to the Cox index (default False, docs/methods.md#cox-index).
    alpha : float
        FDR level of the Benjamini–Hochberg adjustment.
    school : str, optional
        Only students of this school (``students.school_id``), participants
        and comparison alike.
    design : {"raw", "adjusted", "matched"}, optional
        Default: ``district.yml`` ``design``, else ``adjusted`` when the term
        has a prior-year term, else ``raw`` (module docstring).
    covariates : list of str, optional
        For ``adjusted``/``matched``: ``prior`` and ``students`` columns.
        Default: ``district.yml`` ``covariates``, else
        :data:`partner_analysis.kpi.designs.DEFAULT_COVARIATES` (those present).
    robustness : bool
        Also fit the other designs and add :data:`ROBUSTNESS_COLUMNS`.

    Returns
    -------
    DataFrame
        One row per partner_id × program_id × term × kpi_id × subgroup ×
        subgroup_value with the columns of :data:`COLUMNS` (see docs/methods.md#comparison-table
        and the module docstring), plus ``prev_term_n_t`` and
        ``last_year_n_t`` (and :data:`ROBUSTNESS_COLUMNS` on request).

    Raises
    ------
    ConfigError
        Unknown term, partner, KPI, subgroup column, comparison, design or covariate.
    InputDataError
        The dataset lacks students, participation or programmes.

    Examples
    --------
    >>> from partner_analysis.kpi.compare import compare_partners
    >>> from partner_analysis.kpi.panel import read_dataset_for_kpis
    >>> ds = read_dataset_for_kpis("demo_district")  # doctest: +SKIP
    >>> table = compare_partners(ds, term="2025-26-Q2", by_program=True, design="adjusted")  # doctest: +SKIP
    >>> table[["partner_id", "kpi_id", "n_t", "n_c", "effect_size", "p_adj", "mde", "evidence_label"]]  # doctest: +SKIP

    The UCI Student Performance golden vectors of ``docs/methods.md#test-vectors``
    (``schoolsup`` as the programme, G3 as the outcome) are reproduced by
    ``tests/test_kpi_compare.py`` through ``examples/uci/uci_map.yml``.
    """
    return run_comparison(dataset, term=term, partners=partners, by_program=by_program, subgroup=subgroup,
                          profile=profile, suppress=suppress, comparison=comparison, kpis=kpis, catalog=catalog,
                          arrays=arrays, cox_small_sample=cox_small_sample, alpha=alpha, school=school,
                          design=design, covariates=covariates, robustness=robustness).table


def resolve_design(config, arrays: PanelArrays, term: str, design: str | None = None) -> str:
    """The design of a call: the argument, else ``district.yml`` ``design``, else ``adjusted`` with a prior term."""
    if design is None:
        design = getattr(config, "design", None)
    if design is None:
        design = "adjusted" if arrays.prior_term[arrays.term_index(term)] >= 0 else "raw"
    check_argument("design", design, dsg.DESIGNS)
    return design


def _resolve_covariates(config, students: pd.DataFrame, covariates) -> tuple[bool, list[str]]:
    """(use the prior, background columns). Explicit lists must exist; the default list keeps what exists."""
    explicit = covariates is not None or bool(getattr(config, "covariates", ()))
    names = list(covariates) if covariates is not None else list(getattr(config, "covariates", ()) or
                                                                 dsg.DEFAULT_COVARIATES)
    if isinstance(covariates, str):
        names = [c.strip() for c in covariates.split(",") if c.strip()]
    use_prior = "prior" in names
    background = [c for c in names if c != "prior"]
    missing = [c for c in background if c not in students.columns]
    if missing and explicit:
        raise ConfigError(f"covariate(s) {missing} are not columns of the students table", key="covariates",
                          fix=f"Use prior and some of {[c for c in students.columns if c != 'student_id']}")
    return use_prior, [c for c in background if c in students.columns]


def run_comparison(dataset, *, term: str, partners: Sequence[str] | str | None = None, by_program: bool = False,
                   subgroup: str | None = None, profile=None, suppress: bool = True,
                   comparison: str = "same_school_grade", kpis: Iterable[str] | None = None,
                   catalog: Catalog | None = None, arrays: PanelArrays | None = None,
                   cox_small_sample: bool = False, alpha: float = 0.05, school: str | None = None,
                   design: str | None = None, covariates: Sequence[str] | None = None, robustness: bool = False,
                   balance: bool = False, frame: bool = False, subgroup_only: bool = False) -> Comparison:
    """:func:`compare_partners` with the balance table and the analysis frame on request.

    Parameters are those of :func:`compare_partners`, plus ``balance`` and
    ``frame`` (see :class:`Comparison`), and ``subgroup_only``: only the rows of
    the ``subgroup`` values, without the ``subgroup="all"`` rows (which a call
    without ``subgroup`` gives). Every row is the same as in the full call
    (a subgroup variable is a BH family of its own), before suppression, which
    needs both: pass ``suppress=False`` and apply :func:`suppress_table` to the
    rows stacked in the full call's order (unit by unit, its ``all`` rows
    first). The outcome explorer uses it to reuse the ``all`` rows it holds.
    """
    if subgroup_only and (subgroup is None or suppress):
        raise ConfigError("subgroup_only needs a subgroup and suppress=False", key="subgroup",
                          fix="Name a subgroup column and suppress the stacked table with suppress_table")
    check_argument("comparison", comparison, COMPARISONS)
    dataset.config.term(term)
    arrays = arrays if arrays is not None else compute_kpis(dataset, catalog=catalog)
    design = resolve_design(dataset.config, arrays, term, design)
    wanted = list(kpis) if kpis is not None and not isinstance(kpis, str) else ([kpis] if kpis else None)
    cat_all = arrays.catalog.select([k for k in arrays.catalog.ids if k in arrays.values])
    if wanted is not None:
        unknown = [k for k in wanted if k not in arrays.values]
        if unknown:
            raise ConfigError(f"KPI(s) {unknown} are not in the panel", key="kpis",
                              fix=f"Use some of {list(cat_all.ids)}")
    prof = _resolve_profile(dataset, profile) if (suppress or profile is not None) else None
    k_floor, inf_floor = _floors(dataset, prof)
    # the whole BH family is always computed: every partner asked for, all its programmes, every KPI
    units = participation_matrix(dataset, arrays, partners=partners, by_program=True)
    t = arrays.term_index(term)
    prior = arrays.prior_term[t]
    prev = arrays.prev_term[t]
    cells = _cells(dataset, arrays)
    sub_codes, sub_labels = _subgroup_codes(dataset, arrays, subgroup)
    S = len(arrays.student_ids)
    everyone = np.zeros(S, dtype=np.int64)
    in_school = None
    if school is not None:
        st = dataset["students"]
        school_of = st.set_index(st["student_id"].astype(str))["school_id"].astype(str).reindex(arrays.student_ids)
        if str(school) not in set(school_of):
            raise ConfigError(f"no students in school {school!r}", key="school",
                              fix=f"Use one of {sorted(set(school_of.dropna()))}")
        in_school = (school_of == str(school)).to_numpy()
    kpis_in = list(cat_all)
    sums_now = _Sums(_matrix(arrays, kpis_in, t), cells)
    sums_base = _Sums(_matrix(arrays, kpis_in, prior), cells) if prior >= 0 else None
    trends = {name: (tt, (sums_base if tt == prior else _Sums(_matrix(arrays, kpis_in, tt), cells)) if tt >= 0
                     else None)
              for name, tt in (("prev_term", prev), ("last_year", prior))}
    records = []
    specs = []  # (unit, member mask of the analysis, treated mask, KPI index) per record
    for unit, member in units.items():
        if in_school is not None:
            member = member & in_school[:, None]
        part_now = member[:, t]
        if comparison == "same_school_grade":
            in_cells = np.zeros(sums_now.n_cells, dtype=bool)
            in_cells[cells[part_now]] = True
        else:
            in_cells = np.ones(sums_now.n_cells, dtype=bool)
        comp = in_cells[cells] & ~part_now
        if in_school is not None:
            comp &= in_school
        groupings = [] if subgroup_only else [("all", everyone, ["all"])]
        if subgroup is not None:
            groupings.append((subgroup, sub_codes, sub_labels))
        for sg_name, codes, labels in groupings:
            G = len(labels)
            now_t = sums_now(part_now, codes, G)
            # the comparison students: their cells' totals less the participants (one school: summed directly)
            now_c = sums_now(comp, codes, G) if in_school is not None else sums_now.others(part_now, in_cells, codes, G)
            base_t = sums_base(part_now, codes, G) if sums_base is not None else None
            base_c = None if sums_base is None else (
                sums_base(comp, codes, G) if in_school is not None else sums_base.others(part_now, in_cells, codes, G))
            trend = {name: (sums(member[:, tt], codes, G) if sums is not None else None)
                     for name, (tt, sums) in trends.items()}
            for k, kpi in enumerate(kpis_in):
                for g in range(G):
                    row = {"partner_id": unit.partner_id, "program_id": unit.program_id, "term": term,
                           "kpi_id": kpi.id, "kpi_label": kpi.label, "kind": kpi.kind, "unit": kpi.unit,
                           "higher_is_better": kpi.higher_is_better, "subgroup": sg_name,
                           "subgroup_value": labels[g]}
                    row.update(_n_t=now_t[0][g, k], _s1_t=now_t[1][g, k], _s2_t=now_t[2][g, k],
                               _n_c=now_c[0][g, k], _s1_c=now_c[1][g, k], _s2_c=now_c[2][g, k])
                    if base_t is not None:
                        row.update(_bn_t=base_t[0][g, k], _bs1_t=base_t[1][g, k], _bs2_t=base_t[2][g, k],
                                   _bn_c=base_c[0][g, k], _bs1_c=base_c[1][g, k], _bs2_c=base_c[2][g, k])
                    else:
                        row.update(_bn_t=0.0, _bs1_t=0.0, _bs2_t=0.0, _bn_c=0.0, _bs1_c=0.0, _bs2_c=0.0)
                    for name, sums in trend.items():
                        n_p = sums[0][g, k] if sums is not None else 0.0
                        row[f"{name}_n_t"] = n_p
                        row[f"{name}_mean_t"] = sums[1][g, k] / n_p if n_p > 0 else np.nan
                    records.append(row)
                    specs.append((part_now, comp, codes, g, k))
    raw = pd.DataFrame.from_records(records)
    table = _assemble(raw, k_floor=k_floor, inf_floor=inf_floor, cox_small_sample=cox_small_sample, alpha=alpha)
    table = _raw_design_columns(table)
    ctx = None
    needed = {design} | ({"adjusted", "matched"} if robustness else set())
    needed.discard("raw")
    balance_frames: list[pd.DataFrame] = []
    frame_parts: list[pd.DataFrame] = []
    results: dict[str, list] = {}
    if needed and len(table):
        ctx = _DesignContext.build(dataset, arrays, term, kpis_in, cells, covariates)
        for d in sorted(needed):
            results[d] = [ctx.fit(spec, d, kind=kpis_in[spec[4]].kind, min_n=inf_floor) for spec in specs]
    if design != "raw" and len(table):
        table = _design_columns(table, results[design], design)
    table["design"] = design
    table["evidence_label"] = _evidence(table, design, alpha)
    table["wording"] = np.where((design == "matched") & table["evidence_label"].str.startswith(
        est.EVIDENCE_LABELS[2]), "effect", "association")
    table["p_adj"] = _bh_families(table, alpha)
    if robustness and len(table):
        table = _robustness(table, raw_es=table["_es_raw"], raw_p=table["_p_raw"], results=results, alpha=alpha)
    table = table.drop(columns=[c for c in table.columns if c.startswith("_")])
    # what was asked to be seen
    keep = np.ones(len(table), bool)
    if wanted is not None:
        keep &= table["kpi_id"].isin(wanted).to_numpy()
    if not by_program:
        keep &= (table["program_id"] == "all").to_numpy()
    if balance and results.get(design) is not None:
        balance_frames = [_balance_rows(table.iloc[i], r) for i, r in enumerate(results[design])
                          if keep[i] and r.balance_data is not None]
    if frame and ctx is not None and results.get(design) is not None:
        frame_parts = [ctx.frame_rows(table.iloc[i], specs[i], r) for i, r in enumerate(results[design])
                       if keep[i] and table.iloc[i]["subgroup"] == "all" and r.weights is not None]
    table = table[keep].reset_index(drop=True)
    extra = ROBUSTNESS_COLUMNS if robustness else []
    table = table[COLUMNS + ["prev_term_n_t", "last_year_n_t"] + extra]
    if suppress:
        table = _suppress(table, prof, k_floor)
    bal = (pd.concat(balance_frames, ignore_index=True) if balance_frames else
           pd.DataFrame(columns=_BALANCE_ID + dsg.BALANCE_COLUMNS)) if balance else None
    frm = (pd.concat(frame_parts, ignore_index=True) if frame_parts else pd.DataFrame(columns=dsg.FRAME_COLUMNS)) \
        if frame else None
    return Comparison(table=table, balance=bal, frame=frm)


def _suppress(table: pd.DataFrame, prof, k_floor: int) -> pd.DataFrame:
    from .. import privacy
    table = privacy.suppress_comparisons(table, prof)
    return _hide_design_contrasts(table, k_floor)


def suppress_table(dataset, table: pd.DataFrame, profile=None) -> pd.DataFrame:
    """What ``suppress=True`` does to a table computed with ``suppress=False`` (same ``profile``).

    Primary and complementary suppression (:func:`partner_analysis.privacy.suppress_comparisons`), then the
    design's contrasts and analytic counts hidden with them. ``suppress_table(ds, compare_partners(ds, ...,
    suppress=False, profile=p), p)`` equals ``compare_partners(ds, ..., suppress=True, profile=p)``; pass the
    same ``profile`` to both (``None``: ``district.yml`` ``privacy``), since its floors decide which designs are
    fitted.
    """
    prof = _resolve_profile(dataset, profile)
    return _suppress(table, prof, _floors(dataset, prof)[0])


_BALANCE_ID = ["partner_id", "program_id", "term", "kpi_id", "subgroup", "subgroup_value", "design"]


@dataclass(frozen=True)
class _DesignContext:
    """Student-level arrays shared by every design fit of one call."""

    X: np.ndarray
    P: np.ndarray | None
    cov: dsg.Covariates
    cells: np.ndarray
    schools: np.ndarray
    order: np.ndarray
    student_ids: pd.Index
    students: pd.DataFrame
    background: tuple[str, ...]

    @classmethod
    def build(cls, dataset, arrays: PanelArrays, term: str, kpis_in, cells_all, covariates) -> "_DesignContext":
        t = arrays.term_index(term)
        students = dataset["students"]
        st = students.set_index(students["student_id"].astype(str)).reindex(arrays.student_ids)
        use_prior, background = _resolve_covariates(dataset.config, students, covariates)
        X = _matrix(arrays, kpis_in, t)
        P = None
        if use_prior:
            cols = []
            for kpi in kpis_in:
                if kpi.prior_kpi not in arrays.values:
                    raise ConfigError(f"KPI {kpi.id!r}: its prior {kpi.prior_kpi!r} is not in the panel",
                                      key=f"kpis.{kpi.id}.prior", fix="Add that KPI to the catalog")
                tt = {"same_term_last_year": arrays.prior_term[t], "previous_term": arrays.prev_term[t],
                      "same_term": t}[kpi.prior_term]
                cols.append(arrays.values[kpi.prior_kpi][:, tt] if tt >= 0 else np.full(len(arrays.student_ids),
                                                                                        np.nan))
            P = np.column_stack(cols) if cols else None
        cov = dsg.build_covariates(st.reset_index(drop=True), background)
        school_s = st["school_id"]
        schools = np.where(school_s.isna().to_numpy(), -1, pd.factorize(school_s.astype(str))[0])
        missing = (school_s.isna() | st["grade_level"].isna()).to_numpy()
        cells = np.where(missing, -1, cells_all)
        order = np.argsort(np.argsort(np.asarray(arrays.student_ids.astype(str)), kind="stable"))
        return cls(X, P, cov, cells, schools, order, arrays.student_ids, st, tuple(background))

    def fit(self, spec, design: str, *, kind: str, min_n: int) -> dsg.DesignResult:
        part_now, comp, codes, g, k = spec
        rows = np.flatnonzero((part_now | comp) & (codes == g))
        prior = self.P[rows, k] if self.P is not None else None
        if prior is not None and not np.isfinite(prior).any():
            prior = None  # no prior-year term: adjust for background only (the label says "descriptive only")
        return dsg.fit_design(self.X[rows, k], part_now[rows], prior, self.cov.take(rows), self.cells[rows],
                              self.schools[rows], kind=kind, design=design, order=self.order[rows],
                              min_n=min_n)

    def frame_rows(self, row: pd.Series, spec, result: dsg.DesignResult) -> pd.DataFrame:
        part_now, comp, codes, g, k = spec
        rows = np.flatnonzero((part_now | comp) & (codes == g))
        rows = rows[result.analytic]
        st = self.students.iloc[rows]
        out = pd.DataFrame({
            "partner_id": row["partner_id"], "program_id": row["program_id"], "kpi_id": row["kpi_id"],
            "student_id": self.student_ids[rows].astype(str), "school_id": st["school_id"].astype(str).to_numpy(),
            "grade_level": st["grade_level"].to_numpy(), "treated": part_now[rows].astype(int),
            "outcome": self.X[rows, k], "prior": self.P[rows, k] if self.P is not None else np.nan,
            "weight": result.weights if result.weights is not None else 1.0,
            "subclass": result.subclass if result.subclass is not None else -1})
        for c in self.background:
            out[c] = st[c].to_numpy()
        return out


def _balance_rows(row: pd.Series, result: dsg.DesignResult) -> pd.DataFrame:
    b = result.balance.copy()
    for c in reversed(_BALANCE_ID):
        b.insert(0, c, row[c])
    return b


def _raw_design_columns(table: pd.DataFrame) -> pd.DataFrame:
    """estimate, se and MDE of the raw design from the group aggregates."""
    out = table.copy()
    binary = (out["kind"] == "binary").to_numpy()
    n_t, n_c = out["n_t"].to_numpy(float), out["n_c"].to_numpy(float)
    m_t, m_c = out["mean_t"].to_numpy(float), out["mean_c"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_cont = np.sqrt(out["sd_t"].to_numpy(float) ** 2 / n_t + out["sd_c"].to_numpy(float) ** 2 / n_c)
        se_bin = np.sqrt(m_t * (1 - m_t) / n_t + m_c * (1 - m_c) / n_c)
        p_share = n_t / (n_t + n_c)
        mde = 2.8 * np.sqrt(1 / (p_share * (1 - p_share) * (n_t + n_c)))
    tested = (out["sample_status"] == "tested").to_numpy()
    out["n_t_analytic"], out["n_c_analytic"] = out["n_t"], out["n_c"]
    out["estimate"] = np.where(tested, out["difference"], np.nan)
    out["se"] = np.where(tested, np.where(binary, se_bin, se_cont), np.nan)
    out["mde"] = np.where(tested, mde, np.nan)
    out["balance_max_smd"] = np.nan
    out["n_schools"] = 0
    out["n_unmatched"] = 0
    out["dropped_columns"] = ""
    out["design_status"] = np.where(tested, "fitted", "not fitted: too few students")
    out["design_warnings"] = ""
    out["_es_raw"], out["_p_raw"] = out["effect_size"], out["p_val"]
    out["_background_max_smd"] = np.nan
    out["_has_prior"] = np.isfinite(out["baseline_es"].to_numpy(float))
    return out


def _design_columns(table: pd.DataFrame, results: list, design: str) -> pd.DataFrame:
    out = table.copy()
    rows = pd.DataFrame([r.as_row() for r in results])
    fitted = (rows["status"] == "fitted").to_numpy()
    for col in ("estimate", "se", "effect_size", "es_ci_low", "es_ci_high", "p_val", "mde", "balance_max_smd",
                "baseline_es"):
        out[col] = np.where(fitted, rows[col].to_numpy(float), np.nan)
    out["baseline_verdict"] = np.where(fitted, rows["baseline_verdict"], "unknown")
    out["n_t_analytic"], out["n_c_analytic"] = rows["n_t"].to_numpy(), rows["n_c"].to_numpy()
    out["n_schools"], out["n_unmatched"] = rows["n_schools"].to_numpy(), rows["n_unmatched"].to_numpy()
    out["dropped_columns"], out["design_warnings"] = rows["dropped_columns"], rows["warnings"]
    notes = []
    for s, c, lv in zip(rows["status"], rows["cells_without_variation"], rows["levels_without_variation"]):
        if c:
            s += f"; {c} school×grade cell(s) without outcome variation not fitted"
        if lv:
            s += f"; {lv} covariate level(s) without outcome variation not fitted"
        notes.append(s)
    out["design_status"] = notes
    out["_background_max_smd"] = rows["background_max_smd"].to_numpy(float)
    ii = np.full(len(out), np.nan)
    es = out["effect_size"].to_numpy(float)
    fin = np.isfinite(es)
    if fin.any():
        ii[fin] = np.asarray(_stats().improvement_index(es[fin]), float)
    out["improvement_index"] = ii
    kind = out["kind"].to_numpy()
    out["test"] = np.where(fitted, np.where(kind == "binary", "logit_cr1_t", "ols_cr1_t"), "")
    out["es_method"] = np.where(kind == "binary", "cox_adjusted", "hedges_g_adjusted")
    out["sample_status"] = np.where((out["sample_status"] == "tested") & ~fitted, "descriptive_only",
                                    out["sample_status"])
    return out


def _evidence(table: pd.DataFrame, design: str, alpha: float) -> list[str]:
    p = table["p_val"].to_numpy(float)
    # significance for the label is judged after the BH adjustment of the partner's family
    p_adj = _bh_families(table, alpha)
    es = table["effect_size"].to_numpy(float)
    hib = table["higher_is_better"].astype(bool).to_numpy()
    base = table["baseline_es"].to_numpy(float)
    bg = table["_background_max_smd"].to_numpy(float)
    tested = (table["sample_status"] == "tested").to_numpy()
    labels = []
    for i in range(len(table)):
        favourable = bool(np.isfinite(es[i]) and es[i] != 0 and ((es[i] > 0) == hib[i]))
        labels.append(est.evidence_label(
            design=design, tested=bool(tested[i] and np.isfinite(p[i])), has_prior=bool(np.isfinite(base[i])),
            baseline_es=float(base[i]), balance_max_smd=float(bg[i]),
            significant=bool(np.isfinite(p_adj[i]) and p_adj[i] < alpha), favourable=favourable))
    return labels


def _bh_families(table: pd.DataFrame, alpha: float) -> np.ndarray:
    """BH-adjusted p within each partner's family (module docstring)."""
    stats = _stats()
    out = np.full(len(table), np.nan)
    p = table["p_val"].to_numpy(float)
    keys = table["partner_id"].astype(str) + "\x1f" + table["subgroup"].astype(str)
    for _, idx in pd.Series(np.arange(len(table))).groupby(keys.to_numpy()):
        ix = idx.to_numpy()
        if np.isfinite(p[ix]).any():
            out[ix] = np.asarray(stats.bh_adjust(p[ix], alpha=alpha), float)
    return out


def _robustness(table: pd.DataFrame, *, raw_es, raw_p, results: dict, alpha: float) -> pd.DataFrame:
    out = table.copy()
    out["es_raw"], out["p_raw"] = raw_es.to_numpy(float), raw_p.to_numpy(float)
    for d in ("adjusted", "matched"):
        rows = [r.as_row() for r in results[d]]
        ok = np.array([r["status"] == "fitted" for r in rows])
        out[f"es_{d}"] = np.where(ok, [r["effect_size"] for r in rows], np.nan)
        out[f"p_{d}"] = np.where(ok, [r["p_val"] for r in rows], np.nan)
    es = out[["es_raw", "es_adjusted", "es_matched"]].to_numpy(float)
    pv = out[["p_raw", "p_adjusted", "p_matched"]].to_numpy(float)
    flags = []
    for e, q in zip(es, pv):
        fin = np.isfinite(e) & np.isfinite(q)
        msgs = []
        if fin.sum() >= 2:
            signs = np.sign(e[fin])
            if len(set(signs[signs != 0])) > 1:
                msgs.append("designs differ in sign")
            if len(set(q[fin] < alpha)) > 1:
                msgs.append("designs differ in significance")
        flags.append("; ".join(msgs))
    out["robustness_flag"] = flags
    return out


def _hide_design_contrasts(table: pd.DataFrame, k_floor: int) -> pd.DataFrame:
    """Blank the design's contrast columns where suppression hid the contrast or the inference, and analytic
    counts below the privacy floor (docs/privacy.md: no count below ``min_group_n`` is shown)."""
    out = table.copy()
    hidden = out["difference"].isna().to_numpy() | (out["sample_status"] != "tested").to_numpy()
    for col in _DESIGN_CONTRAST:
        if col in out.columns:
            out.loc[hidden, col] = np.nan
    for col in ("n_t_analytic", "n_c_analytic"):
        side = "n_t" if col == "n_t_analytic" else "n_c"
        out[col] = out[col].astype(float)
        out.loc[out[side].isna().to_numpy() | hidden | (out[col] < k_floor).to_numpy(), col] = np.nan
    out.loc[hidden, "evidence_label"] = est.EVIDENCE_LABELS[0]
    if "robustness_flag" in out.columns:
        out.loc[hidden, "robustness_flag"] = ""
    return out


def _assemble(raw: pd.DataFrame, *, k_floor: int, inf_floor: int, cox_small_sample: bool,
              alpha: float) -> pd.DataFrame:
    stats = _stats()
    if raw.empty:
        return pd.DataFrame(columns=[c for c in COLUMNS if c not in _DESIGN_ONLY] + ["prev_term_n_t", "last_year_n_t"])
    out = raw[[c for c in raw.columns if not c.startswith("_")]].copy()
    binary = (out["kind"] == "binary").to_numpy()
    n_t, n_c = raw["_n_t"].to_numpy(float), raw["_n_c"].to_numpy(float)
    mean_t, sd_t = _mean_sd(n_t, raw["_s1_t"].to_numpy(float), raw["_s2_t"].to_numpy(float))
    mean_c, sd_c = _mean_sd(n_c, raw["_s1_c"].to_numpy(float), raw["_s2_c"].to_numpy(float))
    n_all = n_t + n_c
    mean_all, _ = _mean_sd(n_all, raw["_s1_t"].to_numpy(float) + raw["_s1_c"].to_numpy(float),
                           raw["_s2_t"].to_numpy(float) + raw["_s2_c"].to_numpy(float))
    x_t = np.round(raw["_s1_t"].to_numpy(float))
    x_c = np.round(raw["_s1_c"].to_numpy(float))
    out["n_t"], out["n_c"], out["n_all"] = n_t.astype(int), n_c.astype(int), n_all.astype(int)
    out["mean_t"], out["mean_c"], out["mean_all"] = mean_t, mean_c, mean_all
    out["sd_t"], out["sd_c"] = np.where(binary, np.nan, sd_t), np.where(binary, np.nan, sd_c)
    out["difference"] = mean_t - mean_c
    lo_t, hi_t = _mean_ci(mean_t, sd_t, n_t)
    lo_c, hi_c = _mean_ci(mean_c, sd_c, n_c)
    if binary.any():
        wl_t, wh_t = _wilson(np.where(binary, x_t, 0), np.where(binary, n_t, 0))
        wl_c, wh_c = _wilson(np.where(binary, x_c, 0), np.where(binary, n_c, 0))
        lo_t, hi_t = np.where(binary, wl_t, lo_t), np.where(binary, wh_t, hi_t)
        lo_c, hi_c = np.where(binary, wl_c, lo_c), np.where(binary, wh_c, hi_c)
    out["ci_low_t"], out["ci_high_t"], out["ci_low_c"], out["ci_high_c"] = lo_t, hi_t, lo_c, hi_c

    small = np.minimum(n_t, n_c)
    status = np.where(small < k_floor, "suppressed", np.where(small < inf_floor, "descriptive_only", "tested"))
    tested = status == "tested"
    g, g_lo, g_hi = _hedges(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    zero = np.zeros(len(out))
    cox, c_lo, c_hi = _cox(np.where(binary, x_t, zero), np.where(binary, n_t, zero), np.where(binary, x_c, zero),
                           np.where(binary, n_c, zero), small_sample=cox_small_sample)
    es = np.where(binary, cox, g)
    out["effect_size"] = np.where(tested, es, np.nan)
    out["es_method"] = np.where(binary, "cox", "hedges_g")
    out["es_ci_low"] = np.where(tested, np.where(binary, c_lo, g_lo), np.nan)
    out["es_ci_high"] = np.where(tested, np.where(binary, c_hi, g_hi), np.nan)
    ii = np.full(len(out), np.nan)
    fin = tested & np.isfinite(es)
    if fin.any():
        ii[fin] = np.asarray(stats.improvement_index(es[fin]), float)
    out["improvement_index"] = ii

    p = np.full(len(out), np.nan)
    test = np.array([""] * len(out), dtype=object)
    cont = tested & ~binary & np.isfinite(sd_t) & np.isfinite(sd_c) & ((sd_t > 0) | (sd_c > 0))
    if cont.any():
        res, vec = _vectorised(stats.welch_t_from_stats, mean_t[cont], sd_t[cont], n_t[cont], mean_c[cont],
                               sd_c[cont], n_c[cont])
        p[cont] = np.asarray(res[2], float) if vec else [r[2] for r in res]
        test[cont] = "welch_t"
    for i in np.flatnonzero(tested & binary):
        pv, method = stats.two_proportion_test(int(x_t[i]), int(n_t[i]), int(x_c[i]), int(n_c[i]))
        p[i], test[i] = float(pv), str(method)
    out["p_val"] = p
    out["p_adj"] = np.asarray(stats.bh_adjust(p, alpha=alpha), float) if np.isfinite(p).any() else np.nan
    out["test"] = test

    bn_t, bn_c = raw["_bn_t"].to_numpy(float), raw["_bn_c"].to_numpy(float)
    bm_t, bsd_t = _mean_sd(bn_t, raw["_bs1_t"].to_numpy(float), raw["_bs2_t"].to_numpy(float))
    bm_c, bsd_c = _mean_sd(bn_c, raw["_bs1_c"].to_numpy(float), raw["_bs2_c"].to_numpy(float))
    bg, _, _ = _hedges(bm_t, bsd_t, bn_t, bm_c, bsd_c, bn_c)
    bx_t, bx_c = np.round(raw["_bs1_t"].to_numpy(float)), np.round(raw["_bs1_c"].to_numpy(float))
    bcox, _, _ = _cox(np.where(binary, bx_t, zero), np.where(binary, bn_t, zero), np.where(binary, bx_c, zero),
                      np.where(binary, bn_c, zero), small_sample=cox_small_sample)
    bes = np.where(binary, bcox, bg)
    # a baseline verdict needs a sample big enough to be told at all
    bes = np.where(tested & (np.minimum(bn_t, bn_c) >= k_floor), bes, np.nan)
    out["baseline_es"] = bes
    out["baseline_verdict"] = [str(stats.baseline_equivalence(float(b))) if np.isfinite(b) else "unknown"
                               for b in bes]
    out["wording"] = np.where(out["baseline_verdict"] == "satisfied", "effect", "association")
    out["sample_status"] = status

    for name in ("prev_term", "last_year"):
        n_p = out[f"{name}_n_t"].to_numpy(float)
        m_p = np.where(n_p >= k_floor, out[f"{name}_mean_t"].to_numpy(float), np.nan)
        out[f"{name}_mean_t"] = m_p
        out[f"{name}_n_t"] = n_p.astype(int)
    out["change_prev_term"] = out["mean_t"] - out["prev_term_mean_t"]
    out["change_last_year"] = out["mean_t"] - out["last_year_mean_t"]
    out["suppressed"] = False
    out["marker"] = ""
    out["suppression_reason"] = ""
    return out[[c for c in COLUMNS if c in out.columns] + ["prev_term_n_t", "last_year_n_t"]].reset_index(drop=True)


def compare_terms(dataset, *, terms: Sequence[str], **kwargs) -> pd.DataFrame:
    """:func:`compare_partners` for several terms (one panel build), rows stacked.

    BH adjustment stays within each term's call, as in a quarterly report; the
    panel holds the whole catalog, so each term's family is the partner report's.
    """
    arrays = kwargs.pop("arrays", None) or compute_kpis(dataset, catalog=kwargs.pop("catalog", None))
    frames = [compare_partners(dataset, term=t, arrays=arrays, **kwargs) for t in terms]
    return pd.concat(frames, ignore_index=True)
