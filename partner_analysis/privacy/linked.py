"""Linked tables: everything one release shows for a partner and term is suppressed as one set.

A report for term T prints, besides T's comparison table, the participants'
levels in earlier terms (the previous term and the same term last year) and
the changes since then. Those earlier figures were, or will be, published in
that term's own report, so each must be hidden at least as that term's own
table hides it, and a change may only be shown when both levels are shown:
otherwise ``level + change`` gives back a figure the other table suppressed.
PTAC's FAQ on disclosure avoidance warns that suppression must hold "across
linked tables" and over time (quarter vs. year-to-date); FERPA judges
identifiability over single and multiple releases (34 CFR §99.31(b)(1)); NCES
SLDS Technical Brief 3 (NCES 2011-603) applies complementary suppression across
every table that shares a margin.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .profile import PrivacyProfile, resolve_profile
from .suppress import TREND_PREFIXES

__all__ = ["link_earlier_terms", "ROW_KEYS"]

#: Columns that identify one comparison row across terms.
ROW_KEYS = ("partner_id", "program_id", "kpi_id", "subgroup", "subgroup_value")


def link_earlier_terms(table: pd.DataFrame, earlier: Mapping[str, pd.DataFrame | None], *,
                       profile: PrivacyProfile | str | None = None) -> pd.DataFrame:
    """Hide every earlier-term figure of ``table`` that the earlier term's own table hides.

    Parameters
    ----------
    table : DataFrame
        This term's suppressed comparison table (``suppress_comparisons``),
        with ``prev_term_mean_t`` / ``last_year_mean_t`` and their ``*_n_t``.
    earlier : mapping
        ``{"prev_term": frame, "last_year": frame}``: the **suppressed**
        comparison tables of those terms for the same partners (None when
        the term does not exist). Rows are matched on :data:`ROW_KEYS`.
    profile : PrivacyProfile or str, optional

    Returns
    -------
    DataFrame
        A copy where ``<prefix>_mean_t`` and ``<prefix>_n_t`` equal the earlier
        table's own participants' figures (NaN where that table hides them,
        or has no such row) and ``change_*`` is NaN unless both levels are
        shown and both terms have ``change_min_n`` participants.
    """
    p = resolve_profile(profile)
    out = table.copy()
    keys = [k for k in ROW_KEYS if k in out.columns]
    n_now = pd.to_numeric(out["n_t"], errors="coerce").to_numpy(float)
    mean_now = pd.to_numeric(out["mean_t"], errors="coerce").to_numpy(float)
    for prefix, change in TREND_PREFIXES:
        mcol, ncol = f"{prefix}_mean_t", f"{prefix}_n_t"
        if mcol not in out.columns:
            continue
        then = earlier.get(prefix)
        if then is None or not len(then):
            m_then = np.full(len(out), np.nan)
            n_then = np.full(len(out), np.nan)
        else:
            src = then[[*keys, "mean_t", "n_t"]].copy()
            src = src.astype({k: str for k in keys}).drop_duplicates(keys, keep="last")
            joined = out[keys].astype(str).merge(src, on=keys, how="left")
            m_then = pd.to_numeric(joined["mean_t"], errors="coerce").to_numpy(float)
            n_then = pd.to_numeric(joined["n_t"], errors="coerce").to_numpy(float)
        # the earlier table hides the figure, or the figures disagree (the data changed): the earlier
        # term's own release is what readers saw, so nothing else may be printed for that term
        mine = pd.to_numeric(out[mcol], errors="coerce").to_numpy(float)
        agree = np.isclose(mine, m_then, rtol=0, atol=1e-12, equal_nan=False)
        keep = ~np.isnan(m_then) & agree
        out[mcol] = np.where(keep, m_then, np.nan)
        if ncol in out.columns:
            out[ncol] = np.where(keep, n_then, np.nan)
        if change in out.columns:
            with np.errstate(invalid="ignore"):
                ok = keep & ~np.isnan(mean_now) & (n_then >= p.change_min_n) & (n_now >= p.change_min_n)
            out[change] = np.where(ok, mean_now - np.where(keep, m_then, np.nan), np.nan)
    return out
