"""Primary and complementary suppression (docs/privacy.md#primary-suppression and #complementary-suppression).

* **Primary** (:func:`primary_suppressed`): a statistic of a group with
  ``n < min_group_n`` is hidden, and so is a proportion whose numerator or its
  complement is below ``min_numerator`` (PTAC FAQ: "0 % of the 12
  participants passed" discloses every student; NCES TB3).
* **Complementary** (:func:`suppress_table`, :func:`suppress_comparisons`): no
  line with a published total may hold exactly one hidden cell (PTAC FAQ;
  Louisiana and New York rules in docs/privacy.md#state-rules); for KPI comparisons the
  linked relation participants + comparison = all students, and subgroup and
  programme rows adding up to their "all" rows.

Cross-table and cross-release links (earlier terms, earlier releases) live in
:mod:`.linked` and :mod:`.ledger`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, InputDataError
from .profile import PrivacyProfile, resolve_profile

__all__ = ["primary_suppressed", "change_allowed", "edfacts_perturb", "suppress_table", "suppress_comparisons",
           "TREND_PREFIXES"]

def primary_suppressed(n: Any, x: Any = None, profile: PrivacyProfile | str | None = None) -> Any:
    """True where a group's statistics must be hidden (vectorised).

    Hidden when ``n < min_group_n`` or ``n`` is missing; with ``x`` (numerator
    of a proportion) also when ``x < min_numerator`` or ``n - x <
    min_numerator`` and the profile suppresses (rather than codes) small
    numerators.

    Examples
    --------
    >>> primary_suppressed(9), primary_suppressed(25, x=2), primary_suppressed(25, x=12)
    (True, True, False)
    """
    p = resolve_profile(profile)
    scalar = np.ndim(n) == 0 and np.ndim(x) == 0
    nn = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        hidden = np.isnan(nn) | (nn < p.min_group_n)
        if x is not None and p.min_numerator > 0 and p.small_numerator_action == "suppress":
            xx = np.asarray(x, dtype=float)
            hidden = hidden | (~np.isnan(xx) & ((xx < p.min_numerator) | (nn - xx < p.min_numerator)))
    return bool(hidden) if scalar else hidden


def change_allowed(n_before: float, n_after: float, profile: PrivacyProfile | str | None = None) -> bool:
    """True when a change measure may be shown: both periods have ``n >= change_min_n``.

    Examples
    --------
    >>> change_allowed(19, 40, "california"), change_allowed(20, 40, "california")
    (False, True)
    """
    p = resolve_profile(profile)
    values = [float(v) for v in (n_before, n_after)]
    return all(not math.isnan(v) and v >= p.change_min_n for v in values)


def edfacts_perturb(count: int, *, rng: np.random.Generator,
                    profile: PrivacyProfile | str | None = "edfacts") -> int:
    """EDFacts-style perturbation: cells up to ``perturb_max_cell`` move by at most 1.

    Not a toolkit default (docs/privacy.md#perturbation: it breaks reproducibility); kept
    so the published rule can be tested. Never returns a negative count.
    """
    p = resolve_profile(profile)
    c = int(count)
    if p.perturb_max_cell is None or c > p.perturb_max_cell:
        return c
    return max(0, c + int(rng.integers(-1, 2)))


_STATE_COLS = ("suppressed", "marker", "suppression_reason")


def suppress_table(table: pd.DataFrame, *, value_cols: Sequence[str], n_col: str, row_keys: Sequence[str] | str,
                   col_key: str, total_published: bool | str | Iterable[str] = True,
                   profile: PrivacyProfile | str | None = None, numerator_col: str | None = None,
                   hide_n: bool = True) -> pd.DataFrame:
    """Primary and complementary suppression of a table of cells.

    ``table`` is long: one row per cell, the table row identified by
    ``row_keys`` and the table column by ``col_key``. A cell is primary
    suppressed when its ``n_col`` is below ``min_group_n`` (or, with
    ``numerator_col``, the numerator or its complement is below
    ``min_numerator``). Then, for every row and column whose total is
    published, as long as it holds **exactly one** suppressed cell, or only
    suppressed cells that are all 0 (Louisiana rule), the next-smallest
    unsuppressed cell of that line is hidden too (marker "‡"; New York's
    "next-smallest group"). This repeats until no line changes. A line with a
    single cell that is suppressed cannot be protected by another cell: its
    total must be withheld, and is listed in ``result.attrs["withheld_totals"]``.

    Parameters
    ----------
    table : DataFrame
        The cells; not modified.
    value_cols : sequence of str
        Statistics hidden (set to NaN) in suppressed cells.
    n_col : str
        The cell's count (group size). Hidden as well unless ``hide_n=False``.
    row_keys : str or sequence of str
        Columns identifying the table row.
    col_key : str
        Column identifying the table column.
    total_published : bool, "rows", "columns" or iterable of them, default True
        Which totals are shown next to the table (True: both).
    profile : PrivacyProfile or str, optional
    numerator_col : str, optional
        Numerator of a proportion in the cell, for the small-numerator rule.
    hide_n : bool, default True

    Returns
    -------
    DataFrame
        A copy with ``suppressed`` (bool), ``marker`` ("", "*", "‡") and
        ``suppression_reason``. Previously suppressed cells (a ``suppressed``
        column in the input) stay suppressed, so the function is idempotent.

    Raises
    ------
    InputDataError
        Missing columns, or duplicate (row, column) cells.

    Examples
    --------
    >>> t = pd.DataFrame({"school": "A", "group": list("wxyz"), "n": [3, 8, 20, 31]})
    >>> suppress_table(t, value_cols=[], n_col="n", row_keys="school", col_key="group",
    ...                profile="new_york")["marker"].tolist()
    ['*', '‡', '', '']
    """
    p = resolve_profile(profile)
    row_keys = [row_keys] if isinstance(row_keys, str) else list(row_keys)
    value_cols = list(value_cols)
    needed = [*row_keys, col_key, n_col, *value_cols] + ([numerator_col] if numerator_col else [])
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputDataError(f"the table has no column(s) {missing}", column=missing[0],
                             fix=f"Pass column names among {list(table.columns)}")
    directions = _directions(total_published)
    if table.duplicated([*row_keys, col_key]).any():
        dup = table.loc[table.duplicated([*row_keys, col_key]), [*row_keys, col_key]].iloc[0].tolist()
        raise InputDataError(f"cell {dup} appears more than once", column=col_key, value=dup,
                             fix="Aggregate to one row per (row, column) cell first")
    out = table.copy()
    n = pd.to_numeric(out[n_col], errors="coerce").to_numpy(float)
    x = pd.to_numeric(out[numerator_col], errors="coerce").to_numpy(float) if numerator_col else None
    prior = (out["suppressed"].fillna(False).astype(bool).to_numpy() if "suppressed" in out.columns
             else np.zeros(len(out), bool))
    prior_marker = out["marker"].astype(object).to_numpy() if "marker" in out.columns else np.array([""] * len(out))
    prior_reason = (out["suppression_reason"].astype(object).to_numpy() if "suppression_reason" in out.columns
                    else np.array([""] * len(out), dtype=object))

    primary = (~prior) & np.asarray(primary_suppressed(n, x, p), bool)
    marker = np.where(prior, prior_marker, np.where(primary, p.primary_marker, "")).astype(object)
    reason = np.where(prior, prior_reason, "").astype(object)
    reason[primary] = [_primary_reason(ni, None if x is None else xi, p)
                       for ni, xi in zip(n[primary], (x[primary] if x is not None else [None] * primary.sum()))]
    hidden = prior | primary

    lines: list[tuple[str, np.ndarray]] = []
    if "rows" in directions:
        lines += [("row", idx) for idx in _groups(out, row_keys)]
    if "columns" in directions:
        lines += [("column", idx) for idx in _groups(out, [col_key])]
    membership: dict[int, list[int]] = {}
    for li, (_, idx) in enumerate(lines):
        for i in idx:
            membership.setdefault(int(i), []).append(li)

    # ties are broken by the cell's keys, not its position, so row order never changes the result
    key_rank = np.empty(len(out), dtype=int)
    key_rank[out.reset_index(drop=True).sort_values([*row_keys, col_key], kind="mergesort").index.to_numpy()] = \
        np.arange(len(out))
    withheld: list[tuple[str, Any]] = []
    changed = True
    while changed:
        changed = False
        for li, (kind, idx) in enumerate(lines):
            if _line_ok(idx, hidden, n):
                continue
            candidates = [int(i) for i in idx if not hidden[i]]
            if not candidates:
                key = _line_label(out, int(idx[0]), row_keys if kind == "row" else [col_key])
                if (kind, key) not in withheld:
                    withheld.append((kind, key))
                continue

            def rank(i: int) -> tuple:
                other = [lj for lj in membership[i] if lj != li]
                helps = any(hidden[lines[lj][1]].sum() == 1 for lj in other)
                return (np.inf if np.isnan(n[i]) else n[i], 0 if helps else 1, key_rank[i])

            pick = min(candidates, key=rank)
            hidden[pick] = True
            marker[pick] = p.complementary_marker
            reason[pick] = f"hidden to protect another cell in its {kind}"
            changed = True

    if hidden.any():
        cols = value_cols + ([n_col] if hide_n else [])
        for col in cols:
            if pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].astype(float)
            out.loc[hidden, col] = np.nan if pd.api.types.is_numeric_dtype(out[col]) else None
    out["suppressed"] = hidden
    out["marker"] = [str(m) for m in marker.tolist()]
    out["suppression_reason"] = [str(r) for r in reason.tolist()]
    out.attrs["withheld_totals"] = withheld
    return out


def _directions(total_published: Any) -> set[str]:
    if total_published is True:
        return {"rows", "columns"}
    if total_published is False or total_published is None:
        return set()
    values = {total_published} if isinstance(total_published, str) else set(total_published)
    bad = values - {"rows", "columns"}
    if bad:
        raise ConfigError(f"`total_published` must be True, False, 'rows', 'columns' or both, but "
                          f"{sorted(bad)} was passed", key="total_published", value=total_published)
    return values


def _groups(frame: pd.DataFrame, keys: list[str]) -> list[np.ndarray]:
    codes = frame.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
    return [np.flatnonzero(codes == g) for g in range(codes.max() + 1)] if len(codes) else []


def _line_ok(idx: np.ndarray, hidden: np.ndarray, n: np.ndarray) -> bool:
    h = idx[hidden[idx]]
    if h.size == 0:
        return True
    if h.size == 1:
        return False
    values = n[h]
    # Louisiana: hidden cells that are all zero sum to zero, so each is known.
    if not np.isnan(values).any() and values.sum() == 0:
        return idx.size == h.size
    return True


def _line_label(frame: pd.DataFrame, i: int, keys: list[str]) -> Any:
    values = tuple(frame.iloc[i][k] for k in keys)
    return values[0] if len(values) == 1 else values


def _primary_reason(n: float, x: float | None, p: PrivacyProfile) -> str:
    if np.isnan(n):
        return "group size unknown"
    if n < p.min_group_n:
        return f"fewer than {p.min_group_n} students"
    return f"fewer than {p.min_numerator} students with (or without) the outcome"


_GROUP_COLS = {
    "t": ("n_t", "mean_t", "sd_t", "ci_low_t", "ci_high_t", "prev_term_mean_t", "change_prev_term",
          "last_year_mean_t", "change_last_year", "prev_term_n_t", "last_year_n_t"),
    "c": ("n_c", "mean_c", "sd_c", "ci_low_c", "ci_high_c"),
    "all": ("n_all", "mean_all"),
}
_MEAN_COL = {"t": "mean_t", "c": "mean_c", "all": "mean_all"}
_CONTRAST_COLS = ("difference", "effect_size", "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj",
                  "baseline_es")
_INFERENCE_COLS = ("effect_size", "es_ci_low", "es_ci_high", "improvement_index", "p_val", "p_adj", "baseline_es")
_GROUP_LABEL = {"t": "participants", "c": "comparison group", "all": "all students"}
_ALL = "all"
#: Earlier-term columns of the comparison table: (prefix, change column).
TREND_PREFIXES = (("prev_term", "change_prev_term"), ("last_year", "change_last_year"))


@dataclass
class _Cells:
    """Working state of :func:`suppress_comparisons`: which group of which row is hidden, and why."""

    out: pd.DataFrame
    profile: PrivacyProfile
    groups: list[str]
    n: dict[str, np.ndarray]
    binary: np.ndarray
    scale: np.ndarray
    hidden: dict[str, np.ndarray] = field(default_factory=dict)
    primary: dict[str, np.ndarray] = field(default_factory=dict)
    # n is withheld only where a group is hidden because it is small (or to protect such a group): when only
    # the numerator is small, n >= k is safe to show and readers keep the size of the group.
    hide_n: dict[str, np.ndarray] = field(default_factory=dict)
    reasons: list[list[str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.out)


def suppress_comparisons(table: pd.DataFrame, profile: PrivacyProfile | str | None = None) -> pd.DataFrame:
    """Apply primary and complementary suppression to the KPI comparison table.

    Parameters
    ----------
    table : DataFrame
        The table of ``kpi.compare.compare_partners`` (docs/methods.md#comparison-table "KPI
        comparison table"). Needs ``n_t`` and ``n_c``; every other column is
        used when present. Not modified.
    profile : PrivacyProfile or str, optional
        Default ``public``.

    Returns
    -------
    DataFrame
        A copy in which hidden statistics are NaN and ``suppressed``,
        ``marker`` and ``suppression_reason`` are set, and ``sample_status``
        is ``"suppressed"`` / ``"descriptive_only"`` / ``"tested"``.

    Notes
    -----
    Three groups per row: participants (t), comparison (c) and all students
    (= t + c). One function per step:

    1. **Primary** (:func:`_primary_step`). A group with ``n < min_group_n``,
       or (binary KPIs) fewer than ``min_numerator`` students with or without
       the outcome, is hidden: its mean, SD, CI (and the participants' trend
       columns), and its n when the group is small (n >= k stays visible when
       only the numerator is small). When t or c is hidden the contrast
       (difference, effect size and CI, improvement index, p, adjusted p,
       baseline ES) is hidden.
    2. **Triplet** (:func:`_triplet_step`). If exactly one of the three groups
       is hidden, the other two would reveal it by subtraction, so one more
       is hidden: the all-students figure, unless the same all-students
       figure is also published in another row, in which case the other side
       of the contrast is hidden instead (PTAC FAQ; docs/privacy.md#complementary-suppression
       "participants + non-participants = all students").
    3. **Remainders** (:func:`_remainder_step`). Subgroup rows add up to the
       ``subgroup == "all"`` row; programme rows add up to the
       ``program_id == "all"`` row (participants). When exactly one member of
       such a line is hidden and the total is shown, another member is hidden
       too (Louisiana / New York "next-smallest" rules, docs/privacy.md#state-rules).
       Steps 2 and 3 repeat, for the statistics and for the n, until nothing
       changes.
    4. **Trends** (:func:`_trend_step`). An earlier term's participant figure
       (``prev_term_*``, ``last_year_*``) is hidden when that term's own table
       would hide it by the primary rules: ``n < min_group_n`` **or** (binary
       KPIs) a numerator or complement below ``min_numerator``; a change needs
       ``change_min_n`` in both terms (California rule) and both levels shown.
       Complementary suppression of the earlier term's own table is applied
       by :func:`partner_analysis.privacy.linked.link_earlier_terms`, which
       needs that table.
    5. **Inference floor** (:func:`_inference_step`). Rows whose smaller
       group is below ``inference_min_n`` are ``"descriptive_only"``: means
       stay, the effect size, its CI, the improvement index, p-values and the
       test are removed.

    Markers: "*" where a group failed a primary rule, "‡" where only
    complementary suppression applied.

    Examples
    --------
    >>> t = pd.DataFrame({"n_t": [25], "n_c": [8], "n_all": [33], "mean_t": [0.5], "mean_c": [0.4],
    ...                   "mean_all": [0.48], "difference": [0.1]})
    >>> out = suppress_comparisons(t)
    >>> [float(out.at[0, c]) for c in ("mean_t", "mean_c", "mean_all", "difference")]
    [0.5, nan, nan, nan]
    >>> out.at[0, "marker"], out.at[0, "sample_status"]
    ('*', 'suppressed')
    """
    cells = _start(table, resolve_profile(profile))
    _primary_step(cells)
    _complementary_steps(cells)
    contrast = _blank_hidden(cells)
    _trend_step(cells)
    descriptive = _inference_step(cells, contrast)
    _finish(cells, contrast, descriptive)
    cells.out.index = table.index
    return cells.out


def _start(table: pd.DataFrame, p: PrivacyProfile) -> _Cells:
    for col in ("n_t", "n_c"):
        if col not in table.columns:
            raise InputDataError(f"the comparison table has no column '{col}'", column=col,
                                 fix="Pass the table of kpi.compare.compare_partners")
    out = table.copy().reset_index(drop=True)
    size = len(out)
    groups = [g for g in ("t", "c", "all") if _GROUP_COLS[g][0] in out.columns]
    n = {g: pd.to_numeric(out[_GROUP_COLS[g][0]], errors="coerce").to_numpy(float) for g in groups}
    binary = (out["kind"].astype(str).to_numpy() == "binary") if "kind" in out.columns else np.zeros(size, bool)
    scale = np.where(out["unit"].astype(str).isin(["%", "percent", "pct"]).to_numpy(), 100.0, 1.0) \
        if "unit" in out.columns else np.ones(size)
    return _Cells(out=out, profile=p, groups=groups, n=n, binary=binary, scale=scale,
                  reasons=[[] for _ in range(size)])


def _primary_step(cells: _Cells) -> None:
    """Step 1: small groups and small numerators; a rerun on our own output keeps what was hidden."""
    out, p, size = cells.out, cells.profile, cells.size
    # A NaN mean (or n) in a row already marked suppressed means "hidden before", not "unknown" (idempotence).
    prior = (out["suppressed"].fillna(False).astype(bool).to_numpy() if "suppressed" in out.columns
             else np.zeros(size, bool))
    prior_reason = (out["suppression_reason"].fillna("").astype(str).to_numpy()
                    if "suppression_reason" in out.columns else np.array([""] * size, dtype=object))
    cells.reasons = [[r for r in str(prior_reason[i]).split("; ") if r] if prior[i] else [] for i in range(size)]
    for g in cells.groups:
        n = cells.n[g]
        mean_col = _MEAN_COL[g]
        probe = pd.to_numeric(out[mean_col], errors="coerce").to_numpy(float) if mean_col in out.columns else n
        was_hidden = prior & np.isnan(probe)
        was_primary = was_hidden & np.array([f"{_GROUP_LABEL[g]}: fewer than" in r for r in prior_reason])
        x = None
        if mean_col in out.columns and cells.binary.any():
            mean = pd.to_numeric(out[mean_col], errors="coerce").to_numpy(float)
            x = np.where(cells.binary, np.round(mean / cells.scale * n), np.nan)
        with np.errstate(invalid="ignore"):
            small_n = (np.isnan(n) | (n < p.min_group_n)) & ~was_hidden
            small_x = np.zeros(size, bool)
            if x is not None and p.min_numerator > 0 and p.small_numerator_action == "suppress":
                small_x = ~np.isnan(x) & ((x < p.min_numerator) | (n - x < p.min_numerator)) & ~small_n
        for i in np.flatnonzero(small_n):
            cells.reasons[i].append(f"{_GROUP_LABEL[g]}: fewer than {p.min_group_n} students")
        for i in np.flatnonzero(small_x):
            cells.reasons[i].append(f"{_GROUP_LABEL[g]}: fewer than {p.min_numerator} students with "
                                    "(or without) the outcome")
        cells.primary[g] = small_n | small_x | was_primary
        cells.hidden[g] = cells.primary[g] | was_hidden
        cells.hide_n[g] = small_n | (was_hidden & np.isnan(n))


def _complementary_steps(cells: _Cells) -> None:
    """Steps 2 and 3, repeated for the statistics and the n layer until nothing changes."""
    all_shared = _shared_all_figures(cells.out) if "all" in cells.groups else np.zeros(cells.size, bool)
    lines = _remainder_lines(cells.out)
    key_rank = _key_rank(cells.out)
    changed = True
    while changed:
        changed = False
        # Two layers: the statistics of a group, and its n. Either, hidden alone in a triplet or a line with a
        # shown total, is recovered by subtraction. Hiding an n hides the group's statistics too.
        for layer in ("stats", "n"):
            changed |= _triplet_step(cells, layer, all_shared)
            changed |= _remainder_step(cells, layer, lines, key_rank)


def _key_rank(out: pd.DataFrame) -> np.ndarray:
    # ties are broken by the row's identifying keys, not its position, so row order never changes the result
    size = len(out)
    id_cols = [c for c in ("partner_id", "program_id", "term", "kpi_id", "subgroup", "subgroup_value")
               if c in out.columns]
    key_rank = np.arange(size)
    if id_cols:
        key_rank = np.empty(size, dtype=int)
        key_rank[out[id_cols].astype(str).sort_values(id_cols, kind="mergesort").index.to_numpy()] = \
            np.arange(size)
    return key_rank


def _triplet_step(cells: _Cells, layer: str, all_shared: np.ndarray) -> bool:
    """Step 2: participants + comparison = all students; one hidden group of three is hidden with another."""
    if len(cells.groups) != 3:
        return False
    state = cells.hidden if layer == "stats" else cells.hide_n
    changed = False
    count = state["t"].astype(int) + state["c"].astype(int) + state["all"].astype(int)
    for i in np.flatnonzero(count == 1):
        trigger = next(g for g in cells.groups if state[g][i])
        if trigger == "all":
            order = ["c", "t"]
        elif all_shared[i]:
            order = [{"t": "c", "c": "t"}[trigger], "all"]
        else:
            order = ["all", {"t": "c", "c": "t"}[trigger]]
        # for n, a group whose statistics are already hidden loses least
        extra = min(order, key=lambda g: (0 if layer == "n" and cells.hidden[g][i] else 1, order.index(g)))
        state[extra][i] = True
        if layer == "n":
            cells.hidden[extra][i] = True
        what = "size" if layer == "n" else "figure"
        cells.reasons[i].append(f"{_GROUP_LABEL[extra]} {what} hidden so that the other groups cannot "
                                f"reveal the hidden {_GROUP_LABEL[trigger]} {what} (participants + "
                                "comparison = all students)")
        changed = True
    return changed


def _remainder_step(cells: _Cells, layer: str, lines, key_rank: np.ndarray) -> bool:
    """Step 3: a line (subgroups, programmes) with a shown total never holds exactly one hidden member."""
    state = cells.hidden if layer == "stats" else cells.hide_n
    hidden, n = cells.hidden, cells.n
    changed = False
    for line_groups, total, members in lines:
        for g in line_groups:
            if g not in state or state[g][total]:
                continue
            h = [i for i in members if state[g][i]]
            if len(h) != 1:
                continue
            candidates = [i for i in members if not state[g][i]]
            if not candidates:
                continue

            # Prefer a member whose row already hides something (hiding one more there does not
            # cascade through the triplet rule, so fewer figures are lost), then the next-smallest.
            def rank(i: int) -> tuple:
                already = hidden[g][i] if layer == "n" else any(hidden[o][i] for o in hidden if o != g)
                return (0 if already else 1, n[g][i] if not np.isnan(n[g][i]) else np.inf, key_rank[i])

            pick = min(candidates, key=rank)
            state[g][pick] = True
            if layer == "n":
                hidden[g][pick] = True
            what = "size" if layer == "n" else "figure"
            cells.reasons[pick].append(f"{_GROUP_LABEL[g]} {what} hidden so that the total cannot reveal "
                                       "another subgroup or programme")
            changed = True
    return changed


def _blank_hidden(cells: _Cells) -> np.ndarray:
    """Blank the hidden groups' figures and, where t or c is hidden, the contrast; return the contrast mask."""
    out = cells.out
    contrast = np.zeros(cells.size, bool)
    for g in ("t", "c"):
        if g in cells.hidden:
            contrast |= cells.hidden[g]
    for g in cells.groups:
        _blank(out, [c for c in _GROUP_COLS[g][1:] if c in out.columns], cells.hidden[g])
        _blank(out, [_GROUP_COLS[g][0]], cells.hide_n[g])
    _blank(out, [c for c in _CONTRAST_COLS if c in out.columns], contrast)
    _no_test(out, contrast)
    return contrast


def _no_test(out: pd.DataFrame, rows: np.ndarray) -> None:
    """Rows whose comparison is not shown name no test and no baseline verdict."""
    if "test" in out.columns:
        out.loc[rows, "test"] = ""
    if "baseline_verdict" in out.columns:
        out.loc[rows, "baseline_verdict"] = "unknown"


def _trend_step(cells: _Cells) -> None:
    """Step 4: earlier terms' participant figures under that term's primary rules; changes need both terms."""
    out, p = cells.out, cells.profile
    n_now = cells.n["t"]
    for prefix, change in TREND_PREFIXES:
        ncol, mcol = f"{prefix}_n_t", f"{prefix}_mean_t"
        if ncol not in out.columns:
            continue
        n_then = pd.to_numeric(out[ncol], errors="coerce").to_numpy(float)
        m_then = (pd.to_numeric(out[mcol], errors="coerce").to_numpy(float) if mcol in out.columns
                  else np.full(cells.size, np.nan))
        x_then = np.where(cells.binary, np.round(m_then / cells.scale * n_then), np.nan)
        with np.errstate(invalid="ignore"):
            small_then = ~np.isnan(n_then) & (n_then < p.min_group_n)
            small_x = np.zeros(cells.size, bool)
            if p.min_numerator > 0 and p.small_numerator_action == "suppress":
                small_x = ~np.isnan(x_then) & ((x_then < p.min_numerator) | (n_then - x_then < p.min_numerator))
            no_change = small_then | small_x | np.isnan(m_then) | (
                ~np.isnan(n_then) & ((n_then < p.change_min_n) | (n_now < p.change_min_n)))
        _blank(out, [c for c in (ncol,) if c in out.columns], small_then)
        _blank(out, [c for c in (mcol,) if c in out.columns], small_then | small_x)
        if change in out.columns:
            _blank(out, [change], no_change)


def _inference_step(cells: _Cells, contrast: np.ndarray) -> np.ndarray:
    """Step 5: below ``inference_min_n`` per group, descriptive only (no test, no effect size)."""
    out, p = cells.out, cells.profile
    smaller = np.fmin(cells.n["t"], cells.n["c"])
    with np.errstate(invalid="ignore"):
        descriptive = ~contrast & (smaller < p.inference_min_n)
    _blank(out, [c for c in _INFERENCE_COLS if c in out.columns], descriptive)
    _no_test(out, descriptive)
    return descriptive


def _finish(cells: _Cells, contrast: np.ndarray, descriptive: np.ndarray) -> None:
    """Status, wording, ``suppressed``, markers and reasons."""
    out, p = cells.out, cells.profile
    if "wording" in out.columns:
        out.loc[contrast | descriptive, "wording"] = "association"
    previous_status = out["sample_status"].astype(object).to_numpy() if "sample_status" in out.columns else None
    status = np.where(contrast, "suppressed", np.where(descriptive, "descriptive_only", "tested")).astype(object)
    if previous_status is not None:
        # keep a stricter status the KPI engine set (e.g. no test possible), never a looser one
        keep = (status == "tested") & np.isin(previous_status, ["descriptive_only", "suppressed"])
        status[keep] = previous_status[keep]
    out["sample_status"] = status
    any_hidden = np.zeros(cells.size, bool)
    any_primary = np.zeros(cells.size, bool)
    for g in cells.groups:
        any_hidden |= cells.hidden[g]
        any_primary |= cells.primary[g]
    marker = np.where(any_primary, p.primary_marker, np.where(any_hidden, p.complementary_marker, ""))
    out["suppressed"] = any_hidden
    out["marker"] = marker.tolist()
    out["suppression_reason"] = ["; ".join(r) for r in cells.reasons]


def _shared_all_figures(out: pd.DataFrame) -> np.ndarray:
    keys = [c for c in ("kpi_id", "term", "subgroup", "subgroup_value", "n_all", "mean_all") if c in out.columns]
    if not keys or "n_all" not in keys:
        return np.zeros(len(out), bool)
    frame = out[keys].copy()
    if "mean_all" in frame.columns:
        frame["mean_all"] = pd.to_numeric(frame["mean_all"], errors="coerce").round(9)
    return frame.duplicated(keep=False).to_numpy() & pd.to_numeric(out["n_all"], errors="coerce").notna().to_numpy()


def _remainder_lines(out: pd.DataFrame) -> list[tuple[tuple[str, ...], int, list[int]]]:
    lines: list[tuple[tuple[str, ...], int, list[int]]] = []
    base = [c for c in ("partner_id", "program_id", "term", "kpi_id") if c in out.columns]
    if "subgroup" in out.columns and base:
        sub = out["subgroup"].astype(object)
        for _, idx in out.astype({c: str for c in base}).groupby(base, sort=True, dropna=False).groups.items():
            idx = list(idx)
            totals = [i for i in idx if sub[i] == _ALL]
            if len(totals) != 1:
                continue
            for name in sorted({str(sub[i]) for i in idx} - {_ALL}):
                members = [i for i in idx if str(sub[i]) == name]
                if len(members) >= 1:
                    lines.append((("t", "c", "all"), totals[0], members))
    keys = [c for c in ("partner_id", "term", "kpi_id", "subgroup", "subgroup_value") if c in out.columns]
    if "program_id" in out.columns and "partner_id" in keys:
        prog = out["program_id"].astype(object)
        for _, idx in out.astype({c: str for c in keys}).groupby(keys, sort=True, dropna=False).groups.items():
            idx = list(idx)
            totals = [i for i in idx if prog[i] == _ALL]
            members = [i for i in idx if prog[i] != _ALL]
            if len(totals) == 1 and len(members) >= 2:
                # only participants add up across programmes; comparison groups differ per programme
                lines.append((("t",), totals[0], members))
    return lines


def _blank(out: pd.DataFrame, cols: list[str], mask: np.ndarray) -> None:
    if not mask.any():
        return
    for col in cols:
        if pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            if not pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].astype(float)
            out.loc[mask, col] = np.nan
        else:
            out[col] = out[col].astype(object)
            out.loc[mask, col] = None
