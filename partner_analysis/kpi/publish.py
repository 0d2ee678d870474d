"""The KPI comparison table of one term, written for release, with its private companions.

:func:`run_kpis` computes the suppressed comparison table (and, on request, the exact balance table and the
student-level analysis frame) and writes them together: each to a temporary name first, renamed only
when all were written. ``partner-analysis kpis`` is a thin shell over it.
"""
from __future__ import annotations

from pathlib import Path

from ..exceptions import ConfigError

__all__ = ["run_kpis", "PRIVATE_FOLDER"]

#: A folder of this name holds what readers get (``reports/<term>/release/``): student-level files never go there.
PRIVATE_FOLDER = "release"


def _refuse_release(path: Path, flag: str) -> None:
    if PRIVATE_FOLDER in Path(path).resolve().parts:
        raise ConfigError(f"{flag} {path} is inside a '{PRIVATE_FOLDER}' folder; it holds student-level or exact "
                          "values that must not leave the district", key=flag,
                          fix="Write it to a private folder, e.g. reports/<term>/work/")


def _suffix(path: Path, flag: str, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ConfigError(f"{flag} must end in {' or '.join(allowed)}, found {path.name!r}", key=flag,
                          fix=f"Write e.g. {flag} kpis_2025-26-Q2{allowed[0]}")
    return suffix


def _write(frame, path: Path) -> Path:
    """Write to a hidden temporary file beside ``path``; the caller renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() == ".csv":
        # full precision: an auditor re-running a model needs every digit (issue #11)
        frame.to_csv(tmp, index=False, float_format="%.17g")
    else:
        frame.to_parquet(tmp, index=False)
    return tmp


def run_kpis(data_dir: str | Path, *, term: str, out: str | Path, partners=None, by_program: bool = False,
             subgroup: str | None = None, comparison: str = "same_school_grade", kpis_path=None,
             design: str | None = None, covariates=None, balance: str | Path | None = None,
             analysis_frame: str | Path | None = None, robustness: bool = True, engine=None) -> Path:
    """Compute the suppressed comparison table of ``data_dir`` for ``term`` and write it to ``out``.

    The format follows the suffix of ``out``: ``.csv`` or ``.parquet``. The
    table carries the design's columns (``design``, ``estimate``, ``se``,
    ``mde``, ``evidence_label`` ...) and, with ``robustness``, the raw,
    adjusted and matched estimates side by side. ``balance`` (CSV/parquet)
    and ``analysis_frame`` (parquet, student-level) are private: they are
    refused inside a ``release`` folder. Every file is written to a temporary
    name first and renamed only when all of them were written. ``engine``
    (:class:`partner_analysis.kpi.engines.Engine`) says where the panel is
    computed: in memory (default), by partitions streamed on this machine, or
    on a Dask cluster; the table is the same.
    """
    from .catalog import load_catalog
    from ..privacy import PrivacyProfile, link_earlier_terms
    from .compare import compare_partners, run_comparison
    from .engines import compute_panel

    out = Path(out)
    _suffix(out, "--out-file", (".csv", ".parquet"))
    if balance is not None:
        balance = Path(balance)
        _suffix(balance, "--balance", (".csv", ".parquet"))
        _refuse_release(balance, "--balance")
    if analysis_frame is not None:
        analysis_frame = Path(analysis_frame)
        _suffix(analysis_frame, "--analysis-frame", (".parquet",))
        _refuse_release(analysis_frame, "--analysis-frame")
    catalog = load_catalog(kpis_path) if kpis_path else None
    # every term: the previous term's and last year's tables are computed too (their own designs need theirs)
    dataset, arrays = compute_panel(data_dir, engine=engine, catalog=catalog, details=False)
    options = dict(partners=partners, by_program=by_program, subgroup=subgroup, comparison=comparison,
                   catalog=catalog, suppress=True, arrays=arrays, design=design, covariates=covariates)
    result = run_comparison(dataset, term=term, robustness=robustness, balance=balance is not None,
                            frame=analysis_frame is not None, **options)
    # prev_term_* / last_year_* are published too: hidden at least as those terms' own tables hide them
    config = dataset.config
    earlier = {name: (compare_partners(dataset, term=t.id, **options) if t is not None else None)
               for name, t in (("prev_term", config.previous_term(term)),
                               ("last_year", config.same_term_last_year(term)))}
    table = link_earlier_terms(result.table, earlier, profile=PrivacyProfile.from_config(dict(config.privacy)))
    pending = [(_write(table, out), out)]
    try:
        if balance is not None:
            pending.append((_write(result.balance, balance), balance))
        if analysis_frame is not None:
            pending.append((_write(result.frame, analysis_frame), analysis_frame))
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in pending:
        tmp.replace(final)
    return out
