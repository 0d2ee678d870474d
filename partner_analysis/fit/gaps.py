r"""District-versus-partner gaps, item-pair disagreements, discussion prompts, agreement and reliability.

The gap report is the fit survey's main output (``docs/methods.md#reliability-and-agreement``, "two-party caveat": the raw
per-dimension gap and item differences come first, coefficients second):

.. math::

    \text{gap}_d = \bar D^{partner}_d - \bar D^{district}_d

flagged "discuss" when :math:`|\text{gap}_d| \ge` ``fit::gap_discuss`` (1.0), "watch" when
:math:`\ge` ``fit::gap_watch`` (0.5), else "ok". Like the Levels of Collaboration practice of
treating different ratings of the same pair as discussion points (Frey et al. 2006), the mirrored
items (``fit::pair``) whose side means differ most become plain-language prompts.

References
----------
.. [1] Frey, B. B., Lohmeier, J. H., Lee, S. W., & Tollefson, N. (2006). Measuring collaboration among
       grant partners. *American Journal of Evaluation*, 27(3), 383-392.
.. [2] James, L. R., Demaree, R. G., & Wolf, G. (1984). Estimating within-group interrater reliability
       with and without response bias. *Journal of Applied Psychology*, 69(1), 85-98.
.. [3] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. *Psychometrika*,
       16(3), 297-334.

rwg(J) and alpha come from :mod:`partner_analysis.stats`; the tests check them through this module
against the ``docs/methods.md#test-vectors`` vectors (0.9545, 0.9300) and ``pingouin.cronbach_alpha``.
"""
from __future__ import annotations

import math
import warnings
import numpy as np
import pandas as pd

from .. import stats
from ..exceptions import PartnerAnalysisWarning, ScoringError
from .instrument import Instrument
from .scoring import item_scores, score_responses, side_scores

__all__ = ["CONFIDENTIAL_MIN_N", "gap_report", "pair_gaps", "discussion_prompts", "side_agreement",
           "reliability", "wave_change", "comments", "gap_chart_frame", "gap_alt_text", "prompts_markdown"]

#: docs/privacy.md#survey-results: in confidential mode, within-side spread and comments need this many respondents
CONFIDENTIAL_MIN_N = 5

GAP_COLUMNS = ["partner_id", "wave", "dimension", "dimension_label", "district_mean", "partner_mean", "gap",
               "district_band", "partner_band", "gap_flag", "n_district", "n_partner", "district_rwg",
               "partner_rwg", "top_pair", "top_pair_gap", "district_statement", "partner_statement", "prompt"]


def _fmt_points(x: float) -> str:
    return f"{abs(x):.1f} point" + ("" if abs(x) == 1 else "s")


def pair_gaps(answers_long: pd.DataFrame, instrument: Instrument, *, items: pd.DataFrame | None = None,
              n_largest: int | None = None) -> pd.DataFrame:
    """Side means of each mirrored item pair and their difference.

    Ratings are compared on the answer scale the respondents saw (reverse coding is not applied),
    so a prompt quotes what people actually ticked.

    Returns
    -------
    DataFrame
        partner_id, wave, dimension, pair, district_item, partner_item, statement (the district
        wording, else the partner wording), district_statement, partner_statement, same_words (both
        sides rated the same words; otherwise the pair is a declared mirror worded for each side, and
        a prompt quotes both wordings), district_mean, partner_mean, gap (partner - district),
        n_district, n_partner. Sorted by partner, wave, dimension, descending ``|gap|``; with
        ``n_largest``, only the pairs with the largest ``|gap|`` (both sides answered), largest first.
    """
    items = item_scores(answers_long, instrument) if items is None else items
    g = items.groupby(["partner_id", "wave", "dimension", "pair", "role"], sort=False)
    side = g.agg(mean=("raw", "mean"), n=("raw", "count"), item=("item", "first")).reset_index()
    wide = side.pivot_table(index=["partner_id", "wave", "dimension", "pair"], columns="role",
                            values=["mean", "n", "item"], aggfunc="first")
    wide.columns = [f"{role}_{stat}" for stat, role in wide.columns]
    wide = wide.reset_index()
    for col in ("district_mean", "partner_mean", "district_n", "partner_n", "district_item", "partner_item"):
        if col not in wide.columns:
            wide[col] = np.nan
    labels = {it.name: it.label for it in instrument.items}
    wide["district_statement"] = [labels.get(d, "") if isinstance(d, str) else "" for d in wide["district_item"]]
    wide["partner_statement"] = [labels.get(p, "") if isinstance(p, str) else "" for p in wide["partner_item"]]
    # both sides rated the same words, or a declared mirrored pair (fit::pair) worded for each side
    wide["same_words"] = [_same_words(d, p) for d, p in zip(wide["district_statement"], wide["partner_statement"])]
    wide["statement"] = [d or p for d, p in zip(wide["district_statement"], wide["partner_statement"])]
    wide["district_mean"] = wide["district_mean"].astype(float)
    wide["partner_mean"] = wide["partner_mean"].astype(float)
    wide["gap"] = wide["partner_mean"] - wide["district_mean"]
    wide["n_district"] = wide["district_n"].fillna(0).astype("int64")
    wide["n_partner"] = wide["partner_n"].fillna(0).astype("int64")
    wide["_abs"] = wide["gap"].abs().fillna(-1)
    # ties go to the pair asked first in the form
    order: dict[str, int] = {}
    for i, it in enumerate(instrument.scored_items()):
        order.setdefault(it.pair or it.name, i)
    wide["_order"] = wide["pair"].map(order)
    wide = wide.sort_values(["partner_id", "wave", "dimension", "_abs", "_order"],
                            ascending=[True, True, True, False, True], kind="stable")
    cols = ["partner_id", "wave", "dimension", "pair", "district_item", "partner_item", "statement",
            "district_statement", "partner_statement", "same_words", "district_mean", "partner_mean", "gap",
            "n_district", "n_partner"]
    if n_largest is not None:
        wide = wide[wide["_abs"] >= 0].sort_values(["_abs", "_order"], ascending=[False, True], kind="stable")
        wide = wide.head(int(n_largest))
    return wide[cols].reset_index(drop=True)


