"""``partner-analysis kpis``: the suppressed KPI comparison table, with its design, balance and analysis frame."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..exceptions import ConfigError

__all__ = ["add_parsers", "run_kpis", "PRIVATE_FOLDER", "add_engine_arguments", "engine_from_args"]

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
    _suffix(out, "--out", (".csv", ".parquet"))
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


def _data_dir(text: str):
    """A local folder as a Path; a URL (s3://...) kept as text, since Path would fold its '//'."""
    return text if "://" in text else Path(text)


def _covariates(text: str | None):
    if text is None:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def engine_from_args(args):
    """The :class:`~partner_analysis.kpi.engines.Engine` of ``--executor/--scheduler/--partitions/--partition-by``."""
    from .engines import Engine
    return Engine(executor=args.executor, scheduler=args.scheduler, partitions=args.partitions,
                  partition_by=args.partition_by, workers=args.dask_workers)


def add_engine_arguments(p) -> None:
    """The options that choose where the KPI panel is computed (docs/scale.md)."""
    from .engines import EXECUTORS, PARTITION_BY
    g = p.add_argument_group("large districts (docs/scale.md)")
    g.add_argument("--executor", default="memory", choices=EXECUTORS,
                   help="where the KPI panel is computed: in one process, by partitions of students read one at a "
                        "time from the parquet files, or by partitions on a Dask cluster; the results are identical")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask; default: a local "
                        "cluster of --dask-workers processes). Workers read DATA_DIR themselves: give a path they "
                        "share or an object-storage URL (s3://bucket/district)")
    g.add_argument("--dask-workers", type=int, default=2, help="processes of the local Dask cluster")
    g.add_argument("--partitions", type=int, default=None,
                   help="number of partitions (default: one per 8 million daily attendance rows, at least two per "
                        "Dask worker)")
    g.add_argument("--partition-by", default="students", choices=PARTITION_BY,
                   help="blocks of consecutive student ids (each reads only its row groups) or whole schools")


def _cmd_kpis(args) -> int:
    out = run_kpis(args.data_dir, term=args.term, out=args.out, partners=args.partner or None,
                   by_program=args.by_program, subgroup=args.subgroup, comparison=args.comparison,
                   kpis_path=args.kpis, design=args.design, covariates=_covariates(args.covariates),
                   balance=args.balance, analysis_frame=args.analysis_frame, engine=engine_from_args(args))
    print(f"KPI comparison table (suppressed) written to {out}")
    if args.balance:
        print(f"balance table (exact, private) written to {args.balance}")
    if args.analysis_frame:
        print(f"analysis frame (student-level, private) written to {args.analysis_frame}")
    return 0


def add_parsers(subparsers) -> None:
    """Add the ``kpis`` verb."""
    p = subparsers.add_parser(
        "kpis", help="participants vs comparison group on every KPI (suppressed table)",
        description="Compute the KPI comparison table for one term: participants of each partner vs. "
                    "non-participants in the same schools and grade levels, under a design (raw difference, "
                    "regression-adjusted for prior achievement and background, or propensity-matched), with "
                    "effect sizes, CIs, cluster-robust p-values, BH-adjusted p-values (one family per partner), "
                    "the minimum detectable effect and an evidence label, after privacy suppression.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("data_dir", type=_data_dir, help="validated DATA_DIR (with --executor stream or dask also a URL "
                                                  "such as s3://bucket/district)")
    p.add_argument("--term", required=True, help="term id, e.g. 2025-26-Q2")
    p.add_argument("--partner", action="append", default=[], help="partner id (repeat for several; default all)")
    p.add_argument("--out", type=Path, required=True, help="output TABLE.csv or TABLE.parquet")
    p.add_argument("--design", default=None, choices=["raw", "adjusted", "matched"],
                   help="impact design (default: district.yml `design`, else adjusted when a prior year exists)")
    p.add_argument("--covariates", default=None,
                   help="comma-separated covariates of adjusted/matched, e.g. prior,frl,ell,swd,gender,"
                        "race_ethnicity (default: district.yml `covariates`, else that list)")
    p.add_argument("--balance", type=Path, default=None,
                   help="also write the balance table (SMD, variance ratios) to BALANCE.csv (private)")
    p.add_argument("--analysis-frame", type=Path, default=None,
                   help="also write the student-level analysis frame to FRAME.parquet (private: refused "
                        "inside a release folder)")
    p.add_argument("--by-program", action="store_true", help="add rows per programme")
    p.add_argument("--subgroup", default=None, help="students column to disaggregate by (frl, ell, swd, gender ...)")
    p.add_argument("--comparison", default="same_school_grade", choices=["same_school_grade", "all_nonparticipants"],
                   help="who participants are compared with")
    p.add_argument("--kpis", type=Path, default=None, help="a district kpis.yml (default: DATA_DIR/kpis.yml or the "
                                                           "shipped catalog)")
    add_engine_arguments(p)
    p.set_defaults(func=_cmd_kpis)
