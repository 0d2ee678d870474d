"""``partner-analysis records import|export``: CSV in and out of the records store;
``partner-analysis records-app``: the check-in and investment forms served with Voilà."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..cliargs import add_action_group, add_store_args

__all__ = ["add_parsers"]


def _context_args(p: argparse.ArgumentParser) -> None:
    add_store_args(p, data_dir_help="DATA_DIR: its district.yml gives the terms and rates, partners.parquet the "
                                    "partner list, and its records/records.sqlite is the default store")
    p.add_argument("--config", type=Path, default=None, help="district.yml (default: DATA_DIR's, else the "
                                                             "embedded default)")


def _open(args, *, create: bool = True):
    import pandas as pd

    from ..config import load_config
    from ..store import Store
    config = load_config(args.config if args.config else (args.data_dir if args.data_dir else None))
    partners = None
    if args.data_dir is not None and (Path(args.data_dir) / "partners.parquet").exists():
        partners = pd.read_parquet(Path(args.data_dir) / "partners.parquet", columns=["partner_id"])["partner_id"]
    return Store(args.db, data_dir=args.data_dir, create=create), config, partners


def _cmd_import(args) -> int:
    from .csvio import import_records
    store, config, partners = _open(args)
    try:
        result = import_records(args.path, store, config, partners=partners, kind=args.kind)
    finally:
        store.close()
    print(result.report())
    return 0


def _cmd_export(args) -> int:
    from .csvio import export_records
    store, _config, _partners = _open(args, create=False)
    try:
        written = export_records(store, args.out, partner_id=args.partner or None, term=args.term or None)
    finally:
        store.close()
    print(f"records exported to {args.out}: " + ", ".join(p.name for p in written.values()))
    return 0


def _cmd_records_app(args) -> int:
    from ..forms.voila import serving_settings
    from .app import serve_records_app
    return serve_records_app(args.db, data_dir=args.data_dir, settings=serving_settings(args, form="records"))


def _add_records_app(subparsers) -> None:
    p = subparsers.add_parser(
        "records-app", help="serve the check-in, investment and goal forms with Voila (invitation links only)",
        description="Serve notebooks/records_forms.ipynb with Voila (code hidden, no browser opened, idle kernels "
                    "culled). Only coordinators' invitation links (`partner-analysis invite create --form "
                    "records`) open it, each for its own partnerships; drafts are saved on every change and "
                    "records on Submit, in the records store.")
    add_store_args(p, data_dir_help="DATA_DIR: its district.yml gives the terms and rates, partners.parquet the "
                                    "partner list, and its records/records.sqlite is the default store")
    from ..forms.voila import add_serving_args
    add_serving_args(p, port=8867)
    p.set_defaults(func=_cmd_records_app)


def add_parsers(subparsers) -> None:
    """Add the ``records`` verb with ``import`` and ``export`` sub-verbs, and ``records-app``."""
    from .csvio import FILES
    sub = add_action_group(subparsers, "records", dest="records_verb",
                           help="import/export partnership records (investments, check-ins, goals)",
                           description="Move partnership records between CSV files and the records store.")
    p = sub.add_parser("import", help="validate CSV records and write them in one transaction",
                       description="Check every row of every file first; write nothing if anything is wrong. "
                                   f"A folder may hold {', '.join(FILES.values())}.")
    p.add_argument("path", type=Path, help="a records folder, or one CSV file")
    p.add_argument("--kind", choices=list(FILES), default=None,
                   help="kind of a single file whose name is not the standard one")
    _context_args(p)
    p.set_defaults(func=_cmd_import)
    p = sub.add_parser("export", help="write the records as CSV files",
                       description="Write the six records CSV files (importable again) and audit.csv "
                                   "(corrections of stored check-ins, old and new values) to a folder.")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--partner", action="append", help="only this partner (repeatable)")
    p.add_argument("--term", action="append", help="only investments and check-ins of this term (repeatable)")
    _context_args(p)
    p.set_defaults(func=_cmd_export)
    _add_records_app(subparsers)