def _same_words(a: str, b: str) -> bool:
    return " ".join(str(a).split()).casefold() == " ".join(str(b).split()).casefold()


def _prompt(dimension_label: str, district_statement: str, partner_statement: str, gap: float) -> str:
    """One discussion prompt. Differently worded (mirrored) items are quoted both, each with its side:
    a side is never said to rate words it was not shown (issue #11)."""
    if gap is None or math.isnan(gap) or abs(gap) < 1e-9:
        return ""
    higher, lower = ("partner", "district") if gap > 0 else ("district", "partner")
    topic = dimension_label[0].lower() + dimension_label[1:]
    if _same_words(district_statement, partner_statement) or not (district_statement and partner_statement):
        statement = (district_statement or partner_statement).rstrip(".")
        return (f"On {topic}, the {higher} rates '{statement}' "
                f"{_fmt_points(gap)} higher than the {lower}: what does each side see?")
    return (f"On {topic}, the district rated '{district_statement.rstrip('.')}' and the partner rated the "
            f"mirrored statement '{partner_statement.rstrip('.')}'; the {higher}'s rating is "
            f"{_fmt_points(gap)} higher: what does each side see?")


def side_agreement(items: pd.DataFrame, instrument: Instrument, *, confidential: bool | None = None
                   ) -> pd.DataFrame:
    r"""Within-side agreement :math:`r_{wg(J)}` per partner × wave × role × dimension.

    Uses :func:`partner_analysis.stats.rwg_j` on the (reverse-coded) item scores of one side's
    respondents, with :math:`A` = the number of scored choices. NaN with fewer than 2 respondents,
    and, for a confidential instrument, with fewer than 5 (``docs/privacy.md#survey-results``).

    Returns
    -------
    DataFrame
        partner_id, wave, role, dimension, rwg, n_respondents.
    """
    confidential = instrument.confidential if confidential is None else confidential
    need = CONFIDENTIAL_MIN_N if confidential else 2
    rows = []
    for (pid, wave, role, dim), grp in items.groupby(["partner_id", "wave", "role", "dimension"], sort=False):
        mat = grp.pivot_table(index="response_id", columns="item", values="score", aggfunc="first", dropna=False)
        n = int(mat.notna().any(axis=1).sum())
        value = math.nan
        if n >= need:
            n_options = _n_options(instrument, dim)
            value = stats.rwg_j(mat.to_numpy(dtype=float), n_options)
        rows.append((pid, wave, role, dim, value, n))
    return pd.DataFrame(rows, columns=["partner_id", "wave", "role", "dimension", "rwg", "n_respondents"])


def _n_options(instrument: Instrument, dimension: str) -> int:
    it = instrument.scored_items(dimension)[0]
    return len({c.score for c in it.choices if c.score is not None})


