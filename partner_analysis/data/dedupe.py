"""Duplicate records in imported tables.

Three kinds, handled differently (``import`` calls them in this order):

1. **Exact duplicates** (every data column equal) are harmless repeats from an
   export and are dropped; the count goes into the import report.
2. **Key conflicts**: the same key (e.g. ``student_id``) on rows whose other
   values differ. The toolkit cannot know which row is right, so each one is an
   error naming both rows.
3. **Possible duplicates**: *different* IDs whose identifying attributes
   (:attr:`~partner_analysis.data.schema.TableSpec.identity`) are all equal, e.g.
   one student enrolled twice under two numbers. These are a warning: the rows
   are written to ``DATA_DIR/possible_duplicates.csv`` for an analyst to review.
   That file holds student IDs and stays inside the district.

All functions are vectorised; Python loops only run over the rows found.
Columns whose names start with ``_`` (provenance: source file code, row
number) are never compared.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["data_columns", "drop_exact_duplicates", "key_conflicts", "possible_duplicates",
           "default_min_identity"]


def data_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that hold data (not the ``_``-prefixed provenance columns)."""
    return [c for c in frame.columns if not str(c).startswith("_")]


def drop_exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop rows whose data columns all equal an earlier row's.

    Returns
    -------
    (frame, n_dropped)
        A new frame keeping the first occurrence (and its provenance), and the
        number of rows removed.
    """
    cols = data_columns(frame)
    if not cols or frame.empty:
        return frame, 0
    dup = frame.duplicated(subset=cols, keep="first").to_numpy()
    n = int(dup.sum())
    if n == 0:
        return frame, 0
    return frame.loc[~dup].reset_index(drop=True), n


def key_conflicts(frame: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """Rows that repeat a key already used by an earlier row.

    Run after :func:`drop_exact_duplicates`, so every repeat found here
    differs from the first row in some other column. Rows with a missing key
    value are ignored (they are reported as missing values elsewhere).

    Returns
    -------
    DataFrame
        One row per repeat: ``position`` (of the repeat), ``first_position``
        (of the first row with that key) and ``differs`` (names of the data
        columns whose values differ, comma-separated).
    """
    key = list(key)
    empty = pd.DataFrame({"position": pd.Series(dtype="int64"), "first_position": pd.Series(dtype="int64"),
                          "differs": pd.Series(dtype="object")})
    if frame.empty or any(k not in frame.columns for k in key):
        return empty
    complete = frame[key].notna().all(axis=1).to_numpy()
    dup_any = frame.duplicated(subset=key, keep=False).to_numpy() & complete
    if not dup_any.any():
        return empty
    # only the (few) rows involved in a conflict are looked at one by one
    sub = frame.loc[dup_any]
    cols = [c for c in data_columns(frame) if c not in key]
    out = []
    for _, group in sub.groupby(key, sort=False, dropna=True):
        positions = group.index.to_numpy()
        first = positions[0]
        for pos in positions[1:]:
            a, b = frame.loc[first, cols], frame.loc[pos, cols]
            differs = [c for c in cols if not (pd.isna(a[c]) and pd.isna(b[c])) and not _same(a[c], b[c])]
            out.append({"position": int(pos), "first_position": int(first), "differs": ", ".join(differs)})
    return pd.DataFrame(out) if out else empty


def _same(a, b) -> bool:
    if pd.isna(a) or pd.isna(b):
        return False
    return bool(a == b)


def default_min_identity(n_columns: int) -> int:
    """How many identity columns a row needs (non-null) to be compared.

    Two thirds of the identity columns present, and at least three: matching on
    one or two attributes (school and grade, say) would flag whole classes.
    """
    return max(min(3, n_columns), math.ceil(2 * n_columns / 3))


def possible_duplicates(frame: pd.DataFrame, *, id_column: str, identity: Sequence[str],
                        min_identity: int | None = None) -> pd.DataFrame:
    """Groups of rows with different IDs but identical identifying attributes.

    Parameters
    ----------
    frame : DataFrame
        One table (after exact duplicates were dropped).
    id_column : str
        The identifier that should be unique per person, e.g. ``student_id``.
    identity : sequence of str
        Attribute columns that together characterise a person. Columns absent
        from ``frame`` are skipped.
    min_identity : int, optional
        A row is compared only when at least this many identity columns are
        non-null (default :func:`default_min_identity`). Missing values compare
        equal to each other, which is why sparse rows are left out.

    Returns
    -------
    DataFrame
        Columns ``group`` (1, 2, ... in order of first appearance), ``group_size``,
        ``id_column``, the identity columns used, and the provenance columns
        ``_src``/``_row`` when present. Empty when nothing matches.
    """
    cols = [c for c in identity if c in frame.columns and c != id_column]
    if not cols or id_column not in frame.columns or frame.empty:
        return pd.DataFrame(columns=["group", "group_size", id_column, *cols])
    need = default_min_identity(len(cols)) if min_identity is None else int(min_identity)
    enough = (frame[cols].notna().sum(axis=1) >= need).to_numpy() & frame[id_column].notna().to_numpy()
    sub = frame.loc[enough, [id_column, *cols, *[c for c in ("_src", "_row") if c in frame.columns]]]
    if sub.empty:
        return pd.DataFrame(columns=["group", "group_size", id_column, *cols])
    # factorise each identity column (NaN -> -1) and hash the code tuple: vectorised grouping
    codes = np.column_stack([pd.factorize(sub[c], use_na_sentinel=True)[0] for c in cols])
    gid = pd.Series(pd.MultiIndex.from_arrays(codes.T).factorize()[0], index=sub.index)
    n_ids = sub[id_column].groupby(gid.to_numpy()).nunique()
    flagged = n_ids.index[n_ids.to_numpy() > 1]
    keep = gid.isin(flagged).to_numpy()
    if not keep.any():
        return pd.DataFrame(columns=["group", "group_size", id_column, *cols])
    out = sub.loc[keep].copy()
    g = gid.loc[keep]
    order = pd.factorize(g, sort=False)[0] + 1
    out.insert(0, "group", order)
    out.insert(1, "group_size", out.groupby("group")["group"].transform("size").to_numpy())
    return out.sort_values(["group", "_row" if "_row" in out.columns else id_column], kind="stable").reset_index(
        drop=True)
