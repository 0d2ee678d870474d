"""``partner-analysis kpis``: the suppressed KPI comparison table, with its design, balance and analysis frame."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .publish import run_kpis

__all__ = ["add_parsers", "add_engine_arguments", "engine_from_args"]


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


def _out_file(args) -> Path:
    """``--out-file``; the old spelling ``--out FILE`` still works for one release, with a deprecation note."""
    from ..exceptions import ConfigError
    if args.out_file is not None and args.out is not None:
        raise ConfigError("pass the table's file once, as --out-file", key="--out-file")
    if args.out_file is not None:
        return args.out_file
    if args.out is None:
        raise ConfigError("kpis needs --out-file TABLE.csv or TABLE.parquet", key="--out-file",
                          fix="Write e.g. --out-file kpis_2025-26-Q2.csv")
    print("note: `kpis --out FILE` is deprecated: --out names a folder in every other verb. Use --out-file "
          f"{args.out}; --out stops working here in the next release.", file=sys.stderr)
    return args.out


def _cmd_kpis(args) -> int:
    out = run_kpis(args.data_dir, term=args.term, out=_out_file(args), partners=args.partner or None,
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
    p.add_argument("--out-file", type=Path, default=None, help="output TABLE.csv or TABLE.parquet (required)")
    p.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)  # deprecated spelling of --out-file
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