def gap_report(answers_long: pd.DataFrame, instrument: Instrument, *, confidential: bool | None = None
               ) -> pd.DataFrame:
    """Per partner × wave × dimension: both sides' means, the gap, flags and a discussion prompt.

    Parameters
    ----------
    answers_long : DataFrame
        Answers as from :func:`~partner_analysis.fit.responses.answers_long` (see :func:`~partner_analysis.fit.scoring.item_scores`).
    instrument : Instrument
        Bands and gap thresholds come from here.
    confidential : bool, optional
        Override ``fit::confidential``: hides within-side agreement for sides under 5 respondents.

    Returns
    -------
    DataFrame
        partner_id, wave, dimension, dimension_label, district_mean, partner_mean,
        gap (partner - district), district_band, partner_band, gap_flag ("ok", "watch", "discuss",
        "" when a side is missing), n_district, n_partner (respondents with a valid dimension
        score), district_rwg, partner_rwg (rwg(J), NaN below 2 respondents, or 5 when
        confidential), top_pair (the mirrored pair that disagrees most), top_pair_gap, prompt (a
        plain-language question for the "watch"/"discuss" dimensions, else "").
    """
    items = item_scores(answers_long, instrument)
    scores = score_responses(answers_long, instrument)
    sides = side_scores(scores, instrument)
    # unstack, not pivot_table(dropna=False): that would invent every partner × wave combination
    wide = sides.set_index(["partner_id", "wave", "dimension", "role"])[["mean", "n_respondents"]].unstack("role")
    wide.columns = [f"{role}_{stat}" for stat, role in wide.columns]
    wide = wide.reset_index()
    for role in ("district", "partner"):
        for stat in ("mean", "n_respondents"):
            if f"{role}_{stat}" not in wide.columns:
                wide[f"{role}_{stat}"] = np.nan
    out = pd.DataFrame({
        "partner_id": wide["partner_id"], "wave": wide["wave"], "dimension": wide["dimension"],
        "dimension_label": [instrument.dimension_label(d) for d in wide["dimension"]],
        "district_mean": wide["district_mean"].astype(float), "partner_mean": wide["partner_mean"].astype(float),
    })
    out["gap"] = out["partner_mean"] - out["district_mean"]
    out["district_band"] = [instrument.band(v) for v in out["district_mean"]]
    out["partner_band"] = [instrument.band(v) for v in out["partner_mean"]]
    out["gap_flag"] = [instrument.gap_thresholds.flag(g) for g in out["gap"]]
    out["n_district"] = wide["district_n_respondents"].fillna(0).astype("int64")
    out["n_partner"] = wide["partner_n_respondents"].fillna(0).astype("int64")
    confidential = instrument.confidential if confidential is None else confidential
    if confidential:
        small = out[((out["n_district"] > 0) & (out["n_district"] < CONFIDENTIAL_MIN_N))
                    | ((out["n_partner"] > 0) & (out["n_partner"] < CONFIDENTIAL_MIN_N))]
        if len(small):
            warnings.warn(f"confidential survey: {small['partner_id'].nunique()} partnership(s) have a side with "
                          f"fewer than {CONFIDENTIAL_MIN_N} respondents; their within-side agreement is hidden, but "
                          "side means of so few people may still identify them", PartnerAnalysisWarning,
                          stacklevel=2)
    agree = side_agreement(items, instrument, confidential=confidential)
    for role in ("district", "partner"):
        sub = agree[agree["role"] == role][["partner_id", "wave", "dimension", "rwg"]]
        out = out.merge(sub.rename(columns={"rwg": f"{role}_rwg"}), on=["partner_id", "wave", "dimension"],
                        how="left")
    pairs = pair_gaps(answers_long, instrument, items=items)
    top = pairs.dropna(subset=["gap"]).drop_duplicates(["partner_id", "wave", "dimension"])
    out = out.merge(top[["partner_id", "wave", "dimension", "pair", "district_statement", "partner_statement",
                         "gap"]].rename(columns={"pair": "top_pair", "gap": "top_pair_gap"}),
                    on=["partner_id", "wave", "dimension"], how="left")
    out["prompt"] = [
        _prompt(label, d, p, g) if flag in ("watch", "discuss") and isinstance(d, str) else ""
        for label, d, p, g, flag in zip(out["dimension_label"], out["district_statement"], out["partner_statement"],
                                        out["top_pair_gap"], out["gap_flag"])]
    order = {d: i for i, d in enumerate(instrument.dimensions)}
    out = out.assign(_o=out["dimension"].map(order)).sort_values(["partner_id", "wave", "_o"], kind="stable")
    return out[GAP_COLUMNS].reset_index(drop=True)


