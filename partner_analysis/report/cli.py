"""``partner-analysis reports`` and ``partner-analysis releases``: thin verbs over :mod:`.batch` and the ledger."""
from __future__ import annotations

from pathlib import Path

__all__ = ["add_parsers"]


def _formats(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _cmd_reports(args) -> int:
    from .batch import dask_executor, run_reports

    kwargs = dict(term=args.term, out=args.out, partners=args.partner or None, workers=args.workers,
                  formats=args.format, only_failed=args.only_failed, db=args.db, timeout=args.timeout,
                  progress=not args.no_progress)
    if args.executor == "dask":
        with dask_executor(args.scheduler) as ex:
            manifest = run_reports(args.data_dir, executor=ex, **kwargs)
    else:
        manifest = run_reports(args.data_dir, **kwargs)
    n_ok = sum(r["status"] == "ok" for r in manifest.rows)
    print(f"{n_ok} of {len(manifest.rows)} reports succeeded; manifest: {manifest.json_path}")
    for r in manifest.rows:
        if r["status"] != "ok":
            cell = f", cell {r['failing_cell']}" if r.get("failing_cell") is not None else ""
            print(f"  FAILED {r['partner_id']} ({r['stage']}{cell}): {r['error']}")
    print(f"index: {manifest.index_path}")
    return 0 if manifest.ok else 1


def _cmd_releases(args) -> int:
    from .bundle import read_ledger

    frame = read_ledger(Path(args.out) / "release_ledger.jsonl")
    if args.term:
        frame = frame[frame["term"] == args.term]
    if args.partner:
        frame = frame[frame["partner_id"].isin(args.partner)]
    if args.csv:
        print(frame.to_csv(index=False), end="")
    elif not len(frame):
        print("no releases recorded")
    else:
        print(frame.to_string(index=False))
    return 0


def add_parsers(sub) -> None:
    """Add the ``reports`` and ``releases`` verbs to the main parser's sub-parsers."""
    p = sub.add_parser(
        "reports", help="run the quarterly report for every partner (HTML, executed notebook, manifest, index)",
        description="Build privacy-safe report bundles once, then run notebooks/quarterly_report.ipynb with a fresh "
                    "kernel per partner in a process pool. Writes OUT/TERM/<partner_id>.html and .ipynb, "
                    "manifest.json/.csv and index.html. Exit code 0 only when every report succeeds.")
    p.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="validated district data folder")
    p.add_argument("--term", required=True, help="term id, e.g. 2025-26-Q2")
    p.add_argument("--partner", action="append", metavar="P", help="only this partner id (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="parallel reports (default: one per core)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="output root (default: reports/)")
    p.add_argument("--format", type=_formats, default=("html",), metavar="html[,pdf]",
                   help="outputs: html (always), pdf (tagged, needs system Chromium)")
    p.add_argument("--only-failed", action="store_true", help="re-run only partners that failed last time")
    p.add_argument("--timeout", type=float, default=300, help="seconds allowed per notebook cell (default 300)")
    p.add_argument("--db", default=None, help="records store URL/path (default DATA_DIR/records/records.sqlite)")
    p.add_argument("--executor", choices=("process", "dask"), default="process",
                   help="process pool on this machine (default) or a dask.distributed cluster")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="dask scheduler address (with --executor dask; default: a local cluster)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_reports)

    p = sub.add_parser("releases", help="list the release ledger (what was published, when, with which hash)",
                       description="List the release ledger: term, partner, table, content hash, suppression "
                                   "profile and date of every released table.")
    p.add_argument("--out", type=Path, default=Path("reports"), help="report output root holding the ledger")
    p.add_argument("--term", default=None, help="only this term")
    p.add_argument("--partner", action="append", metavar="P", help="only this partner (repeatable)")
    p.add_argument("--csv", action="store_true", help="print CSV")
    p.set_defaults(func=_cmd_releases)
