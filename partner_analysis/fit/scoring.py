r"""Score fit-survey answers: item scores, dimension scores per response, side means, fit index.

Rules (``docs/methods.md#fit-survey-scoring``; thresholds come from the instrument, never from code):

.. math::

    x'_i = \max + \min - x_i \quad\text{(reverse-coded items)}\qquad
    D_{r,d} = \frac{\sum_{i \in A_{r,d}} w_i x_i}{\sum_{i \in A_{r,d}} w_i}

where :math:`A_{r,d}` is the set of scored items of dimension :math:`d` that response :math:`r`
answered with a scored choice (a "don't know" is missing), :math:`w_i` the ``fit::weight``, and
:math:`\min, \max` the lowest and highest ``fit::score`` of the item's choices. :math:`D_{r,d}` is
missing when :math:`|A_{r,d}| / T_{r,d} < p_{min}` (``fit::min_items_pct``, default 0.75), where
:math:`T_{r,d}` counts the dimension's items shown to the respondent's role. Side means average
:math:`D_{r,d}` over the respondents of one side; the fit index averages, over dimensions, the
mean of the district and partner side means, so each side weighs the same whatever its number of
respondents.

References
----------
.. [1] Mattessich, P. W., Murray-Close, M., & Monsey, B. R. (2001). *Collaboration: What Makes It
       Work* (2nd ed.). Wilder Research. (Factor means on a 1-5 scale; strength/borderline/concern.)
.. [2] Lasker, R. D., Weiss, E. S., & Miller, R. (2001). Partnership synergy: a practical framework for
       studying and strengthening the collaborative advantage. *Milbank Quarterly*, 79(2), 179-205.

The rules are checked in ``tests/test_fit_scoring.py`` against hand-computed cases (reverse items,
weights, not-scored choices, the 75 % rule, half-open bands).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..exceptions import ScoringError
from .instrument import Instrument, cell_text

__all__ = ["META_COLUMNS", "item_scores", "score_responses", "side_scores", "fit_index"]

#: response-level columns carried from the answers into every result (when present)
META_COLUMNS = ("response_id", "form_id", "version", "partner_id", "role", "respondent", "wave")
_REQUIRED = ("response_id", "role", "item", "value")
_SIDES = ("district", "partner")


def _prepare(answers_long: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    if not isinstance(answers_long, pd.DataFrame):
        raise ScoringError("answers_long must be a DataFrame with columns response_id, role, item, value")
    missing = [c for c in _REQUIRED if c not in answers_long.columns]
    if missing:
        raise ScoringError(f"answers are missing column(s) {missing}; found {list(answers_long.columns)}. "
                           "Pass fit.responses.answers_long(store) or a frame with response_id, role, item, value")
    data = answers_long.copy()
    defaults = {"form_id": instrument.form_id, "version": instrument.version, "partner_id": "",
                "wave": "annual"}
    for col, default in defaults.items():
        if col not in data.columns:
            data[col] = default
    if "respondent" not in data.columns:
        data["respondent"] = data["response_id"].astype(str)
    for col in ("form_id", "version", "partner_id", "role", "respondent", "wave"):
        data[col] = data[col].map(cell_text)
    bad_form = sorted(set(data["form_id"]) - {instrument.form_id})
    if bad_form:
        raise ScoringError(f"answers belong to form(s) {bad_form}, but the instrument is '{instrument.form_id}'. "
                           "Filter with answers_long(form_id=...) or pass the matching instrument")
    bad_version = sorted(set(data["version"]) - {instrument.version})
    if bad_version:
        raise ScoringError(f"answers were given to version(s) {bad_version} of '{instrument.form_id}', but the "
                           f"instrument is version {instrument.version}. Score each version with its own "
                           "workbook (read_instrument(path)) and concatenate the results")
    bad_role = sorted(set(data["role"]) - set(_SIDES))
    if bad_role:
        raise ScoringError(f"role must be 'district' or 'partner', found {bad_role}")
    return data


def _meta(data: pd.DataFrame) -> pd.DataFrame:
    meta = data[list(META_COLUMNS)].drop_duplicates("response_id")
    dup = data[list(META_COLUMNS)].drop_duplicates().duplicated("response_id")
    if dup.any():
        raise ScoringError("a response_id appears with two different partner/role/respondent/wave values; "
                           "each response set must have one of each")
    return meta.reset_index(drop=True)


def item_scores(answers_long: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Scores of the scored items, one row per response × scored item shown to its role.

    Parameters
    ----------
    answers_long : DataFrame
        One row per response × item: ``response_id``, ``role`` ("district"/"partner"), ``item``,
        ``value`` (choice name), optionally ``form_id``, ``version``, ``partner_id``,
        ``respondent``, ``wave`` (e.g. from :func:`~partner_analysis.fit.responses.answers_long`).
    instrument : Instrument

    Returns
    -------
    DataFrame
        response_id, form_id, version, partner_id, role, respondent, wave, item, dimension, pair,
        weight, reverse, raw (the choice's ``fit::score``; NaN when unanswered or not scored),
        score (reverse-coded where ``fit::reverse``).

    Raises
    ------
    ScoringError
        Wrong form or version, unknown role, or a value that is not a choice of the item.
    """
    data = _prepare(answers_long, instrument)
    meta = _meta(data)
    rows = []
    for it in instrument.scored_items():
        rows.append((it.name, it.dimension, it.pair or it.name, it.weight, it.reverse, it.role,
                     *it.score_range))
    spec = pd.DataFrame(rows, columns=["item", "dimension", "pair", "weight", "reverse", "item_role", "lo", "hi"])
    grid = meta.merge(spec, how="cross")
    grid = grid[(grid["item_role"] == "both") | (grid["item_role"] == grid["role"])]
    scored_names = set(spec["item"])
    given = data.loc[data["item"].isin(scored_names), ["response_id", "item", "value"]]
    if given.duplicated(["response_id", "item"]).any():
        dup = given[given.duplicated(["response_id", "item"], keep=False)].iloc[0]
        raise ScoringError(f"response {dup['response_id']} has two answers to '{dup['item']}'")
    lookup = {it.name: {c.name: c.score for c in it.choices} for it in instrument.scored_items()}
    raw = []
    for rid, item, value in zip(given["response_id"], given["item"], given["value"]):
        name = cell_text(value)
        if name == "":
            raw.append(math.nan)
            continue
        if name not in lookup[item]:
            raise ScoringError(f"response {rid}, item '{item}': {value!r} is not one of its choices "
                               f"{list(lookup[item])}. Recode the value or correct the instrument")
        score = lookup[item][name]
        raw.append(math.nan if score is None else float(score))
    given = given.assign(raw=np.asarray(raw, dtype=float))[["response_id", "item", "raw"]]
    out = grid.merge(given, on=["response_id", "item"], how="left")
    out["raw"] = out["raw"].astype(float)
    out["score"] = np.where(out["reverse"], out["hi"] + out["lo"] - out["raw"], out["raw"])
    cols = [*META_COLUMNS, "item", "dimension", "pair", "weight", "reverse", "raw", "score"]
    return out[cols].reset_index(drop=True)