def discussion_prompts(report: pd.DataFrame) -> pd.DataFrame:
    """The prompts of a :func:`gap_report`, biggest gaps first.

    Returns
    -------
    DataFrame
        partner_id, wave, dimension, gap_flag, prompt, and what the prompt is made of (the top pair's
        ``district_statement``, ``partner_statement`` and ``top_pair_gap``), so a report can word it
        in its own language (:func:`partner_analysis.report.text.fit_prompt`).
    """
    sub = report[report["prompt"].astype(bool)].copy()
    sub["_abs"] = sub["gap"].abs()
    sub = sub.sort_values(["partner_id", "wave", "_abs"], ascending=[True, True, False], kind="stable")
    return sub[["partner_id", "wave", "dimension", "gap_flag", "prompt", "district_statement", "partner_statement",
                "top_pair_gap"]].reset_index(drop=True)


def reliability(answers_long: pd.DataFrame, instrument: Instrument, *, min_n: int | None = None,
                min_items: int = 3) -> pd.DataFrame:
    r"""Cronbach's alpha per dimension, pooled across all partnerships, sides and waves.

    Mirrored district/partner items (one ``fit::pair``) are one column, so both sides' responses
    pool. Uses :func:`partner_analysis.stats.cronbach_alpha` (listwise deletion) on reverse-coded
    scores. Pooling follows ``docs/methods.md#reliability-and-agreement``: per-partnership alphas from 2-6 respondents are noise.

    Parameters
    ----------
    min_n : int, optional
        Minimum complete responses to show alpha (default ``instrument.min_n``).
    min_items : int
        Minimum items to show alpha (default 3).

    Returns
    -------
    DataFrame
        dimension, n_items, n (complete responses), alpha (NaN when hidden), shown (bool), note.
    """
    min_n = instrument.min_n if min_n is None else int(min_n)
    items = item_scores(answers_long, instrument)
    rows = []
    for dim in instrument.dimensions:
        sub = items[items["dimension"] == dim]
        mat = sub.pivot_table(index="response_id", columns="pair", values="score", aggfunc="first", dropna=False)
        k = mat.shape[1]
        complete = mat.dropna()
        n = int(len(complete))
        alpha, note = math.nan, ""
        if k < min_items:
            note = f"hidden: fewer than {min_items} items"
        elif n < max(min_n, 2):
            note = f"hidden: fewer than {max(min_n, 2)} complete responses"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PartnerAnalysisWarning)
                alpha = stats.cronbach_alpha(complete.to_numpy(dtype=float))
            if math.isnan(alpha):
                note = "undefined: total scores do not vary"
        rows.append((dim, k, n, alpha, not math.isnan(alpha), note))
    return pd.DataFrame(rows, columns=["dimension", "n_items", "n", "alpha", "shown", "note"])


def wave_change(report: pd.DataFrame, *, from_wave: str, to_wave: str) -> pd.DataFrame:
    """Change of each side's mean and of the gap between two waves (e.g. pre_partnership -> annual).

    Returns
    -------
    DataFrame
        partner_id, dimension, district_from, district_to, district_change, partner_from, partner_to,
        partner_change, gap_from, gap_to, gap_change (|gap| shrinking is negative). Only partners
        surveyed in both waves.
    """
    cols = ["partner_id", "dimension", "district_mean", "partner_mean", "gap"]
    a = report[report["wave"] == from_wave][cols]
    b = report[report["wave"] == to_wave][cols]
    if a.empty or b.empty:
        raise ScoringError(f"no answers for wave '{from_wave if a.empty else to_wave}'; waves present: "
                           f"{sorted(report['wave'].unique())}")
    m = a.merge(b, on=["partner_id", "dimension"], suffixes=("_from", "_to"))
    out = pd.DataFrame({"partner_id": m["partner_id"], "dimension": m["dimension"],
                        "district_from": m["district_mean_from"], "district_to": m["district_mean_to"],
                        "partner_from": m["partner_mean_from"], "partner_to": m["partner_mean_to"],
                        "gap_from": m["gap_from"], "gap_to": m["gap_to"]})
    out["district_change"] = out["district_to"] - out["district_from"]
    out["partner_change"] = out["partner_to"] - out["partner_from"]
    out["gap_change"] = out["gap_to"].abs() - out["gap_from"].abs()
    return out[["partner_id", "dimension", "district_from", "district_to", "district_change", "partner_from",
                "partner_to", "partner_change", "gap_from", "gap_to", "gap_change"]]


