"""Fit results of a records store: submitted answers with the instrument they were given to, pooled
reliability, and the aggregates a partner's report bundle shows."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from .._io import atomic_path
from . import responses
from .gaps import discussion_prompts, gap_report, reliability
from .instrument import Instrument, default_instrument_path, read_instrument
from .scoring import fit_index, score_responses, side_scores

__all__ = ["BUNDLE_DIMENSION_COLUMNS", "cached_instrument", "instrument_for_version", "latest_wave", "load_answers",
           "pooled_reliability", "summary_for_bundle", "summaries_for_bundles", "FitScores", "score_store"]

BUNDLE_DIMENSION_COLUMNS = ["dimension", "dimension_label", "district_mean", "partner_mean", "gap", "district_band",
                            "partner_band", "gap_flag", "n_district", "n_partner"]


def cached_instrument(path: str | Path | None = None) -> Instrument:
    """``read_instrument(path, pyxform_check=False)`` (default: the shipped workbook), read once per version of
    the workbook file: a report batch asks for the same instrument for every partner. An :class:`Instrument`
    is immutable, so sharing it is safe; a changed file (size or modification time) is read again."""
    p = Path(path) if path else default_instrument_path()
    st = p.stat()
    return _read_instrument_once(str(p.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_instrument_once(path: str, size: int, mtime_ns: int) -> Instrument:
    return read_instrument(path, pyxform_check=False)


def instrument_for_version(store: Any, form_id: str, version: str, *, default: Instrument | None = None
                           ) -> Instrument:
    """The instrument a set of answers was given to.

    Uses the shipped workbook when its form_id and version match, else the workbook path the store
    recorded in ``register_instrument``.
    """
    default = default or cached_instrument()
    if default.form_id == form_id and default.version == str(version):
        return default
    frame = responses.instruments_frame(store)
    hit = frame[(frame["form_id"] == form_id) & (frame["version"].astype(str) == str(version))]
    for path in hit.get("source_path", pd.Series(dtype=object)).dropna():
        if Path(path).is_file():
            return cached_instrument(path)
    from ..exceptions import ScoringError
    raise ScoringError(f"answers were given to '{form_id}' version {version}, but that workbook is not available. "
                       "Register the instrument with its source_path, or pass the workbook")


def latest_wave(answers_long: pd.DataFrame) -> str | None:
    """The wave with the most recent submission (None when there are no answers)."""
    if answers_long.empty:
        return None
    last = answers_long.groupby("wave")["submitted_at"].max().sort_values(kind="stable")
    return str(last.index[-1])


def load_answers(store: Any, partner_id: str | None = None, *, wave: str | None = None,
                 instrument: Instrument | None = None) -> tuple[pd.DataFrame, Instrument]:
    """Submitted answers of one partner and wave, with the instrument version they were given to.

    Parameters
    ----------
    store : partner_analysis.store.Store
    partner_id : str, optional
        Default: every partner.
    wave : str, optional
        Default: the wave with the latest submission.
    instrument : Instrument, optional
        Default: the shipped instrument.

    Returns
    -------
    (DataFrame, Instrument)
        The answers (as :func:`~partner_analysis.fit.responses.answers_long`; empty when there are none) and the matching
        instrument. When one wave was answered on two versions, the newest version's answers.
    """
    instrument = instrument or cached_instrument()
    answers = responses.answers_long(store, form_id=instrument.form_id,
                                 partner_id=None if partner_id is None else str(partner_id))
    return _wave_answers(store, answers, wave=wave, instrument=instrument)


def _wave_answers(store: Any, answers: pd.DataFrame, *, wave: str | None, instrument: Instrument
                  ) -> tuple[pd.DataFrame, Instrument]:
    """:func:`load_answers` after its query: the wave's answers on the newest version, and that instrument."""
    wave = wave if wave is not None else latest_wave(answers)
    answers = answers[answers["wave"] == wave] if wave is not None else answers
    if answers.empty:
        return answers, instrument
    versions = answers["version"].astype(str).unique()
    # a wave answered on two versions: keep the newest, which is what people saw last
    newest = max(versions, key=int)
    answers = answers[answers["version"].astype(str) == newest]
    return answers, instrument_for_version(store, instrument.form_id, newest, default=instrument)


