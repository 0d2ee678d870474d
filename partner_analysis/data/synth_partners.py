"""More partners for a generated district: what a large district's CTE programme looks like to the report batch.

The demo generator (:mod:`partner_analysis.data.synth`) draws its partners from a catalogue of 12;
New York City's CTE programme alone has 600+ employer partners. :func:`add_partners` widens a
generated DATA_DIR to any number of partners: each new partner gets one programme modelled on a
demo programme (same type and schools) whose participants are a random share (30-100 %) of that
programme's participants, with their dates, hours and work-based-learning days. The records store
in the DATA_DIR is kept; new partners have no records yet (their reports say "not yet recorded").
Synthetic data only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ConfigError
from .dataset import read_dataset, write_dataset

__all__ = ["add_partners"]


def add_partners(data_dir: str | Path, *, partners: int, seed: int = 20251) -> Path:
    """Widen a generated district in place to ``partners`` partners.

    Parameters
    ----------
    data_dir : path
        DATA_DIR written by ``partner-analysis demo-data`` (or :func:`~partner_analysis.data.synth.make_demo_district`).
    partners : int
        Total number of partners wanted (at least the number already there).
    seed : int
        Random seed for the participant shares.

    Returns
    -------
    Path
        ``data_dir``, rewritten atomically (its records store kept).

    Raises
    ------
    ConfigError
        ``partners`` is smaller than the number of partners already in the district.
    """
    ds = read_dataset(data_dir)
    t = {k: v.copy() for k, v in ds.tables.items()}
    have = len(t["partners"])
    if isinstance(partners, bool) or not isinstance(partners, (int, np.integer)) or partners < have:
        raise ConfigError(f"the district has {have} partners; pass a larger number, not {partners!r}",
                          key="partners", value=partners)
    if partners == have:
        return Path(data_dir)
    rng = np.random.default_rng(seed)
    width = max(4, len(str(partners)))
    programs = t["programs"].reset_index(drop=True)
    part = t["participation"]
    wbl = t.get("wbl_hours")
    part_by_prog = {k: g for k, g in part.groupby(part["program_id"].astype(str), observed=True)}
    wbl_by_prog = {} if wbl is None else {k: g for k, g in wbl.groupby(wbl["program_id"].astype(str), observed=True)}
    partner_rows, program_rows, part_rows, wbl_rows = [], [], [], []
    base = t["partners"].reset_index(drop=True)
    for i in range(have + 1, partners + 1):
        pid = f"P{i:0{width}d}"
        src_prog = programs.iloc[(i - have - 1) % len(programs)]
        src_partner = base[base["partner_id"].astype(str) == str(src_prog["partner_id"])].iloc[0]
        prog_id = f"{pid}-A"
        partner_rows.append({**src_partner.to_dict(), "partner_id": pid,
                             "name": f"{src_partner['name']} partner {i}"})
        program_rows.append({**src_prog.to_dict(), "program_id": prog_id, "partner_id": pid})
        rows = part_by_prog.get(str(src_prog["program_id"]))
        if rows is None or not len(rows):
            continue
        keep = rng.random(len(rows)) < rng.uniform(0.3, 1.0)
        chosen = rows.loc[keep].assign(program_id=prog_id)
        part_rows.append(chosen)
        days = wbl_by_prog.get(str(src_prog["program_id"]))
        if days is not None and len(days):
            sel = days["student_id"].astype(str).isin(set(chosen["student_id"].astype(str)))
            wbl_rows.append(days.loc[sel].assign(program_id=prog_id))
    t["partners"] = _stack(t["partners"], pd.DataFrame(partner_rows))
    t["programs"] = _stack(t["programs"], pd.DataFrame(program_rows))
    t["participation"] = _stack(t["participation"], *part_rows)
    if wbl is not None:
        t["wbl_hours"] = _stack(wbl, *wbl_rows)
    return write_dataset(t, ds.config, data_dir)


def _stack(first: pd.DataFrame, *more: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``more`` appended, with ``first``'s columns and dtypes (categories widened to hold new values)."""
    frames = [first, *[m for m in more if len(m)]]
    plain = [f.astype({c: "object" for c in f.columns if isinstance(f[c].dtype, pd.CategoricalDtype)})
             for f in frames]
    out = pd.concat(plain, ignore_index=True)[list(first.columns)]
    for c in first.columns:
        if isinstance(first[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("category")
        else:
            out[c] = out[c].astype(first[c].dtype)
    return out