def comments(answers_long: pd.DataFrame, instrument: Instrument, *, confidential: bool | None = None
             ) -> pd.DataFrame:
    """Free-text answers ("why?" follow-ups, comments), without respondent names.

    In confidential mode a side's comments appear only when it has at least 5 respondents
    (``docs/privacy.md#survey-results``); a :class:`PartnerAnalysisWarning` says which sides were held back.

    Returns
    -------
    DataFrame
        partner_id, wave, role, item, section, question, comment.
    """
    confidential = instrument.confidential if confidential is None else confidential
    # identity fields are text too, but they are who answered, not what they think
    skip = {"respondent_name", "respondent_role", "organisation"}
    text_items = {it.name: it for it in instrument.items if it.type == "text" and it.name not in skip}
    columns = ["partner_id", "wave", "role", "item", "section", "question", "comment"]
    data = answers_long[answers_long["item"].isin(list(text_items))].copy()
    if data.empty:
        return pd.DataFrame(columns=columns)
    data = data[data["value"].map(lambda v: isinstance(v, str) and v.strip() != "").astype(bool)]
    if "wave" not in data.columns:
        data["wave"] = "annual"
    if confidential and not answers_long.empty:
        n = answers_long.groupby(["partner_id", "wave", "role"])["response_id"].nunique()
        small = n[n < CONFIDENTIAL_MIN_N]
        if len(small):
            warnings.warn(f"confidential survey: comments held back for {len(small)} side(s) with fewer than "
                          f"{CONFIDENTIAL_MIN_N} respondents", PartnerAnalysisWarning, stacklevel=2)
            keep = ~data.set_index(["partner_id", "wave", "role"]).index.isin(small.index)
            data = data[keep]
    if data.empty:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame({"partner_id": data["partner_id"].values, "wave": data["wave"].values,
                        "role": data["role"].values, "item": data["item"].values,
                        "section": [text_items[i].group for i in data["item"]],
                        "question": [text_items[i].label for i in data["item"]],
                        "comment": data["value"].values})
    return out.reset_index(drop=True)



def gap_chart_frame(report: pd.DataFrame) -> pd.DataFrame:
    """Long frame for :func:`partner_analysis.plots.plot_gap`: dimension (label), side, score.

    One partner and wave at a time (the first found), dimensions in form order.
    """
    if report.empty:
        return pd.DataFrame(columns=["dimension", "side", "score"])
    first = report.iloc[0]
    sub = report[(report["partner_id"] == first["partner_id"]) & (report["wave"] == first["wave"])]
    out = sub.melt(id_vars=["dimension_label"], value_vars=["district_mean", "partner_mean"], var_name="side",
                   value_name="score")
    out["side"] = out["side"].str.replace("_mean", "", regex=False)
    return out.rename(columns={"dimension_label": "dimension"}).reset_index(drop=True)


def gap_alt_text(report: pd.DataFrame) -> str:
    """One or two sentences describing a gap chart (its message), for screen readers."""
    if report.empty:
        return "No fit-survey answers yet: the chart is empty."
    first = report.iloc[0]
    sub = report[(report["partner_id"] == first["partner_id"]) & (report["wave"] == first["wave"])]
    valid = sub.dropna(subset=["gap"])
    text = (f"District and partner mean scores (1-5) on {len(sub)} fit dimensions for partner "
            f"{first['partner_id']}, {first['wave']} survey.")
    if valid.empty:
        return text + " No dimension has scores from both sides."
    big = valid.loc[valid["gap"].abs().idxmax()]
    flagged = int((valid["gap_flag"] == "discuss").sum())
    higher = "partner" if big["gap"] > 0 else "district"
    return (text + f" The largest gap is on {big['dimension_label'].lower()}, where the {higher} scores "
            f"{abs(big['gap']):.1f} points higher; {flagged} dimension(s) differ by 1 point or more.")


def prompts_markdown(prompts: pd.DataFrame) -> str:
    """A Markdown bullet list of discussion prompts (``prompt`` column), for notebooks and reports."""
    if prompts.empty:
        return "No dimension differs by 0.5 points or more between the two sides."
    return "\n".join(f"- {p}" for p in prompts["prompt"])