def pooled_reliability(store: Any, instrument: Instrument | None = None, *, min_n: int | None = None
                       ) -> pd.DataFrame:
    """:func:`~partner_analysis.fit.gaps.reliability` over every submitted response to this instrument version.

    All partnerships, both sides and all waves pool (``docs/methods.md#reliability-and-agreement``); see ``reliability`` for columns.
    """
    instrument = instrument or cached_instrument()
    answers = responses.answers_long(store, form_id=instrument.form_id)
    answers = answers[answers["version"].astype(str) == instrument.version]
    return reliability(answers, instrument, min_n=min_n)


def summary_for_bundle(store: Any, partner_id: str, *, wave: str | None = None,
                       instrument: Instrument | None = None) -> dict[str, pd.DataFrame]:
    """The fit-survey tables a partner's report bundle needs (aggregates only, no names).

    Parameters
    ----------
    store : partner_analysis.store.Store
    partner_id : str
    wave : str, optional
        Survey round; default the wave with the latest submission.
    instrument : Instrument, optional
        Default: the shipped instrument (or the registered workbook of the answers' version).

    Returns
    -------
    dict of DataFrame
        ``"fit_dimensions"``: dimension, dimension_label, district_mean, partner_mean, gap, district_band,
        partner_band, gap_flag, n_district, n_partner.
        ``"fit_overall"`` (one row): fit_index, band, biggest_gap_dimension, biggest_gap, wave, n_district,
        n_partner.
        ``"fit_prompts"``: :data:`PROMPT_COLUMNS` (dimension, the English prompt, its two statements and the
        top pair's gap).
        Empty frames (and a row of missing values for ``fit_overall``) when the partner has no
        submitted answers.
    """
    answers, instrument = load_answers(store, partner_id, wave=wave, instrument=instrument)
    return _bundle_tables(answers, instrument, wave)


def summaries_for_bundles(store: Any, partner_ids: Iterable[str], *, wave: str | None = None,
                          instrument: Instrument | None = None) -> Callable[[str], dict[str, pd.DataFrame]]:
    """:func:`summary_for_bundle` of many partners, the store queried once for all of them.

    The answers of all ``partner_ids`` are read now, in one query. Returns a function of a partner
    id (one of ``partner_ids``) that computes that partner's tables when asked (a report batch
    starts a partner's report as soon as its bundle exists) from its rows of that query, in their
    stored order; they equal what :func:`summary_for_bundle` returns for that partner alone.
    """
    pids = frozenset(str(p) for p in partner_ids)
    instrument = instrument or cached_instrument()
    every = responses.answers_long(store, form_id=instrument.form_id, partner_id=sorted(pids))
    rows: dict[str, list[int]] = {}
    for i, pid in enumerate(every["partner_id"].astype(str)):
        rows.setdefault(pid, []).append(i)
    chosen = {pid: _wave_answers(store, every.iloc[at].reset_index(drop=True), wave=wave, instrument=instrument)
              for pid, at in rows.items() if pid in pids}
    # The scores of every answering partner in one pass per instrument version (each is computed per
    # partner and wave, so a partner's rows are those it gets alone).
    scored: dict[str, tuple] = {}
    versions: dict[int, list[str]] = {}
    for pid, (answers, inst) in chosen.items():
        if not answers.empty:
            versions.setdefault(id(inst), []).append(pid)
    for group in versions.values():
        inst = chosen[group[0]][1]
        answers = pd.concat([chosen[pid][0] for pid in group], ignore_index=True)
        report = gap_report(answers, inst)
        overall = fit_index(side_scores(score_responses(answers, inst), inst), inst)
        for pid in group:
            scored[pid] = (_partner_rows(report, pid), _partner_rows(overall, pid))

    def summary(partner_id: str) -> dict[str, pd.DataFrame]:
        pid = str(partner_id)
        if pid not in pids:
            raise KeyError(f"partner {pid!r} was not read (not in partner_ids)")
        answers, inst = chosen.get(pid, (every.iloc[[]].reset_index(drop=True), instrument))
        report, overall = scored.get(pid, (None, None))
        return _bundle_tables(answers, inst, wave, report=report, overall=overall)

    return summary


def _partner_rows(frame: pd.DataFrame, pid: str) -> pd.DataFrame:
    return frame[frame["partner_id"].astype(str) == pid].reset_index(drop=True)


