"""``partner-analysis kpis``: the suppressed KPI comparison table as CSV or parquet."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..exceptions import ConfigError

__all__ = ["add_parsers", "run_kpis"]


def run_kpis(data_dir: str | Path, *, term: str, out: str | Path, partners=None, by_program: bool = False,
             subgroup: str | None = None, comparison: str = "same_school_grade", kpis_path=None) -> Path:
    """Compute the suppressed comparison table of ``data_dir`` for ``term`` and write it to ``out``.

    The format follows the suffix of ``out``: ``.csv`` or ``.parquet``.
    """
    from .catalog import load_catalog
    from ..privacy import PrivacyProfile, link_earlier_terms
    from .compare import compare_partners, compute_kpis
    from .panel import read_dataset_for_kpis

    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ConfigError(f"--out must end in .csv or .parquet, found {out.name!r}", key="--out",
                          fix="Write e.g. --out kpis_2025-26-Q2.csv")
    dataset = read_dataset_for_kpis(data_dir)
    catalog = load_catalog(kpis_path) if kpis_path else None
    arrays = compute_kpis(dataset, catalog=catalog)
    options = dict(partners=partners, by_program=by_program, subgroup=subgroup, comparison=comparison,
                   catalog=catalog, suppress=True, arrays=arrays)
    table = compare_partners(dataset, term=term, **options)
    # prev_term_* / last_year_* are published too: hidden at least as those terms' own tables hide them
    config = dataset.config
    earlier = {name: (compare_partners(dataset, term=t.id, **options) if t is not None else None)
               for name, t in (("prev_term", config.previous_term(term)),
                               ("last_year", config.same_term_last_year(term)))}
    table = link_earlier_terms(table, earlier, profile=PrivacyProfile.from_config(dict(config.privacy)))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if out.suffix.lower() == ".csv":
        table.to_csv(tmp, index=False)
    else:
        table.to_parquet(tmp, index=False)
    tmp.replace(out)
    return out


def _cmd_kpis(args) -> int:
    out = run_kpis(args.data_dir, term=args.term, out=args.out, partners=args.partner or None,
                   by_program=args.by_program, subgroup=args.subgroup, comparison=args.comparison,
                   kpis_path=args.kpis)
    print(f"KPI comparison table (suppressed) written to {out}")
    return 0


def add_parsers(subparsers) -> None:
    """Add the ``kpis`` verb."""
    p = subparsers.add_parser(
        "kpis", help="participants vs comparison group on every KPI (suppressed table)",
        description="Compute the KPI comparison table for one term: participants of each partner vs. "
                    "non-participants in the same schools and grade levels, with effect sizes, CIs, "
                    "BH-adjusted p-values and baseline equivalence, after privacy suppression.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("data_dir", type=Path, help="validated DATA_DIR")
    p.add_argument("--term", required=True, help="term id, e.g. 2025-26-Q2")
    p.add_argument("--partner", action="append", default=[], help="partner id (repeat for several; default all)")
    p.add_argument("--out", type=Path, required=True, help="output FILE.csv or FILE.parquet")
    p.add_argument("--by-program", action="store_true", help="add rows per programme")
    p.add_argument("--subgroup", default=None, help="students column to disaggregate by (frl, ell, swd, gender ...)")
    p.add_argument("--comparison", default="same_school_grade", choices=["same_school_grade", "all_nonparticipants"],
                   help="who participants are compared with")
    p.add_argument("--kpis", type=Path, default=None, help="a district kpis.yml (default: DATA_DIR/kpis.yml or the "
                                                           "shipped catalog)")
    p.set_defaults(func=_cmd_kpis)