def score_responses(answers_long: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Dimension scores per response: weighted mean of answered scored items, missing below the item rule.

    Parameters
    ----------
    answers_long : DataFrame
        See :func:`item_scores`.
    instrument : Instrument

    Returns
    -------
    DataFrame
        One row per response × dimension (dimensions shown to the response's role):
        response_id, form_id, version, partner_id, role, respondent, wave, dimension,
        score (NaN when fewer than ``min_items_pct`` of the items were answered),
        band (from ``fit::bands``; "" when missing), items_used, items_total,
        share_used (= items_used / items_total).

    Notes
    -----
    See the module docstring for the formula. Non-scored choices ("don't know") count as
    unanswered. The caller's frame is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> from partner_analysis.fit.instrument import read_instrument
    >>> inst = read_instrument()
    >>> ans = pd.DataFrame({"response_id": 1, "role": "district", "item": ["d_ds1", "d_ds2", "d_ds3"],
    ...                     "value": ["4", "5", "dk"]})
    >>> score_responses(ans, inst).query("dimension == 'data_sharing'")[["score", "items_used"]].to_numpy().tolist()
    [[nan, 2.0]]
    """
    items = item_scores(answers_long, instrument)
    items["answered"] = items["score"].notna()
    items["w"] = np.where(items["answered"], items["weight"], 0.0)
    items["wx"] = np.where(items["answered"], items["weight"] * items["score"], 0.0)
    keys = [*META_COLUMNS, "dimension"]
    grouped = items.groupby(keys, sort=False, dropna=False).agg(
        items_used=("answered", "sum"), items_total=("item", "size"), w=("w", "sum"), wx=("wx", "sum"))
    out = grouped.reset_index()
    out["items_used"] = out["items_used"].astype("int64")
    out["items_total"] = out["items_total"].astype("int64")
    out["share_used"] = out["items_used"] / out["items_total"]
    # the tolerance keeps 3 of 4 = 0.75 valid against a 0.75 threshold whatever the float rounding
    valid = (out["share_used"] + 1e-12 >= instrument.min_items_pct) & (out["items_used"] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["score"] = np.where(valid, out["wx"] / out["w"].where(out["w"] > 0), np.nan)
    out["band"] = [instrument.band(s) for s in out["score"]]
    order = {d: i for i, d in enumerate(instrument.dimensions)}
    out = out.assign(_o=out["dimension"].map(order)).sort_values(["response_id", "_o"], kind="stable")
    cols = [*META_COLUMNS, "dimension", "score", "band", "items_used", "items_total", "share_used"]
    return out[cols].reset_index(drop=True)


def side_scores(scores: pd.DataFrame, instrument: Instrument, *,
                by: Sequence[str] = ("partner_id", "wave")) -> pd.DataFrame:
    r"""Mean dimension score of each side (district, partner).

    Parameters
    ----------
    scores : DataFrame
        From :func:`score_responses`.
    instrument : Instrument
        For the bands.
    by : sequence of str
        Grouping columns besides role and dimension.

    Returns
    -------
    DataFrame
        *by*, role, dimension, mean, sd (``ddof=1``; NaN for one respondent), n_respondents
        (responses with a valid score), n_responses (all responses of the side), band.
    """
    keys = [*by, "role", "dimension"]
    g = scores.groupby(keys, sort=False, dropna=False)["score"]
    out = g.agg(mean="mean", sd="std", n_respondents="count", n_responses="size").reset_index()
    out["n_respondents"] = out["n_respondents"].astype("int64")
    out["n_responses"] = out["n_responses"].astype("int64")
    out["band"] = [instrument.band(m) for m in out["mean"]]
    return out


def fit_index(sides: pd.DataFrame, instrument: Instrument, *,
              by: Sequence[str] = ("partner_id", "wave")) -> pd.DataFrame:
    r"""Overall fit index: mean over dimensions of the two sides' mean scores.

    .. math::

        F = \frac{1}{|D|}\sum_{d \in D} \frac{\bar D^{district}_d + \bar D^{partner}_d}{2}

    over the dimensions :math:`D` where at least one side has a score (a side without a score
    on a dimension leaves the other side's mean).

    Returns
    -------
    DataFrame
        *by*, fit_index, band, n_dimensions.
    """
    both = sides.set_index([*by, "dimension", "role"])["mean"].unstack("role")
    per_dim = both.mean(axis=1, skipna=True).rename("dim_mean").reset_index()
    out = per_dim.groupby(list(by), sort=False, dropna=False)["dim_mean"].agg(
        fit_index="mean", n_dimensions="count").reset_index()
    out["n_dimensions"] = out["n_dimensions"].astype("int64")
    out["band"] = [instrument.band(v) for v in out["fit_index"]]
    return out[[*by, "fit_index", "band", "n_dimensions"]]