#: The bundle's fit prompts: the English sentence, and what it is made of (a report words it in its language).
PROMPT_COLUMNS = ["dimension", "prompt", "district_statement", "partner_statement", "top_pair_gap"]


def _bundle_tables(answers: pd.DataFrame, instrument: Instrument, wave: str | None, *,
                   report: pd.DataFrame | None = None, overall: pd.DataFrame | None = None
                   ) -> dict[str, pd.DataFrame]:
    """The bundle's fit tables from one partner's answers of one wave (:func:`summary_for_bundle`).

    ``report`` and ``overall`` are the partner's :func:`gap_report` and :func:`fit_index` rows when
    already computed (for many partners in one pass); computed from ``answers`` otherwise.
    """
    wave = str(answers["wave"].iloc[0]) if not answers.empty else wave
    empty_overall = pd.DataFrame([{"fit_index": float("nan"), "band": "", "biggest_gap_dimension": "",
                                   "biggest_gap": float("nan"), "wave": wave or "", "n_district": 0,
                                   "n_partner": 0}])
    if answers.empty:
        return {"fit_dimensions": pd.DataFrame(columns=BUNDLE_DIMENSION_COLUMNS), "fit_overall": empty_overall,
                "fit_prompts": pd.DataFrame(columns=PROMPT_COLUMNS)}
    report = gap_report(answers, instrument) if report is None else report
    dims = report[BUNDLE_DIMENSION_COLUMNS].reset_index(drop=True)
    if overall is None:
        overall = fit_index(side_scores(score_responses(answers, instrument), instrument), instrument)
    valid = report.dropna(subset=["gap"])
    if valid.empty:
        big_dim, big_gap = "", float("nan")
    else:
        row = valid.loc[valid["gap"].abs().idxmax()]
        big_dim, big_gap = str(row["dimension"]), float(row["gap"])
    n_resp = answers.groupby("role")["response_id"].nunique()
    fit_overall = pd.DataFrame([{"fit_index": float(overall["fit_index"].iloc[0]), "band": overall["band"].iloc[0],
                                 "biggest_gap_dimension": big_dim, "biggest_gap": big_gap, "wave": wave,
                                 "n_district": int(n_resp.get("district", 0)),
                                 "n_partner": int(n_resp.get("partner", 0))}])
    prompts = discussion_prompts(report)[PROMPT_COLUMNS]
    return {"fit_dimensions": dims, "fit_overall": fit_overall, "fit_prompts": prompts.reset_index(drop=True)}


@dataclass(frozen=True)
class FitScores:
    """Submitted answers to one instrument version, with their gap report and discussion prompts.

    Attributes
    ----------
    instrument : Instrument
    answers : DataFrame
        As :func:`~partner_analysis.fit.responses.answers_long`, this version only.
    gap_report : DataFrame
        :func:`~partner_analysis.fit.gaps.gap_report` of ``answers`` (empty when there are none).
    prompts : DataFrame
        :func:`~partner_analysis.fit.gaps.discussion_prompts` of ``gap_report``.
    """

    instrument: Instrument
    answers: pd.DataFrame
    gap_report: pd.DataFrame
    prompts: pd.DataFrame

    def write(self, out: str | Path) -> list[Path]:
        """Write ``dimension_scores.csv``, ``gap_report.csv`` and ``reliability.csv`` into the folder ``out``."""
        out = Path(out)
        tables = {"dimension_scores.csv": score_responses(self.answers, self.instrument),
                  "gap_report.csv": self.gap_report,
                  "reliability.csv": reliability(self.answers, self.instrument)}
        for name, frame in tables.items():
            with atomic_path(out / name) as tmp:
                frame.to_csv(tmp, index=False)
        return [out / name for name in tables]


def score_store(store: Any, instrument: Instrument, *, partner_id: str | None = None,
                wave: str | None = None) -> FitScores:
    """Score the submitted answers to ``instrument`` (its version only) of one partner (default all) and wave."""
    answers = responses.answers_long(store, form_id=instrument.form_id, partner_id=partner_id, wave=wave)
    answers = answers[answers["version"].astype(str) == instrument.version]
    if answers.empty:
        return FitScores(instrument, answers, pd.DataFrame(), pd.DataFrame())
    report = gap_report(answers, instrument)
    return FitScores(instrument, answers, report, discussion_prompts(report))
